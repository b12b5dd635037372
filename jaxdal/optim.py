"""Optimisers and per-epoch learning-rate schedules.

Every optimiser has its learning rate injected (`optax.inject_hyperparams`),
so a schedule sets it between epochs without recompiling a step.
"""

import math

import jax
import jax.numpy as jnp
import optax

from jaxdal.registry import Registry

__all__ = ["OPTIMIZERS", "SCHEDULES", "WARMUP", "cosine_lr", "make_optimizer",
           "scheduled_lr", "set_learning_rate", "warmup_linear"]


def _sgd(learning_rate, *, momentum, weight_decay):
  # L2 weight decay added to the gradient, as DISTIL's torch.optim.SGD.
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum))


def _adam(learning_rate, *, momentum, weight_decay):
  del momentum  # Adam's moments have their own decay rates.
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.adam(learning_rate))


def _adamw(learning_rate, *, momentum, weight_decay):
  del momentum
  # Decoupled weight decay, as torch.optim.AdamW (the paper's text runs).
  return optax.adamw(learning_rate, weight_decay=weight_decay)


OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register("sgd", _sgd)
OPTIMIZERS.register("adam", _adam)
OPTIMIZERS.register("adamw", _adamw)


def make_optimizer(name: str, *, learning_rate: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> optax.GradientTransformation:
  """SGD (momentum, L2 weight decay) or Adam, with an injectable lr.

  >>> tx = make_optimizer("sgd", learning_rate=0.1)
  >>> round(float(tx.init({"w": jnp.zeros(2)}).hyperparams["learning_rate"]),
  ...       6)
  0.1
  """
  build = OPTIMIZERS.get(name)
  return optax.inject_hyperparams(
      lambda learning_rate: build(learning_rate, momentum=momentum,
                                  weight_decay=weight_decay))(
                                      learning_rate=learning_rate)


def cosine_lr(base, epoch, max_epochs):
  """Per-epoch cosine annealing to 0 over `max_epochs` (torch's T_max):
  `base / 2 * (1 + cos(pi * epoch / max_epochs))`.

  A host float for a Python `epoch`; a traced value for a traced one (an
  optax schedule of the step count).
  """
  cos = jnp.cos if isinstance(epoch, jax.Array) else math.cos
  return 0.5 * base * (1.0 + cos(math.pi * epoch / max_epochs))


def _constant(base, epoch, max_epochs):
  del epoch, max_epochs
  return base


def _multistep(base, epoch, max_epochs):
  # The BBDropout code's MultiStepLR: x0.1 at 50% and 80% of the epochs.
  drops = sum(epoch >= int(f * max_epochs) for f in (0.5, 0.8))
  return base * 0.1 ** drops


WARMUP = 0.05  # share of a round's steps spent warming up (text runs)


def _warmup_integral(t: float, w: float) -> float:
  """Integral over [0, t] of the linear warm-up (to 1 at w) then linear
  decay (to 0 at 1) factor."""
  if t <= w:
    return t * t / (2 * w)
  return w / 2 + ((t - t * t / 2) - (w - w * w / 2)) / (1 - w)


def warmup_linear(base, epoch, max_epochs):
  """Linear warm-up over the first 5% of a round's steps, then linear decay
  to 0 (transformers' `get_linear_schedule_with_warmup`, as the paper's
  text runs use), as one learning rate per epoch: the epoch's mean of the
  per-step schedule, which depends only on the epoch's share of the round
  (the loop sets learning rates between epochs).

  >>> [round(warmup_linear(1.0, e, 5), 3) for e in range(5)]
  [0.816, 0.737, 0.526, 0.316, 0.105]
  """
  a, b = epoch / max_epochs, (epoch + 1) / max_epochs
  return base * (_warmup_integral(b, WARMUP)
                 - _warmup_integral(a, WARMUP)) * max_epochs


SCHEDULES = Registry("schedule")
SCHEDULES.register("cosine", cosine_lr)
SCHEDULES.register("constant", _constant)
SCHEDULES.register("multistep", _multistep)
SCHEDULES.register("warmup_linear", warmup_linear)


def scheduled_lr(schedule: str, base: float, epoch: int,
                 max_epochs: int) -> float:
  """Learning rate of `epoch` under `schedule` (see `SCHEDULES`).

  >>> scheduled_lr("multistep", 1.0, 8, 10)
  0.010000000000000002
  """
  return SCHEDULES.get(schedule)(base, epoch, max_epochs)


def set_learning_rate(opt_state, lr):
  """`opt_state` of an injected optimiser with its learning rate set to
  `lr` (a float, or an array for several seeds' stacked states)."""
  hyper = dict(opt_state.hyperparams)
  hyper["learning_rate"] = jnp.asarray(lr, jnp.float32)
  return opt_state._replace(hyperparams=hyper)
