"""Optimisers and per-epoch learning-rate schedules.

Every optimiser has its learning rate injected (`optax.inject_hyperparams`),
so a schedule sets it between epochs without recompiling a step.
"""

import math

import jax
import jax.numpy as jnp
import optax

from jaxdal.registry import Registry


def _sgd(learning_rate, *, momentum, weight_decay):
  # L2 weight decay added to the gradient, as DISTIL's torch.optim.SGD.
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.sgd(learning_rate, momentum=momentum))


def _adam(learning_rate, *, momentum, weight_decay):
  del momentum  # Adam's moments have their own decay rates.
  return optax.chain(optax.add_decayed_weights(weight_decay),
                     optax.adam(learning_rate))


OPTIMIZERS = Registry("optimizer")
OPTIMIZERS.register("sgd", _sgd)
OPTIMIZERS.register("adam", _adam)


def make_optimizer(name: str, *, learning_rate: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> optax.GradientTransformation:
  """SGD (momentum, L2 weight decay) or Adam, with an injectable lr.

  >>> tx = make_optimizer("sgd", learning_rate=0.1)
  >>> float(tx.init({"w": jnp.zeros(2)}).hyperparams["learning_rate"])
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


SCHEDULES = Registry("schedule")
SCHEDULES.register("cosine", cosine_lr)
SCHEDULES.register("constant", _constant)
SCHEDULES.register("multistep", _multistep)


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
