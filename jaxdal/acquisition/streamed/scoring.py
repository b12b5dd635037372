"""Scores and top-k over host probabilities, one block on the device."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.acquisition import checks
from jaxdal.acquisition.streamed.blocks import blocks

__all__ = ["scores", "top_k"]


def scores(score_fn: Callable, probs: np.ndarray, *, chunk: int = 65536,
           axis: int = 1) -> np.ndarray:
  """`score_fn` over host probabilities, one block of rows at a time.

  Args:
    score_fn: `probs [..., B, C] -> [B]`, e.g. `scores.bald`.
    probs: `[T, N, C]` (axis 1) or `[N, C]` (axis 0), host or memory-mapped;
      each block is checked to hold probabilities as it is read.
    chunk: rows per device block.
    axis: the row axis of `probs`.

  Returns:
    `[N]` float32 scores on the host.
  """
  if axis not in (0, 1):
    raise ValueError(f"streamed.scores: axis must be 0 ([N, C]) or 1 "
                     f"([T, N, C]); got {axis!r}")
  layout = "[T, N, C]" if axis == 1 else "[N, C]"
  checks.probs("streamed.scores", "probs", probs, layouts=(layout,),
               values=False)
  n = probs.shape[axis]
  fn = jax.jit(score_fn)
  out = np.empty(n, np.float32)
  spans = list(blocks(n, chunk))
  size = spans[0][1] - spans[0][0]
  for s, e in spans:
    block = np.asarray(probs[:, s:e] if axis == 1 else probs[s:e])
    checks.probs("streamed.scores", "probs", block, layouts=(layout,),
                 shape=probs.shape)
    if e - s < size:  # fixed shapes: one compilation
      pad = [(0, 0)] * block.ndim
      pad[axis] = (0, size - (e - s))
      block = np.pad(block, pad, constant_values=1.0 / block.shape[-1])
    out[s:e] = np.asarray(fn(jnp.asarray(block)))[: e - s]
  return out


def top_k(key: jax.Array | None, k: int, available: np.ndarray | None = None,
          *, scores: np.ndarray) -> np.ndarray:
  """Host `top_k`: the k highest available scores, ties to the lowest
  index, NaN below every finite score (as `selection.top_k`).

  Args:
    key: ignored (deterministic); None is fine.
    k: number of indices, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    scores: `[N]` host scores, higher = acquire first.

  Returns:
    int32 `[k]` indices, in descending score order.
  """
  del key  # Deterministic.
  values = np.asarray(scores)
  checks.scores("streamed.top_k", "scores", values)
  n = values.shape[0]
  available = np.ones(n, bool) if available is None else available
  k, available = checks.selectable("streamed.top_k", k, available, n,
                                   rows_of="scores")
  available = np.asarray(available)
  v = np.where(np.isnan(values), -np.finfo(np.float32).max,
               values).astype(np.float32)
  v = np.where(available, v, -np.inf)
  return np.argsort(-v, kind="stable")[:k].astype(np.int32)
