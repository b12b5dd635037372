"""Fixed-shape batches: every step function sees one shape for a whole run."""

import jax
import numpy as np

__all__ = ["epoch_batches", "padded_chunks", "sample"]


def padded_chunks(indices: np.ndarray, size: int) -> tuple[np.ndarray,
                                                           np.ndarray]:
  """Splits `indices` into `[S, size]` chunks, padding the last one.

  Padding repeats indices from the start (cycling), so padded rows are real
  examples (harmless for BatchNorm statistics); `mask` marks the real rows.

  Returns:
    `(chunks int32 [S, size], mask bool [S, size])`, S = ceil(len / size).

  >>> c, m = padded_chunks(np.arange(5), 4)
  >>> c.tolist(), m.sum()
  ([[0, 1, 2, 3], [4, 0, 1, 2]], np.int64(5))
  """
  indices = np.asarray(indices)
  n = len(indices)
  if n == 0:
    raise ValueError("cannot batch an empty index set")
  if size <= 0:
    raise ValueError(f"batch size must be positive, got {size}")
  steps = -(-n // size)
  flat = np.resize(indices, steps * size).astype(np.int32)
  mask = np.arange(steps * size) < n
  return flat.reshape(steps, size), mask.reshape(steps, size)


def epoch_batches(key: jax.Array, indices: np.ndarray, batch_size: int,
                  num_total: int):
  """Shuffled fixed-size batches of `indices` for one epoch.

  The order comes from one uniform draw per example of the whole index
  space `[num_total]`, so the random draw has the same shape whatever the
  labeled-set size (nothing recompiles as the set grows) and an example's
  draw depends only on `key` and its own index.

  Returns:
    `(batches int32 [S, B], mask bool [S, B])`, shuffled with `key`.
  """
  indices = np.asarray(indices)
  u = np.asarray(jax.random.uniform(key, (num_total,)))
  order = np.argsort(u[indices], kind="stable")
  return padded_chunks(indices[order], batch_size)


def sample(key: jax.Array, indices: np.ndarray, k: int,
           num_total: int) -> np.ndarray:
  """A seeded sample of `min(k, len(indices))` of `indices`, sorted.

  Like `epoch_batches`, the draw is one uniform number per example of the
  whole index space `[num_total]` (one shape, whatever `indices` holds), and
  the sample is the `k` members with the smallest draws: an example's
  chance depends only on `key` and its own index.

  >>> sample(jax.random.key(0), np.arange(10, 20), 3, 20).shape
  (3,)
  """
  indices = np.asarray(indices)
  u = np.asarray(jax.random.uniform(key, (num_total,)))
  chosen = indices[np.argsort(u[indices], kind="stable")[:k]]
  return np.sort(chosen)
