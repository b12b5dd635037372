"""What a caller hands a learner, checked at the edge: examples `[N, ...]`,
index vectors `[k]` and class ids `[k]`, each failure one line naming the
argument, the expected form and what came.

  >>> class_ids("labels", [0, 2, 1], 3, num_classes=3).tolist()
  [0, 2, 1]
  >>> class_ids("labels", [0, 3], 2, num_classes=3)
  Traceback (most recent call last):
  ...
  ValueError: labels must be class ids 0..2, got [3]
"""

import jax.numpy as jnp
import numpy as np

from jaxdal.data.pool import PoolState

__all__ = ["class_ids", "dataset_indices", "examples", "given_pool",
           "index_vector"]


def examples(name: str, x):
  """`x` as an array of examples `[N, ...]` (N >= 1, at least 2-D); jax
  and numpy arrays are returned as they are."""
  if not hasattr(x, "shape") or not hasattr(x, "dtype"):
    x = np.asarray(x)
  if x.ndim < 2:
    raise ValueError(f"{name} must be an array [N, ...] of examples, got "
                     f"shape {tuple(x.shape)}")
  return x


def index_vector(name: str, v, n: int | None = None) -> np.ndarray:
  """`v` as int32 `[n]` (any length when `n` is None)."""
  v = np.asarray(v)
  if v.ndim != 1 or not (np.issubdtype(v.dtype, np.integer) or v.size == 0):
    raise ValueError(f"{name} must be a 1-D integer array, got {v.dtype} "
                     f"of shape {v.shape}")
  if n is not None and len(v) != n:
    raise ValueError(f"{name} must have {n} entries (one per index), got "
                     f"{len(v)}")
  return v.astype(np.int32)


def dataset_indices(name: str, v, n: int) -> np.ndarray:
  """`v` as int32 `[k]` distinct indices into N = `n` examples."""
  v = index_vector(name, v)
  bad = v[(v < 0) | (v >= n)]
  if bad.size:
    raise ValueError(f"{name} must be indices in [0, {n}), got "
                     f"{bad[:5].tolist()}")
  uniq, counts = np.unique(v, return_counts=True)
  if (counts > 1).any():
    raise ValueError(f"{name} must be distinct, got repeated "
                     f"{uniq[counts > 1][:5].tolist()}")
  return v


def class_ids(name: str, labels, n: int, num_classes: int | None = None
              ) -> np.ndarray:
  """`labels` as int32 `[n]` class ids in `[0, num_classes)` (>= 0 when
  `num_classes` is None)."""
  y = index_vector(name, labels, n)
  bad = y[(y < 0) | ((y >= num_classes) if num_classes else False)]
  if bad.size:
    valid = f"0..{num_classes - 1}" if num_classes else ">= 0"
    raise ValueError(f"{name} must be class ids {valid}, got "
                     f"{bad[:5].tolist()}")
  return y


def given_pool(n: int, num_classes: int | None, *, labeled=None, labels=None,
               validation=None, val_labels=None, candidates=None
               ) -> tuple[PoolState, np.ndarray]:
  """The round-0 pool of `n` examples from what a caller gives, and the
  int32 `[n]` class ids known so far (-1: not given).

  Args:
    n: examples in the pool.
    num_classes: classes the ids must lie in (None: any id >= 0).
    labeled: `[L]` indices already labeled, with their `labels` `[L]`.
    validation: `[V]` indices held out for validation, with their
      `val_labels` `[V]`; never labeled ones.
    candidates: bool `[n]` rows the acquisitions may pick from (the
      labeled ones are kept); None: every row but the validation ones.
  """
  y = np.full(n, -1, np.int32)
  is_labeled, is_val = np.zeros(n, bool), np.zeros(n, bool)
  for name, idx, lab, mask in (("labeled", labeled, labels, is_labeled),
                               ("validation", validation, val_labels,
                                is_val)):
    if idx is None:
      continue
    idx = dataset_indices(name, idx, n)
    y[idx] = class_ids(f"{name} labels", lab, len(idx), num_classes)
    mask[idx] = True
  both = np.flatnonzero(is_labeled & is_val)
  if both.size:
    raise ValueError(f"validation examples must not be labeled ones; both: "
                     f"{both[:5].tolist()}")
  if candidates is not None:
    candidates = np.asarray(candidates)
    if candidates.shape != (n,) or candidates.dtype != bool:
      raise ValueError(f"candidates must be a bool mask [{n}], got "
                       f"{candidates.dtype} of shape {candidates.shape}")
  cand = ~is_val if candidates is None else candidates | is_labeled
  pool = PoolState(
      labeled=jnp.asarray(is_labeled), candidate=jnp.asarray(cand),
      validation=jnp.asarray(is_val),
      label_round=jnp.asarray(np.where(is_labeled, 0, -1).astype(np.int32)),
      round=jnp.asarray(0, jnp.int32))
  return pool, y
