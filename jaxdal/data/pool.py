"""The active-learning pool: which training examples are labeled, and when.

`PoolState` is a pytree over the whole training-set index space `[N]`, so
acquisition results (dataset indices) apply to it directly.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["PoolState", "acquire", "available", "history", "init_pool",
           "labeled_indices", "query_candidates", "search_split",
           "test_indices"]


class PoolState(NamedTuple):
  """Labeling state of a training set of N examples.

  Attributes:
    labeled: bool `[N]`, the labeled set.
    candidate: bool `[N]`, examples that may ever be labeled (the initial set
      plus the unlabeled pool); fixed for a run.
    validation: bool `[N]`, held-out labeled examples for early stopping;
      never in the pool.
    label_round: int32 `[N]`, the round an example was labeled in (0 for the
      initial set), -1 while unlabeled. This is the per-round history.
    round: int32 `[]`, the current round.
  """
  labeled: jax.Array
  candidate: jax.Array
  validation: jax.Array
  label_round: jax.Array
  round: jax.Array


def available(state: PoolState) -> jax.Array:
  """bool `[N]`: pool examples not yet labeled."""
  return state.candidate & ~state.labeled


def labeled_indices(state: PoolState) -> np.ndarray:
  """int `[L]` indices of the labeled set, ascending."""
  return np.flatnonzero(np.asarray(state.labeled))


def history(state: PoolState) -> list[np.ndarray]:
  """Indices labeled in each round 0..round, ascending within a round."""
  rounds = np.asarray(state.label_round)
  return [np.flatnonzero(rounds == r) for r in range(int(state.round) + 1)]


def _balanced_initial(order: np.ndarray, labels: np.ndarray, initial: int,
                      num_classes: int) -> np.ndarray:
  """First `initial // C` (+1 for low classes) of each class in `order`."""
  quota = np.full(num_classes, initial // num_classes)
  quota[: initial % num_classes] += 1
  chosen = []
  for c in range(num_classes):
    members = order[labels[order] == c]
    if len(members) < quota[c]:
      raise ValueError(
          f"class {c} has {len(members)} examples, fewer than the {quota[c]} "
          f"a class-balanced initial set of {initial} needs")
    chosen.append(members[: quota[c]])
  return np.concatenate(chosen)


def init_pool(
    key: jax.Array,
    labels: np.ndarray,
    *,
    initial: int,
    val_fraction: float = 0.1,
    val_size: int | None = None,
    pool_size: int | None = None,
    num_classes: int | None = None,
) -> PoolState:
  """Draws the class-balanced initial labeled set, validation split and pool.

  Args:
    key: PRNG key; sub-draws use `fold_in(key, 0|1|2)`.
    labels: int `[N]` training labels.
    initial: size of the class-balanced initial labeled set.
    val_fraction: share of the remaining examples held out for validation
      (the paper uses 0.1).
    val_size: cap on the validation examples (None = no cap); validation
      runs every epoch, so large sets dominate a quick run's time.
    pool_size: cap on the unlabeled pool (None = all remaining examples).
    num_classes: C; defaults to `labels.max() + 1`.

  Returns:
    `PoolState` at round 0.
  """
  labels = np.asarray(labels)
  n = labels.shape[0]
  num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
  if not 0 < initial < n:
    raise ValueError(f"initial labeled size must be in [1, {n - 1}], "
                     f"got {initial}")
  if not 0.0 <= val_fraction < 1.0:
    raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
  if initial < num_classes:
    raise ValueError(f"initial labeled size {initial} is smaller than the "
                     f"{num_classes} classes")

  def perm(stream):
    return np.asarray(jax.random.permutation(jax.random.fold_in(key, stream),
                                             n))

  init_idx = _balanced_initial(perm(0), labels, initial, num_classes)
  labeled = np.zeros(n, bool)
  labeled[init_idx] = True
  rest = perm(1)
  rest = rest[~labeled[rest]]
  n_val = int(round(val_fraction * len(rest)))
  if val_size is not None:
    if val_size < 0:
      raise ValueError(f"val_size must be >= 0, got {val_size}")
    n_val = min(n_val, val_size)
  validation = np.zeros(n, bool)
  validation[rest[:n_val]] = True
  pool = rest[n_val:]
  if pool_size is not None:
    if pool_size <= 0:
      raise ValueError(f"pool_size must be positive, got {pool_size}")
    order = perm(2)
    in_pool = np.zeros(n, bool)
    in_pool[pool] = True
    pool = order[in_pool[order]][:pool_size]
  candidate = labeled.copy()
  candidate[pool] = True
  label_round = np.where(labeled, 0, -1).astype(np.int32)
  return PoolState(
      labeled=jnp.asarray(labeled),
      candidate=jnp.asarray(candidate),
      validation=jnp.asarray(validation),
      label_round=jnp.asarray(label_round),
      round=jnp.asarray(0, jnp.int32),
  )


def test_indices(num_test: int, test_size: int | None = None) -> np.ndarray:
  """The test examples a run evaluates: all, or `test_size` evenly spaced.

  Evenly spaced (`floor(i * num_test / test_size)`), not drawn, so every
  seed and method of a grid is scored on the same subset.

  Returns:
    int `[min(num_test, test_size)]` sorted test indices.
  """
  if test_size is None or test_size >= num_test:
    return np.arange(num_test)
  if test_size <= 0:
    raise ValueError(f"test_size must be positive, got {test_size}")
  return (np.arange(test_size) * num_test) // test_size


def acquire(state: PoolState, idx) -> PoolState:
  """Labels `idx` and advances the round.

  Args:
    state: current pool.
    idx: int `[k]` dataset indices to label.

  Returns:
    The new `PoolState`, with `round + 1`.

  Raises:
    ValueError: out-of-range, duplicate, already-labeled or non-pool indices.
  """
  idx = np.asarray(idx)
  n = state.labeled.shape[0]
  if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
    raise ValueError(f"acquire needs a 1-D integer index array, got "
                     f"{idx.dtype} of shape {idx.shape}")
  bad = idx[(idx < 0) | (idx >= n)]
  if bad.size:
    raise ValueError(f"indices out of range [0, {n}): {bad[:10].tolist()}")
  uniq, counts = np.unique(idx, return_counts=True)
  if (counts > 1).any():
    raise ValueError(f"duplicate indices: {uniq[counts > 1][:10].tolist()}")
  labeled = np.asarray(state.labeled)
  if labeled[idx].any():
    raise ValueError(
        f"indices already labeled: {idx[labeled[idx]][:10].tolist()}")
  outside = idx[~np.asarray(state.candidate)[idx]]
  if outside.size:
    raise ValueError(f"indices not in the unlabeled pool: "
                     f"{outside[:10].tolist()}")
  new_round = int(state.round) + 1
  labeled = labeled.copy()
  labeled[idx] = True
  label_round = np.asarray(state.label_round).copy()
  label_round[idx] = new_round
  return state._replace(
      labeled=jnp.asarray(labeled),
      label_round=jnp.asarray(label_round),
      round=jnp.asarray(new_round, jnp.int32),
  )


def query_candidates(candidates: np.ndarray, available: np.ndarray,
                     size: int | None, key: jax.Array) -> np.ndarray:
  """The candidates scored before a query: all of them (`size` None), or
  the labeled ones (coreset's centres) and a fresh random sample of `size`
  unlabeled ones, drawn from `key`.

  Args:
    candidates: int `[P]` dataset indices of the run's candidates.
    available: bool `[P]`, which of them are still unlabeled.
    size: Q, or None.
    key: the draw's key.

  Returns:
    int dataset indices, ascending.
  """
  available = np.asarray(available)
  if size is None or size >= available.sum():
    return candidates
  pool = candidates[available]
  drawn = np.asarray(jax.random.choice(key, len(pool), (size,),
                                       replace=False))
  return np.sort(np.concatenate([candidates[~available], pool[drawn]]))


def search_split(pool: PoolState) -> tuple[np.ndarray, np.ndarray]:
  """A joint search's examples: the weights train on the labeled set and
  the architecture on the validation split (as ArchDAL does), or on half
  the labeled set when there is no validation split.

  Returns:
    `(weights [W], architecture [A])` dataset indices.
  """
  lab = np.asarray(labeled_indices(pool))
  val = np.flatnonzero(np.asarray(pool.validation))
  if not len(val):
    lab, val = lab[: len(lab) // 2], lab[len(lab) // 2:]
  return lab, val
