"""Blocks of host rows on the device: the pieces every streamed selector
shares."""

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["best_open", "blocks", "close_row", "padded", "sq_norms"]


def blocks(n: int, chunk: int):
  """`(start, end)` of ceil(n / chunk) blocks of equal size but the last
  (at most `chunk` rows; a block's rows are never padded, so at most two
  block shapes compile)."""
  size = -(-n // max(1, -(-n // chunk)))
  for start in range(0, n, size):
    yield start, min(start + size, n)


def padded(a: np.ndarray, rows: int, fill=0):
  """`a` (host, any row count <= rows) as a device array of `rows` rows.

  A full block is handed over without a copy where the backend can alias
  host memory (XLA:CPU does, memory-mapped pages included)."""
  a = np.asarray(a)
  if a.shape[0] < rows:
    pad = np.full((rows - a.shape[0], *a.shape[1:]), fill, a.dtype)
    a = np.concatenate([a, pad])
  return jax.device_put(a, may_alias=True)


@jax.jit
def sq_norms(x):
  """Squared row norms `[B]` of `x` `[B, D]`, in float32."""
  x = x.astype(jnp.float32)
  return jnp.sum(x * x, axis=1)


@jax.jit
def best_open(min_sq, open_, index):
  """`(score, index)` of the open row `[B]` with the largest running
  distance, the lowest index on ties."""
  score = jnp.where(open_, min_sq, -jnp.inf)
  best = jnp.max(score)
  return best, jnp.min(jnp.where(score == best, index,
                                 jnp.iinfo(jnp.int32).max))


@jax.jit
def close_row(open_, index, j):
  """`open_` `[B]` with dataset row `j` (if in this block) closed."""
  return open_ & (index != j)
