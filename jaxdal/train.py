"""Training: the train state, jitted steps, and one epoch loop (`fit_group`)
for any number of seeds, with the paper's stopping rule.

Steps gather their batch from the device-resident training arrays by index,
so every step sees the shapes `[B]` (indices) and `[B]` (mask) whatever the
labeled-set size: each step function compiles once per run.

A `Stepper` says how a group of S seeds' states is carried and stepped:
`one_seed(trainer)` steps one state with the plain jitted step (what `fit`
uses); `jaxdal.seeds.together` stacks S states and steps them with one
`jax.vmap`-ed step. `fit_group` and `jaxdal.evaluation.evaluate_group` are
the only epoch loop and evaluation loop, so one seed and many cannot drift
apart.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from jaxdal import diagnostics, faults, losses, optim, sharding
from jaxdal.data.augment import flip_and_crop
from jaxdal.data.batching import epoch_batches
from jaxdal.evaluation import evaluate_group
from jaxdal.initialisation import init_variables, warm_init
from jaxdal.models.rngs import rngs_for
from jaxdal.stopping import FitResult, StoppingRule

__all__ = ["Stepper", "TrainState", "Trainer", "eval_step", "evaluate", "fit",
           "fit_group", "init_state", "init_variables", "logits_step",
           "make_trainer", "one_seed", "set_learning_rate", "train_step",
           "warm_init"]


class TrainState(NamedTuple):
  """Everything that changes during training; a pytree.

  Attributes:
    params: model parameters.
    model_state: other variable collections (e.g. {"batch_stats": ...}).
    opt_state: optimiser state (hyperparameters injected, so the learning
      rate can change without recompiling).
    step: int32 `[]` steps taken.
  """
  params: Any
  model_state: dict
  opt_state: Any
  step: jax.Array


def set_learning_rate(state: TrainState, lr) -> TrainState:
  """`state` with its injected learning rate set to `lr`; unchanged for
  `lr` None (a plain optimiser keeps its own rate)."""
  if lr is None:
    return state
  if not hasattr(state.opt_state, "hyperparams"):
    raise ValueError(
        f"learning_rate={float(lr)!r} needs an optimizer with an injected "
        f"learning rate (optax.inject_hyperparams(optax.adam)("
        f"learning_rate=...)); a plain optimizer such as optax.adam(1e-3) "
        f"keeps its own: leave learning_rate unset (None)")
  return state._replace(opt_state=optim.set_learning_rate(state.opt_state,
                                                          lr))


def init_state(model: nn.Module, tx: optax.GradientTransformation,
               key: jax.Array, input_shape: tuple[int, ...]) -> TrainState:
  """Fresh parameters from `key` for inputs of shape `input_shape`."""
  variables = init_variables(model, key, input_shape)
  params = variables.pop("params")
  return TrainState(params=params, model_state=variables,
                    opt_state=tx.init(params),
                    step=jnp.asarray(0, jnp.int32))


def train_step(state: TrainState, x_all: jax.Array, y_all: jax.Array,
               idx: jax.Array, mask: jax.Array, key: jax.Array,
               n_train: jax.Array, *, loss_fn: Callable,
               tx: optax.GradientTransformation, augment: bool = False):
  """One optimiser step on the masked batch `x_all[idx]`.

  Args:
    state: current `TrainState`.
    x_all: `[N, ...]` training inputs (device-resident).
    y_all: `[N]` int labels.
    idx: `[B]` int32 batch indices into `x_all`.
    mask: `[B]` bool, False for padding rows (they add nothing to the loss).
    key: the step's key (dropout and architecture sampling).
    n_train: float `[]`, the N that KL terms are divided by.
    loss_fn: `(params, model_state, x, y, weights, key, n_train) ->
      (loss, aux)`, e.g. `losses.cross_entropy_loss(model)`.
    tx: the optimiser.
    augment: random flips and 4-pixel crops of the batch (key
      `fold_in(key, 2)`); scoring and evaluation never augment.

  Returns:
    `(new_state, {"loss", "correct", "count"})`.
  """
  x, y = x_all[idx], y_all[idx]
  if augment:
    x = flip_and_crop(jax.random.fold_in(key, 2), x)
  weights = mask.astype(jnp.float32)

  def objective(params):
    return loss_fn(params, state.model_state, x, y, weights, key, n_train)

  (loss, aux), grads = jax.value_and_grad(objective, has_aux=True)(
      state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  correct = ((aux["logits"].argmax(-1) == y) * weights).sum()
  new_state = TrainState(params, dict(aux["model_state"]), opt_state,
                         state.step + 1)
  return new_state, {"loss": loss, "correct": correct,
                     "count": weights.sum()}


def eval_step(state: TrainState, x_all: jax.Array, y_all: jax.Array,
              idx: jax.Array, mask: jax.Array, key: jax.Array, *,
              model: nn.Module):
  """Correct predictions (inference mode) among `x_all[idx][mask]`.

  `key` feeds models whose inference is itself sampled (Depth-Dropout).
  """
  logits, _ = model.apply({"params": state.params, **state.model_state},
                          x_all[idx], train=False, rngs=rngs_for(key))
  return ((logits.argmax(-1) == y_all[idx]) & mask).sum()


def logits_step(state: TrainState, x_all: jax.Array, idx: jax.Array,
                key: jax.Array, *, model: nn.Module) -> jax.Array:
  """`[B, C]` logits (inference mode) of `x_all[idx]`, the values whose
  argmax `eval_step` counts; `key` as `eval_step`'s."""
  logits, _ = model.apply({"params": state.params, **state.model_state},
                          x_all[idx], train=False, rngs=rngs_for(key))
  return logits


class Trainer(NamedTuple):
  """The jitted step functions of one model and optimiser, built once a run."""
  model: nn.Module
  tx: optax.GradientTransformation
  train_step: Callable
  eval_step: Callable
  logits_step: Callable | None = None


def make_trainer(model: nn.Module, tx: optax.GradientTransformation,
                 loss_fn: Callable | None = None, *,
                 augment: bool = False) -> Trainer:
  """Binds model, loss and optimiser into jitted `train_step`/`eval_step`.

  `loss_fn` defaults to `losses.cross_entropy_loss(model)`; `augment` turns
  on flip-and-crop augmentation of training batches.
  """
  loss_fn = losses.cross_entropy_loss(model) if loss_fn is None else loss_fn
  # Donation saves a copy of the state on accelerators; XLA:CPU ignores it
  # with a warning, so it is only asked for elsewhere.
  donate = () if jax.default_backend() == "cpu" else (0,)
  return Trainer(
      model=model,
      tx=tx,
      train_step=jax.jit(functools.partial(train_step, loss_fn=loss_fn,
                                           tx=tx, augment=augment),
                         donate_argnums=donate),
      eval_step=jax.jit(functools.partial(eval_step, model=model)),
      logits_step=jax.jit(functools.partial(logits_step, model=model)),
  )


class Stepper(NamedTuple):
  """How a group of S seeds' train states is carried and stepped.

  Host arrays carry a leading seed axis `[S, ...]`; the carried value is
  whatever the stepper keeps on device (one state, or S stacked states).

  Attributes:
    gather: `states (S of them) -> carried`.
    scatter: `(carried, S) -> states`.
    prepare: `(roots (S keys), n_train) -> (roots, n_train)` as the steps
      take them (once per fit).
    begin_epoch: `(carried, lr, active bool [S]) -> (carried, live)`:
      the epoch's learning rate set for the active seeds; `live` is what
      `train` takes for `active`.
    train: `(carried, x_all, y_all, idx [S, B], mask [S, B], roots, step,
      n_train, live) -> (carried, (correct, count, loss))`, seed s
      stepping with the key `fold_in(roots[s], step)`; each `[S]` or `[]`
      (loss: the batch's mean over its real rows).
    evaluate: `(carried, x_all, y_all, idx [S, B], mask [S, B], key) ->
      correct` `[S]` or `[]`.
  """
  gather: Callable
  scatter: Callable
  prepare: Callable
  begin_epoch: Callable
  train: Callable
  evaluate: Callable


def one_seed(trainer: Trainer) -> Stepper:
  """The `Stepper` of a single state and `trainer`'s plain jitted steps."""
  def gather(states):
    (state,) = states
    return state

  def prepare(roots, n_train):
    (root,) = roots
    return root, jnp.asarray(n_train, jnp.float32)

  def train(state, x_all, y_all, idx, mask, root, step, n_train, live):
    del live  # One seed trains until the loop stops.
    idx, mask = sharding.sharded_batch(idx[0], mask[0])
    state, out = trainer.train_step(state, x_all, y_all, idx, mask,
                                    jax.random.fold_in(root, step), n_train)
    return state, (out["correct"], out["count"], out["loss"])

  def evaluate(state, x_all, y_all, idx, mask, key):
    idx, mask = sharding.sharded_batch(idx[0], mask[0])
    return trainer.eval_step(state, x_all, y_all, idx, mask, key)

  return Stepper(
      gather=gather, scatter=lambda state, n: [state], prepare=prepare,
      begin_epoch=lambda state, lr, active: (set_learning_rate(state, lr),
                                             None),
      train=train,
      evaluate=evaluate)


def evaluate(trainer: Trainer, state: TrainState, x_all: jax.Array,
             y_all: jax.Array, indices: np.ndarray, *,
             chunk: int = 512, key: jax.Array | None = None) -> float:
  """Accuracy of `state` on `x_all[indices]` (`evaluate_group` of one)."""
  return evaluate_group(one_seed(trainer), state, x_all, y_all, [indices],
                        chunk=chunk, key=key)[0]


def fit_group(
    stepper: Stepper,
    states: Sequence[TrainState],
    x_all: jax.Array,
    y_all: jax.Array,
    train_idx: Sequence[np.ndarray],
    val_idx: Sequence[np.ndarray],
    keys: Sequence[jax.Array],
    *,
    batch_size: int,
    max_epochs: int,
    learning_rate: float | None = None,
    patience: int = 10,
    target_train_accuracy: float | None = 0.99,
    schedule: str = "cosine",
    n_train: float | None = None,
    eval_chunk: int = 512,
    progress: bool = True,
) -> list[tuple[TrainState, FitResult]]:
  """Trains S seeds on `x_all[train_idx[s]]`, each with the paper's rule.

  Seed s stops when its epoch's training accuracy reaches
  `target_train_accuracy` (None: never), when its validation accuracy has
  not improved for `patience` epochs, or after `max_epochs`; a stopped seed
  is frozen while the others go on. Its epoch e shuffles with
  `fold_in(fold_in(keys[s], 0), e)` and its step t uses the key
  `fold_in(fold_in(keys[s], 1), t)`. All `train_idx[s]` (and all
  `val_idx[s]`) have one length.

  `schedule` sets the per-epoch learning rate (`optim.scheduled_lr`) of
  an optimiser with an injected one; `learning_rate` None leaves a plain
  optax optimiser's own rate (and schedule) alone;
  `n_train` (default: the number of training examples) is what KL terms
  divide by.

  Returns:
    `[(final_state, FitResult)]`, one per seed.
  """
  n_seeds = len(states)
  if len({len(i) for i in train_idx}) != 1 or len(
      {len(i) for i in val_idx}) != 1:
    raise ValueError("seeds trained together need equally many training "
                     "(and validation) examples, got "
                     f"{[len(i) for i in train_idx]} and "
                     f"{[len(i) for i in val_idx]}")
  carried = sharding.replicated(stepper.gather(states))
  roots, n_train = stepper.prepare(
      [jax.random.fold_in(k, 1) for k in keys],
      len(train_idx[0]) if n_train is None else n_train)
  shuffle_roots = [jax.random.fold_in(k, 0) for k in keys]
  rules = [StoppingRule(target_train_accuracy, patience,
                        has_validation=len(val_idx[0]) > 0)
           for _ in range(n_seeds)]
  done: list[FitResult | None] = [None] * n_seeds
  active = np.ones(n_seeds, bool)
  step = 0
  # disable=None: bars only on a terminal, not in logs.
  desc = "train" if n_seeds == 1 else f"train x{n_seeds} seeds"
  epochs = tqdm(range(max_epochs), desc=desc, unit="epoch", leave=False,
                disable=None if progress else True)
  for epoch in epochs:
    carried, live = stepper.begin_epoch(
        carried, None if learning_rate is None else optim.scheduled_lr(
            schedule, learning_rate, epoch, max_epochs), active)
    # Under a mesh the new learning rate lands on one device: replicated
    # again, so the step sees one input sharding all run (one compile).
    carried = sharding.replicated(carried)
    per_seed = [epoch_batches(jax.random.fold_in(root, epoch), idx,
                              batch_size, x_all.shape[0])
                for root, idx in zip(shuffle_roots, train_idx, strict=True)]
    outs = []
    for b in range(len(per_seed[0][0])):
      idx = np.stack([batches[b] for batches, _ in per_seed])
      mask = np.stack([masks[b] for _, masks in per_seed])
      diagnostics.mark("first_train_step")
      carried, out = stepper.train(carried, x_all, y_all, idx, mask, roots,
                                   step, n_train, live)
      outs.append(out)
      step += 1
    # Summed on the host: an eager add would compile anew for each count.
    per_step = np.asarray(jax.device_get(outs)).reshape(len(outs), 3,
                                                        n_seeds)
    correct, count = np.sum(per_step[:, :2], axis=0)
    losses = (per_step[:, 2].astype(np.float64)
              * per_step[:, 1]).sum(0) / count
    val_acc = evaluate_group(stepper, carried, x_all, y_all, val_idx,
                             chunk=eval_chunk)
    for s in np.flatnonzero(active):
      train_acc = float(correct[s]) / float(count[s])
      reason = ("diverged" if not np.isfinite(losses[s])
                else rules[s].update(train_acc, val_acc[s]))
      if reason is not None or epoch == max_epochs - 1:
        done[s] = rules[s].result(epoch + 1, train_acc, val_acc[s],
                                  reason or "max_epochs", step,
                                  float(losses[s]))
        active[s] = False
    if n_seeds == 1 and done[0] is None:
      epochs.set_postfix(train=f"{train_acc:.3f}", val=f"{val_acc[0]:.3f}")
    elif n_seeds > 1:
      epochs.set_postfix(active=int(active.sum()))
    faults.kill_point("train_epoch")
    if not active.any():
      break
  epochs.close()
  return list(zip(stepper.scatter(carried, n_seeds), done, strict=True))


def fit(trainer: Trainer, state: TrainState, x_all: jax.Array,
        y_all: jax.Array, train_idx: np.ndarray, val_idx: np.ndarray,
        key: jax.Array, **kwargs) -> tuple[TrainState, FitResult]:
  """Trains one state on `train_idx` with the paper's stopping rule.

  `fit_group` of one seed; keyword arguments as there.

  Returns:
    `(final_state, FitResult)`.
  """
  return fit_group(one_seed(trainer), [state], x_all, y_all, [train_idx],
                   [val_idx], [key], **kwargs)[0]
