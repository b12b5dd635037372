"""Several seeds of one configuration trained together: the train states are
stacked on a leading seed axis `[S, ...]` and one `jax.vmap`-ed step moves
them all.

Each seed keeps its own batches, keys and stopping rule; a seed that has
stopped is frozen (`where(active, new, old)`) while the others go on, so
`fit_seeds` gives every seed what `train.fit` gives it alone, up to
floating-point rounding of the batched operations.
"""

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxdal import train as train_lib
from jaxdal.data.batching import epoch_batches, padded_chunks
from jaxdal.models.conv import per_seed_convolutions


def stack(trees: Sequence) -> object:
  """`S` pytrees of equal structure -> one pytree with leaves `[S, ...]`."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree, n: int) -> list:
  """Inverse of `stack`: the `n` pytrees along the leading axis."""
  return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(n)]


class SeedTrainer(NamedTuple):
  """Jitted, seed-vmapped steps of one model and optimiser.

  train_step(states [S], x_all, y_all, idx [S, B], mask [S, B], roots [S],
  step, n_train [S], active bool [S]) -> (states, {"correct", "count"}
  [S]); seed s steps with the key `fold_in(roots[s], step)`.
  eval_step(states [S], x_all, y_all, idx [S, B], mask [S, B], key) ->
  correct [S].
  """
  train_step: Callable
  eval_step: Callable


def make_seed_trainer(model: nn.Module, tx: optax.GradientTransformation,
                      loss_fn: Callable | None = None, *,
                      augment: bool = False) -> SeedTrainer:
  """`train.make_trainer`'s steps, vmapped over a leading seed axis.

  Convolutions run once per seed inside the vmapped step
  (`models.conv.per_seed_convolutions`): vmap would otherwise turn a
  convolution with a batched kernel into a grouped convolution, several
  times slower on XLA:CPU.
  """
  loss_fn = train_lib.cross_entropy_loss(model) if loss_fn is None else loss_fn
  step = functools.partial(train_lib.train_step, loss_fn=loss_fn, tx=tx,
                           augment=augment)

  def step_if_active(state, x_all, y_all, idx, mask, root, step_index,
                     n_train, active):
    key = jax.random.fold_in(root, step_index)
    new, out = step(state, x_all, y_all, idx, mask, key, n_train)
    new = jax.tree.map(lambda n, o: jnp.where(active, n, o), new, state)
    return new, {"correct": out["correct"], "count": out["count"]}

  def seeds_step(*args):
    with per_seed_convolutions():
      return jax.vmap(step_if_active,
                      in_axes=(0, None, None, 0, 0, 0, None, 0, 0))(*args)

  def seeds_eval(*args):
    with per_seed_convolutions():
      return jax.vmap(functools.partial(train_lib.eval_step, model=model),
                      in_axes=(0, None, None, 0, 0, None))(*args)

  return SeedTrainer(train_step=jax.jit(seeds_step),
                     eval_step=jax.jit(seeds_eval))


def evaluate_seeds(trainer: SeedTrainer, states, x_all: jax.Array,
                   y_all: jax.Array, indices: Sequence[np.ndarray], *,
                   chunk: int = 512) -> list[float]:
  """Per-seed accuracy on `x_all[indices[s]]` (equal lengths), chunked as
  `train.evaluate` chunks, with its keys."""
  n = len(indices[0])
  if n == 0:
    return [float("nan")] * len(indices)
  chunk = train_lib.eval_chunk_size(n, chunk)
  split = [padded_chunks(np.asarray(idx), chunk) for idx in indices]
  key = jax.random.key(train_lib.EVAL_KEY)
  correct = []
  for c in range(len(split[0][0])):
    idx = jnp.asarray(np.stack([chunks[c] for chunks, _ in split]))
    mask = jnp.asarray(np.stack([masks[c] for _, masks in split]))
    correct.append(trainer.eval_step(states, x_all, y_all, idx, mask,
                                     jax.random.fold_in(key, c)))
  return (np.sum(jax.device_get(correct), axis=0) / n).tolist()


def fit_seeds(
    trainer: SeedTrainer,
    states: Sequence[train_lib.TrainState],
    x_all: jax.Array,
    y_all: jax.Array,
    train_idx: Sequence[np.ndarray],
    val_idx: Sequence[np.ndarray],
    keys: Sequence[jax.Array],
    *,
    batch_size: int,
    max_epochs: int,
    learning_rate: float,
    patience: int,
    target_train_accuracy: float = 0.99,
    schedule: str = "cosine",
    eval_chunk: int = 512,
    progress: bool = True,
) -> list[tuple[train_lib.TrainState, train_lib.FitResult]]:
  """`train.fit` for S seeds at once.

  Seed s trains on `x_all[train_idx[s]]` with key `keys[s]` (its batches
  and step keys derived exactly as `fit` derives them) and stops by its own
  rule; all `train_idx[s]` (and all `val_idx[s]`) have one length.

  Returns:
    `[(final_state, FitResult)]`, one per seed.
  """
  n_seeds = len(states)
  if len({len(i) for i in train_idx}) != 1 or len(
      {len(i) for i in val_idx}) != 1:
    raise ValueError("fit_seeds needs equally many training (and "
                     "validation) examples per seed, got "
                     f"{[len(i) for i in train_idx]} and "
                     f"{[len(i) for i in val_idx]}")
  stacked = stack(states)
  n_train = jnp.full((n_seeds,), len(train_idx[0]), jnp.float32)
  shuffle_roots = [jax.random.fold_in(k, 0) for k in keys]
  dropout_roots = jnp.stack([jax.random.fold_in(k, 1) for k in keys])
  rules = [train_lib.StoppingRule(target_train_accuracy, patience,
                                  has_validation=len(val_idx[0]) > 0)
           for _ in range(n_seeds)]
  done: list[train_lib.FitResult | None] = [None] * n_seeds
  active = np.ones(n_seeds, bool)
  step = 0
  epochs = tqdm(range(max_epochs), desc=f"train x{n_seeds} seeds",
                unit="epoch", leave=False, disable=None if progress else True)
  for epoch in epochs:
    lr = train_lib.scheduled_lr(schedule, learning_rate, epoch, max_epochs)
    # Stopped seeds keep their last learning rate, as `fit` leaves it.
    current = stacked.opt_state.hyperparams["learning_rate"]
    stacked = train_lib.set_learning_rate(
        stacked, jnp.where(jnp.asarray(active), jnp.float32(lr), current))
    per_seed = [epoch_batches(jax.random.fold_in(root, epoch), idx,
                              batch_size, x_all.shape[0])
                for root, idx in zip(shuffle_roots, train_idx, strict=True)]
    outs = []
    live = jnp.asarray(active)
    for b in range(len(per_seed[0][0])):
      idx = jnp.asarray(np.stack([batches[b] for batches, _ in per_seed]))
      mask = jnp.asarray(np.stack([masks[b] for _, masks in per_seed]))
      stacked, out = trainer.train_step(stacked, x_all, y_all, idx, mask,
                                        dropout_roots, jnp.int32(step),
                                        n_train, live)
      outs.append((out["correct"], out["count"]))
      step += 1
    correct, count = np.sum(jax.device_get(outs), axis=0)
    train_acc = (correct / count).tolist()
    val_acc = evaluate_seeds(trainer, stacked, x_all, y_all, val_idx,
                             chunk=eval_chunk)
    for s in np.flatnonzero(active):
      reason = rules[s].update(train_acc[s], val_acc[s])
      if reason is not None or epoch == max_epochs - 1:
        done[s] = rules[s].result(epoch + 1, train_acc[s], val_acc[s],
                                  reason or "max_epochs", step)
        active[s] = False
    epochs.set_postfix(active=int(active.sum()))
    if not active.any():
      break
  epochs.close()
  return list(zip(unstack(stacked, n_seeds), done, strict=True))
