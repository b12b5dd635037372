"""One round of training: train state, jitted steps and `fit()` with stopping.

Steps gather their batch from the device-resident training arrays by index,
so every step sees the shapes `[B]` (indices) and `[B]` (mask) whatever the
labeled-set size: each step function compiles once per run.
"""

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxdal.data.augment import flip_and_crop
from jaxdal.data.batching import epoch_batches, padded_chunks


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


OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name: str, *, learning_rate: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> optax.GradientTransformation:
  """SGD (momentum, L2 weight decay as in DISTIL) or Adam, lr injectable."""
  if name == "sgd":
    def build(learning_rate):
      return optax.chain(optax.add_decayed_weights(weight_decay),
                         optax.sgd(learning_rate, momentum=momentum))
  elif name == "adam":
    def build(learning_rate):
      return optax.chain(optax.add_decayed_weights(weight_decay),
                         optax.adam(learning_rate))
  else:
    raise ValueError(f"unknown optimizer {name!r}; valid: "
                     f"{', '.join(OPTIMIZERS)}")
  return optax.inject_hyperparams(build)(learning_rate=learning_rate)


def cosine_lr(base: float, epoch: int, max_epochs: int) -> float:
  """Per-epoch cosine annealing to 0 over `max_epochs` (torch's T_max)."""
  return 0.5 * base * (1.0 + math.cos(math.pi * epoch / max_epochs))


SCHEDULES = ("cosine", "constant", "multistep")


def scheduled_lr(schedule: str, base: float, epoch: int,
                 max_epochs: int) -> float:
  """Learning rate of `epoch`: cosine to 0, constant, or x0.1 at 50% and
  80% of `max_epochs` (the BBDropout code's MultiStepLR)."""
  if schedule == "cosine":
    return cosine_lr(base, epoch, max_epochs)
  if schedule == "constant":
    return base
  if schedule == "multistep":
    drops = sum(epoch >= int(f * max_epochs) for f in (0.5, 0.8))
    return base * 0.1 ** drops
  raise ValueError(f"unknown schedule {schedule!r}; valid: "
                   f"{', '.join(SCHEDULES)}")


def rngs_for(key: jax.Array) -> dict:
  """The rng streams every model gets: `dropout`, and `arch` for sampled
  architectures (gates, structure masks)."""
  return {"dropout": jax.random.fold_in(key, 0),
          "arch": jax.random.fold_in(key, 1)}


def cross_entropy_loss(model: nn.Module) -> Callable:
  """The plain classification loss, as a method loss function.

  Returns `loss_fn(params, model_state, x, y, weights, key, n_train) ->
  (loss, aux)` with `aux = {"logits", "model_state"}`; `weights` are 0 for
  padding rows, `n_train` is unused here (KL terms of architecture methods
  divide by it).
  """
  def loss_fn(params, model_state, x, y, weights, key, n_train):
    del n_train
    (logits, _), new_state = model.apply(
        {"params": params, **model_state}, x, train=True, rngs=rngs_for(key),
        mutable=list(model_state))
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    loss = (ce * weights).sum() / jnp.maximum(weights.sum(), 1.0)
    return loss, {"logits": logits, "model_state": dict(new_state)}

  return loss_fn


def set_learning_rate(state: TrainState, lr: float) -> TrainState:
  hyper = dict(state.opt_state.hyperparams)
  hyper["learning_rate"] = jnp.asarray(lr, jnp.float32)
  return state._replace(opt_state=state.opt_state._replace(hyperparams=hyper))


def init_state(model: nn.Module, tx: optax.GradientTransformation,
               key: jax.Array, input_shape: tuple[int, ...]) -> TrainState:
  """Fresh parameters from `key` for inputs of shape `input_shape`."""
  variables = model.init({"params": key, **rngs_for(key)},
                         jnp.zeros((1, *input_shape), jnp.float32))
  variables = dict(variables)
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
    x_all: `[N, H, W, C]` training inputs (device-resident).
    y_all: `[N]` int labels.
    idx: `[B]` int32 batch indices into `x_all`.
    mask: `[B]` bool, False for padding rows (they add nothing to the loss).
    key: the step's key (dropout and architecture sampling).
    n_train: float `[]`, the N that KL terms are divided by.
    loss_fn: `(params, model_state, x, y, weights, key, n_train) ->
      (loss, aux)`, e.g. `cross_entropy_loss(model)`.
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


class Trainer(NamedTuple):
  """The jitted step functions of one model and optimiser, built once a run."""
  model: nn.Module
  tx: optax.GradientTransformation
  train_step: Callable
  eval_step: Callable


def make_trainer(model: nn.Module, tx: optax.GradientTransformation,
                 loss_fn: Callable | None = None, *,
                 augment: bool = False) -> Trainer:
  """Binds model, loss and optimiser into jitted `train_step`/`eval_step`.

  `loss_fn` defaults to `cross_entropy_loss(model)`; `augment` turns on
  flip-and-crop augmentation of training batches.
  """
  loss_fn = cross_entropy_loss(model) if loss_fn is None else loss_fn
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
  )


EVAL_KEY = 0x5EED


def eval_chunk_size(n: int, chunk: int) -> int:
  """Rows per evaluation call: `chunk`, or for a small split (a capped
  validation set) its size rounded up to a multiple of 64."""
  return min(chunk, -(-n // 64) * 64)


def evaluate(trainer: Trainer, state: TrainState, x_all: jax.Array,
             y_all: jax.Array, indices: np.ndarray, *,
             chunk: int = 512, key: jax.Array | None = None) -> float:
  """Accuracy of `state` on `x_all[indices]` in fixed-size chunks.

  `key` (default: a fixed key) drives sampled inference; chunk i uses
  `fold_in(key, i)`.
  """
  if len(indices) == 0:
    return float("nan")
  key = jax.random.key(EVAL_KEY) if key is None else key
  chunks, masks = padded_chunks(indices, eval_chunk_size(len(indices), chunk))
  correct = [trainer.eval_step(state, x_all, y_all, c, m,
                               jax.random.fold_in(key, i))
             for i, (c, m) in enumerate(zip(chunks, masks, strict=True))]
  return float(np.sum(jax.device_get(correct))) / len(indices)


class FitResult(NamedTuple):
  """What `fit` did: epochs run, final accuracies and why it stopped."""
  epochs: int
  train_accuracy: float
  val_accuracy: float
  best_val_accuracy: float
  stop_reason: str
  steps: int


class StoppingRule:
  """The paper's stopping rule, fed one epoch at a time: stop when training
  accuracy reaches `target_train_accuracy`, or after `patience` epochs
  without a new best validation accuracy (if there is validation data)."""

  def __init__(self, target_train_accuracy: float, patience: int, *,
               has_validation: bool):
    self.target = target_train_accuracy
    self.patience = patience
    self.has_validation = has_validation
    self.best_val, self.since_best = -1.0, 0

  def update(self, train_acc: float, val_acc: float) -> str | None:
    """The reason to stop after this epoch, or None to go on."""
    if train_acc >= self.target:
      return "train_accuracy"
    if self.has_validation:
      if val_acc > self.best_val:
        self.best_val, self.since_best = val_acc, 0
      else:
        self.since_best += 1
        if self.since_best >= self.patience:
          return "patience"
    return None

  def result(self, epochs: int, train_acc: float, val_acc: float,
             reason: str, steps: int) -> "FitResult":
    return FitResult(epochs=epochs, train_accuracy=train_acc,
                     val_accuracy=val_acc,
                     best_val_accuracy=max(self.best_val, val_acc),
                     stop_reason=reason, steps=steps)


def fit(
    trainer: Trainer,
    state: TrainState,
    x_all: jax.Array,
    y_all: jax.Array,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    key: jax.Array,
    *,
    batch_size: int,
    max_epochs: int,
    learning_rate: float,
    patience: int,
    target_train_accuracy: float = 0.99,
    schedule: str = "cosine",
    n_train: float | None = None,
    eval_chunk: int = 512,
    progress: bool = True,
) -> tuple[TrainState, FitResult]:
  """Trains on `train_idx` with the paper's stopping rule.

  Stops when the epoch's training accuracy reaches `target_train_accuracy`,
  when validation accuracy has not improved for `patience` epochs, or after
  `max_epochs`. Epoch e shuffles with `fold_in(fold_in(key, 0), e)`; step s
  of the round uses the key `fold_in(fold_in(key, 1), s)`.

  `schedule` sets the per-epoch learning rate (`scheduled_lr`); `n_train`
  (default: the number of training examples) is what KL terms divide by.

  Returns:
    `(final_state, FitResult)`.
  """
  n_train = jnp.asarray(len(train_idx) if n_train is None else n_train,
                        jnp.float32)
  shuffle_root = jax.random.fold_in(key, 0)
  dropout_root = jax.random.fold_in(key, 1)
  rule = StoppingRule(target_train_accuracy, patience,
                      has_validation=len(val_idx) > 0)
  step = 0
  train_acc = val_acc = float("nan")
  reason = "max_epochs"
  # disable=None: bars only on a terminal, not in logs.
  epochs = tqdm(range(max_epochs), desc="train", unit="epoch", leave=False,
                disable=None if progress else True)
  epoch = -1
  for epoch in epochs:
    state = set_learning_rate(
        state, scheduled_lr(schedule, learning_rate, epoch, max_epochs))
    batches, masks = epoch_batches(jax.random.fold_in(shuffle_root, epoch),
                                   train_idx, batch_size, x_all.shape[0])
    outs = []
    for b, m in zip(batches, masks, strict=True):
      state, out = trainer.train_step(
          state, x_all, y_all, b, m, jax.random.fold_in(dropout_root, step),
          n_train)
      outs.append((out["correct"], out["count"]))
      step += 1
    # Summed on the host: an eager add would compile anew for each count.
    correct, count = np.sum(jax.device_get(outs), axis=0)
    train_acc = float(correct) / float(count)
    val_acc = evaluate(trainer, state, x_all, y_all, val_idx,
                       chunk=eval_chunk)
    epochs.set_postfix(train=f"{train_acc:.3f}", val=f"{val_acc:.3f}")
    stop = rule.update(train_acc, val_acc)
    if stop is not None:
      reason = stop
      break
  epochs.close()
  return state, rule.result(epoch + 1, train_acc, val_acc, reason, step)
