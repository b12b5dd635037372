"""Shared pieces of the complexity measures: input checks and distances.

Squared Euclidean distances in the matmul form, nearest-neighbour
candidates (whole matrix or `chunk_size` rows at a time) for TwoNN, and
distance rows for the minimum spanning tree, dense or made on the fly.
Only jax and numpy are imported.
"""

import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["DENSE_MAX_POINTS"]

# The distance matmuls must not drop to TF32/bf16 passes on accelerators:
# nearest-neighbour order and MST edges come from them.
_HIGHEST = lax.Precision.HIGHEST

# Up to this many points the MST reads a precomputed [N, N] float32 matrix
# (8192^2 * 4 bytes = 256 MiB); above it, distance rows are made on the fly.
DENSE_MAX_POINTS = 8192

# Candidate neighbours per point for TwoNN: the two nearest by the fast
# matmul distances plus one spare, re-measured exactly (see
# `dimension._twonn_from_candidates`).
_CANDIDATES = 3


def _as_features(features) -> jnp.ndarray:
  x = jnp.asarray(features, jnp.float32)
  if x.ndim != 2:
    raise ValueError(f"features must have shape [N, D], got {x.shape}")
  return x


def _as_labels(labels, n: int) -> jnp.ndarray:
  y = jnp.asarray(labels)
  if y.shape != (n,) or not jnp.issubdtype(y.dtype, jnp.integer):
    raise ValueError(
        f"labels must be integers of shape [{n}], got {y.dtype}{y.shape}")
  return y.astype(jnp.int32)


def _check_classes(labels: jnp.ndarray, num_classes: int) -> None:
  y = np.asarray(labels)
  if num_classes < 1 or y.min() < 0 or y.max() >= num_classes:
    raise ValueError(f"labels must lie in [0, num_classes={num_classes}), "
                     f"got values in [{y.min()}, {y.max()}]")


# ---------------------------------------------------------------- distances


def _centre(x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Centred features `[N, D]` and their squared norms `[N]`.

  Centring leaves distances unchanged and shrinks the norms that the matmul
  form `|a|^2 + |b|^2 - 2 a.b` cancels, so float32 loses less.
  """
  xc = x - x.mean(axis=0)
  return xc, jnp.sum(xc * xc, axis=1)


def _sq_dists(a, a_sq, x, x_sq) -> jnp.ndarray:
  """Squared Euclidean distances `[R, D], [N, D] -> [R, N]`, clipped at 0."""
  dot = jnp.matmul(a, x.T, precision=_HIGHEST)
  return jnp.maximum(a_sq[:, None] + x_sq[None, :] - 2.0 * dot, 0.0)


def _row_fn(xc, x_sq, dense: bool):
  """`[P]` point ids -> `[P, N]` squared distances, for the MST.

  Dense: rows of a precomputed `[N, N]` matrix; otherwise each call makes
  its rows from the centred features `xc` and their squared norms `x_sq`.
  """
  if dense:
    d2 = _sq_dists(xc, x_sq, xc, x_sq)
    return lambda u: d2[u]
  return lambda u: _sq_dists(xc[u], x_sq[u], xc, x_sq)


# ------------------------------------------------- neighbour candidates


def _candidates_from_rows(d2, row_ids) -> jnp.ndarray:
  """`[R, N]` squared distances of points `row_ids` `[R]` -> `[R, 3]`
  indices of their nearest other points (self excluded by index)."""
  self_mask = row_ids[:, None] == jnp.arange(d2.shape[1])[None, :]
  _, idx = lax.top_k(-jnp.where(self_mask, jnp.inf, d2), _CANDIDATES)
  return idx


def _candidates_chunked(xc, x_sq, chunk_size: int) -> jnp.ndarray:
  """Nearest-neighbour candidates `[N, 3]`, `chunk_size` rows at a time.

  Peak memory is one `[chunk_size, N]` block of distances.
  """
  n, d = xc.shape
  chunk = min(chunk_size, n)
  num_chunks = -(-n // chunk)
  pad = num_chunks * chunk - n
  # Padded query rows get the id n, which matches no column; their results
  # are cut off below.
  rows = jnp.pad(xc, ((0, pad), (0, 0))).reshape(num_chunks, chunk, d)
  rows_sq = jnp.pad(x_sq, (0, pad)).reshape(num_chunks, chunk)
  ids = jnp.pad(jnp.arange(n), (0, pad), constant_values=n)
  ids = ids.reshape(num_chunks, chunk)

  def one_chunk(args):
    r, r_sq, r_ids = args
    return _candidates_from_rows(_sq_dists(r, r_sq, xc, x_sq), r_ids)

  idx = lax.map(one_chunk, (rows, rows_sq, ids))
  return idx.reshape(num_chunks * chunk, _CANDIDATES)[:n]
