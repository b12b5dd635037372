"""Coreset's k-center greedy over host features, one block on the device,
with exact block pruning by the triangle inequality."""

import os
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.kmeans import kmeans
from jaxdal.acquisition.streamed.blocks import (
    best_open,
    blocks,
    close_row,
    padded,
    sq_norms,
)

__all__ = [
    "LABELED_BLOCK",
    "PRUNE_CHOICES",
    "PRUNE_PAYS_BELOW",
    "kcenter_greedy",
]

PRUNE_CHOICES = ("auto", True, False)
# `prune="auto"` prunes when a trial on a sample reads at most this
# fraction of the rows an unpruned greedy reads.
PRUNE_PAYS_BELOW = 0.5
# Labeled rows per block of the initial nearest-centre distances.
LABELED_BLOCK = 512


@jax.jit
def _nearest_in(x, sq, y, sq_y, valid_y):
  """Min squared distance `[B]` from rows of x `[B, D]` to valid rows of y
  `[L, D]` (the in-memory coreset's expanded form)."""
  dist = sq[:, None] + sq_y[None, :] - 2.0 * jnp.dot(
      x.astype(jnp.float32), y.astype(jnp.float32).T,
      precision=lax.Precision.HIGHEST)
  dist = jnp.where(valid_y[None, :], dist, jnp.inf)
  return jnp.maximum(jnp.min(dist, axis=1), 0.0)


@jax.jit
def _update(x, sq, min_sq, open_, index, c, sq_c):
  """One block of a greedy pick: new running minimum `[B]`, the block's
  best open row `(score, index)` (lowest index on ties) and its largest
  running distance."""
  dot = jnp.dot(x.astype(jnp.float32), c, precision=lax.Precision.HIGHEST)
  min_sq = jnp.minimum(min_sq, jnp.maximum(sq + sq_c - 2.0 * dot, 0.0))
  best, at = best_open(min_sq, open_, index)
  return min_sq, best, at, jnp.max(min_sq)


class _Layout(NamedTuple):
  """Rows in block order: `order[p]` is the dataset row at position p."""
  order: np.ndarray
  features: np.ndarray  # rows in block order (a copy when reordered)
  cleanup: Callable[[], None]


def _grouped_layout(features: np.ndarray, block: int, key: jax.Array,
                    sample: int) -> _Layout:
  """Rows grouped by k-means (on a sample) so nearby rows share blocks;
  the reordered copy goes to a temporary memory-mapped file when the
  input is one."""
  n = features.shape[0]
  groups = max(1, -(-n // block))
  rng = np.random.default_rng(0)
  pick = np.sort(rng.choice(n, min(n, sample), replace=False))
  centres, _ = kmeans(jnp.asarray(features[pick], jnp.float32),
                      min(groups, len(pick)), key, iters=5)
  sq_c = sq_norms(centres)
  group = np.empty(n, np.int32)
  for s, e in blocks(n, block):
    x = jnp.asarray(features[s:e], jnp.float32)
    d = sq_norms(x)[:, None] + sq_c[None] - 2.0 * x @ centres.T
    group[s:e] = np.asarray(jnp.argmin(d, axis=1))
  order = np.argsort(group, kind="stable").astype(np.int64)
  if isinstance(features, np.memmap):
    fd, path = tempfile.mkstemp(suffix=".npy")
    os.close(fd)
    out = np.lib.format.open_memmap(path, "w+", features.dtype,
                                    features.shape)
    for s, e in blocks(n, block):
      out[s:e] = features[order[s:e]]
    out.flush()
    return _Layout(order, out, lambda: os.remove(path))
  return _Layout(order, np.asarray(features)[order], lambda: None)


def _greedy(layout: _Layout, labeled: np.ndarray, available: np.ndarray,
            k: int, chunk: int, prune: bool) -> tuple[np.ndarray, int]:
  """k-center greedy over `layout`'s blocks; `(picks [k], rows read)`.

  The device keeps O(N) scalars per row (|x|^2, running distance, open,
  index) and one `[chunk, D]` block of features at a time.
  """
  x_host, order = layout.features, layout.order
  n, d = x_host.shape
  starts = list(blocks(n, chunk))
  bounds = np.array([s for s, _ in starts])
  sq = [sq_norms(padded(x_host[s:e], e - s)) for s, e in starts]
  lab_pos = np.flatnonzero(labeled[order])
  min_sq = [jnp.full((e - s,), jnp.inf, jnp.float32) for s, e in starts]
  # Labeled rows in blocks of at most LABELED_BLOCK: the distance block is
  # [chunk, LABELED_BLOCK], never [chunk, chunk].
  lab_block = min(LABELED_BLOCK, -(-max(len(lab_pos), 1) // 8) * 8)
  for ls in range(0, len(lab_pos), lab_block):
    rows = lab_pos[ls:ls + lab_block]
    y = padded(x_host[rows], lab_block)
    sq_y = sq_norms(y)
    valid = padded(np.ones(len(rows), bool), lab_block, False)
    for b, (s, e) in enumerate(starts):
      near = _nearest_in(padded(x_host[s:e], e - s), sq[b], y, sq_y, valid)
      min_sq[b] = jnp.minimum(min_sq[b], near)
  open_h = np.asarray(available, bool)[order]
  open_ = [padded(open_h[s:e], e - s) for s, e in starts]
  index = [padded(order[s:e].astype(np.int32), e - s) for s, e in starts]
  tops = [best_open(m, o, i) for m, o, i in zip(min_sq, open_, index,
                                                 strict=True)]
  best = np.array([float(t[0]) for t in tops], np.float32)
  best_at = np.array([int(t[1]) for t in tops], np.int64)
  if prune:
    # Per block: centroid, radius, largest |x|^2 and running distance.
    cent = np.zeros((len(starts), d), np.float32)
    radius_sq = np.zeros(len(starts), np.float32)
    for b, (s, e) in enumerate(starts):
      x = np.asarray(x_host[s:e], np.float32)
      cent[b] = x.mean(axis=0)
      radius_sq[b] = ((x - cent[b]) ** 2).sum(axis=1).max()
    sq_max = np.array([float(v.max()) for v in sq], np.float32)
    block_max = np.array([float(v.max()) for v in min_sq], np.float32)
    cent_d = jnp.asarray(cent)
    cent_sq = sq_norms(cent_d)
  pos_of = np.empty(n, np.int64)
  pos_of[order] = np.arange(n)
  chosen, reads = np.zeros(k, np.int32), 0
  for i in range(k):
    j = int(best_at[best == best.max()].min())  # lowest index on ties
    chosen[i] = j
    p = pos_of[j]
    home = int(np.searchsorted(bounds, p, side="right")) - 1
    open_[home] = close_row(open_[home], index[home], j)
    c = jnp.asarray(np.asarray(x_host[p], np.float32))
    sq_c = sq[home][p - starts[home][0]]
    if prune:
      # Row r of block b is at least |c - m_b| - R_b from c; the block
      # cannot improve if that clears its largest running distance (with
      # room for the rounding of |x|^2 + |c|^2 - 2 x.c).
      gap = np.sqrt(np.maximum(np.asarray(
          cent_sq + sq_c - 2.0 * jnp.dot(cent_d, c,
                                         precision=lax.Precision.HIGHEST)),
          0.0)) - np.sqrt(radius_sq)
      margin = 1e-5 * (block_max + sq_max + float(sq_c)) + 1e-6
      need = ~((gap > 0) & (gap * gap >= block_max + margin))
    else:
      need = np.ones(len(starts), bool)
    need[home] = True  # the pick leaves its block's open rows
    updated = []
    for b in np.flatnonzero(need):
      s, e = starts[b]
      min_sq[b], v, at, top = _update(padded(x_host[s:e], e - s), sq[b],
                                      min_sq[b], open_[b], index[b], c, sq_c)
      updated.append((b, v, at, top))
      reads += e - s
    for b, v, at, top in jax.device_get(updated):
      best[b], best_at[b] = v, at
      if prune:
        block_max[b] = top
  return chosen, reads


def _check_prune(prune) -> None:
  if not any(prune is c or prune == c and isinstance(prune, str)
             for c in PRUNE_CHOICES):
    raise ValueError(f"streamed.kcenter_greedy: prune must be one of "
                     f"'auto', True, False; got {prune!r}")


def kcenter_greedy(key: jax.Array | None, k: int,
                   available: np.ndarray | None = None, *,
                   features: np.ndarray, labeled: np.ndarray,
                   chunk: int = 65536, prune: bool | str = "auto",
                   sample: int = 20_000, return_info: bool = False):
  """Coreset (k-center greedy) over host features, one block on the device.

  The same picks as `jaxdal.acquisition.kcenter_greedy` (farthest row from
  every centre, lowest index on ties) with device memory O(chunk * D).
  Pruning reorders rows into k-means groups of `chunk` rows and skips a
  block whenever the triangle inequality proves that the new centre is
  farther from every row than the row's current centre: the same picks,
  fewer rows read on clustered features.

  Args:
    key: ignored (deterministic; the k-means grouping has its own fixed
      key); None is fine.
    k: number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for every row not labeled.
    features: `[N, D]` host array or memory-mapped `.npy`.
    labeled: bool `[N]`, the initial centres.
    chunk: rows per device block.
    prune: True, False, or "auto": prune when a trial greedy on `sample`
      rows reads at most `PRUNE_PAYS_BELOW` of the rows unpruned.
    sample: rows of the k-means grouping and of the "auto" trial.
    return_info: also return `{"pruned": bool, "rows_read": int}`.

  Returns:
    int32 `[k]` dataset indices in pick order (and the info if asked).

  >>> f = np.array([[0., 0.], [1., 0.], [5., 0.], [5., 5.], [0., 6.],
  ...               [2., 2.], [0., 1.]], np.float32)
  >>> kcenter_greedy(None, 6, features=f, labeled=np.arange(7) == 6,
  ...                chunk=3).tolist()
  [3, 2, 4, 5, 1, 0]
  """
  del key  # Deterministic.
  fn = "streamed.kcenter_greedy"
  _check_prune(prune)
  checks.features(fn, "features", features)
  n = features.shape[0]
  labeled = np.asarray(checks.mask(fn, "labeled", labeled, n,
                                   rows_of="features"))
  available = ~labeled if available is None else available
  k, available = checks.selectable(fn, k, available, n, rows_of="features")
  available = np.asarray(available)
  chunk = min(chunk, -(-n // 8) * 8)
  if prune == "auto":
    prune = _prune_pays(features, labeled, available, k, chunk, sample)
  if prune and n > chunk:
    layout = _grouped_layout(features, chunk, jax.random.key(0), sample)
  else:
    layout = _Layout(np.arange(n), features, lambda: None)
  try:
    picks, reads = _greedy(layout, labeled, available, k, chunk,
                           bool(prune))
  finally:
    layout.cleanup()
  if return_info:
    return picks, {"pruned": bool(prune), "rows_read": int(reads)}
  return picks


def _prune_pays(features, labeled, available, k, chunk, sample) -> bool:
  """Whether pruning reads few enough rows, judged by both greedies on a
  sample with N, k and the block size scaled down together."""
  n = features.shape[0]
  if n <= chunk:
    return False
  rng = np.random.default_rng(1)
  rows = np.sort(rng.choice(n, min(n, sample), replace=False))
  scale = len(rows) / n
  k_s = max(4, min(int(round(k * scale)), int(available[rows].sum()) - 1))
  block = max(64, int(chunk * scale))
  x = np.asarray(features[rows], np.float32)
  lab, avail = labeled[rows], available[rows]
  if k_s < 1 or avail.sum() <= k_s or len(rows) <= block:
    return False
  layout = _grouped_layout(x, block, jax.random.key(0), len(rows))
  _, reads = _greedy(layout, lab, avail, k_s, block, True)
  return reads <= PRUNE_PAYS_BELOW * k_s * len(rows)
