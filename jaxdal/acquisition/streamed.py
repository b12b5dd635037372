"""Selection over pools larger than a device: host arrays in, device chunks.

The in-memory selectors (`kcenter_greedy`, `badge`, `top_k` of a score)
hold `[N, D]` features on the device. Here the features (or MC
probabilities) stay on the host, as NumPy arrays or memory-mapped `.npy`
files (`numpy.load(path, mmap_mode="r")`), and each step moves one
`[chunk, D]` block to the device, so device memory is O(chunk * D) whatever
N is; the host keeps O(N) scalars (running distances, scores).

- `kcenter_greedy`: coreset's k-center greedy, with exact block pruning by
  the triangle inequality (same picks with or without; `prune="auto"`
  decides from the data whether it pays).
- `badge`: BADGE's k-means++ seeding on the factorised gradient embedding.
- `scores`: any `probs -> [N]` score (BALD, entropy, ...) chunk by chunk.

Pick i of a sampled selector draws with `fold_in(key, i)` and, per block b,
`fold_in(fold_in(key, i), b)` (one block: the key itself, which is exactly
the in-memory draw).
"""

import os
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdal.acquisition.kmeans import kmeans
from jaxdal.acquisition.selection import check_budget

PRUNE_CHOICES = ("auto", True, False)
# `prune="auto"` prunes when a trial on a sample reads at most this
# fraction of the rows an unpruned greedy reads.
PRUNE_PAYS_BELOW = 0.5
# Labeled rows per block of the initial nearest-centre distances.
LABELED_BLOCK = 512


def _blocks(n: int, chunk: int):
  """`(start, end)` of ceil(n / chunk) blocks of equal size but the last
  (at most `chunk` rows; a block's rows are never padded, so at most two
  block shapes compile)."""
  size = -(-n // max(1, -(-n // chunk)))
  for start in range(0, n, size):
    yield start, min(start + size, n)


def _padded(a: np.ndarray, rows: int, fill=0):
  """`a` (host, any row count <= rows) as a device array of `rows` rows.

  A full block is handed over without a copy where the backend can alias
  host memory (XLA:CPU does, memory-mapped pages included)."""
  a = np.asarray(a)
  if a.shape[0] < rows:
    pad = np.full((rows - a.shape[0], *a.shape[1:]), fill, a.dtype)
    a = np.concatenate([a, pad])
  return jax.device_put(a, may_alias=True)


@jax.jit
def _sq_norms(x):
  x = x.astype(jnp.float32)
  return jnp.sum(x * x, axis=1)


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
  best, at = _best_open(min_sq, open_, index)
  return min_sq, best, at, jnp.max(min_sq)


@jax.jit
def _best_open(min_sq, open_, index):
  score = jnp.where(open_, min_sq, -jnp.inf)
  best = jnp.max(score)
  return best, jnp.min(jnp.where(score == best, index,
                                 jnp.iinfo(jnp.int32).max))


@jax.jit
def _close(open_, index, j):
  return open_ & (index != j)


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
  sq_c = _sq_norms(centres)
  group = np.empty(n, np.int32)
  for s, e in _blocks(n, block):
    x = jnp.asarray(features[s:e], jnp.float32)
    d = _sq_norms(x)[:, None] + sq_c[None] - 2.0 * x @ centres.T
    group[s:e] = np.asarray(jnp.argmin(d, axis=1))
  order = np.argsort(group, kind="stable").astype(np.int64)
  if isinstance(features, np.memmap):
    fd, path = tempfile.mkstemp(suffix=".npy")
    os.close(fd)
    out = np.lib.format.open_memmap(path, "w+", features.dtype,
                                    features.shape)
    for s, e in _blocks(n, block):
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
  starts = list(_blocks(n, chunk))
  bounds = np.array([s for s, _ in starts])
  sq = [_sq_norms(_padded(x_host[s:e], e - s)) for s, e in starts]
  lab_pos = np.flatnonzero(labeled[order])
  min_sq = [jnp.full((e - s,), jnp.inf, jnp.float32) for s, e in starts]
  # Labeled rows in blocks of at most LABELED_BLOCK: the distance block is
  # [chunk, LABELED_BLOCK], never [chunk, chunk].
  lab_block = min(LABELED_BLOCK, -(-max(len(lab_pos), 1) // 8) * 8)
  for ls in range(0, len(lab_pos), lab_block):
    rows = lab_pos[ls:ls + lab_block]
    y = _padded(x_host[rows], lab_block)
    sq_y = _sq_norms(y)
    valid = _padded(np.ones(len(rows), bool), lab_block, False)
    for b, (s, e) in enumerate(starts):
      near = _nearest_in(_padded(x_host[s:e], e - s), sq[b], y, sq_y, valid)
      min_sq[b] = jnp.minimum(min_sq[b], near)
  open_h = np.asarray(available, bool)[order]
  open_ = [_padded(open_h[s:e], e - s) for s, e in starts]
  index = [_padded(order[s:e].astype(np.int32), e - s) for s, e in starts]
  tops = [_best_open(m, o, i) for m, o, i in zip(min_sq, open_, index,
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
    cent_sq = _sq_norms(cent_d)
  pos_of = np.empty(n, np.int64)
  pos_of[order] = np.arange(n)
  chosen, reads = np.zeros(k, np.int32), 0
  for i in range(k):
    j = int(best_at[best == best.max()].min())  # lowest index on ties
    chosen[i] = j
    p = pos_of[j]
    home = int(np.searchsorted(bounds, p, side="right")) - 1
    open_[home] = _close(open_[home], index[home], j)
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
      min_sq[b], v, at, top = _update(_padded(x_host[s:e], e - s), sq[b],
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
    raise ValueError(f"prune must be one of 'auto', True, False; got "
                     f"{prune!r}")


def kcenter_greedy(features: np.ndarray, labeled: np.ndarray, k: int,
                   available: np.ndarray | None = None, *,
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
    features: `[N, D]` host array or memory-mapped `.npy`.
    labeled: bool `[N]`, the initial centres.
    k: number of picks.
    available: bool `[N]` selectable rows (default: not labeled).
    chunk: rows per device block.
    prune: True, False, or "auto": prune when a trial greedy on `sample`
      rows reads at most `PRUNE_PAYS_BELOW` of the rows unpruned.
    sample: rows of the k-means grouping and of the "auto" trial.
    return_info: also return `{"pruned": bool, "rows_read": int}`.

  Returns:
    int32 `[k]` dataset indices in pick order (and the info if asked).

  >>> f = np.array([[0., 0.], [1., 0.], [5., 0.], [5., 5.], [0., 6.],
  ...               [2., 2.], [0., 1.]], np.float32)
  >>> kcenter_greedy(f, np.arange(7) == 6, 6, chunk=3).tolist()
  [3, 2, 4, 5, 1, 0]
  """
  _check_prune(prune)
  n = features.shape[0]
  labeled = np.asarray(labeled, bool)
  available = ~labeled if available is None else np.asarray(available, bool)
  if labeled.shape != (n,) or available.shape != (n,):
    raise ValueError(f"labeled and available must have shape ({n},), got "
                     f"{labeled.shape} and {available.shape}")
  check_budget(k, available)
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


@jax.jit
def _badge_parts(probs, features):
  """`(r [B, C], h [B, D], |g|^2 [B])` of BADGE's factorised embedding."""
  p = probs.astype(jnp.float32)
  r = p - jax.nn.one_hot(jnp.argmax(p, axis=-1), p.shape[-1])
  h = features.astype(jnp.float32)
  return r, h, jnp.sum(r * r, axis=1) * jnp.sum(h * h, axis=1)


@jax.jit
def _badge_step(r, h, g2, min_sq, open_, index, rj, hj, g2j, key):
  """One block of a BADGE pick: the running minimum after centre j, and
  the block's Gumbel-max candidate for the next draw ∝ that minimum
  (`(value, index)`), plus the block's total open weight."""
  d = g2 + g2j - 2.0 * (r @ rj) * (h.astype(jnp.float32) @ hj)
  min_sq = jnp.minimum(min_sq, jnp.maximum(d, 0.0))
  weights = jnp.where(open_, min_sq, 0.0)
  value = (jnp.where(weights > 0, jnp.log(weights), -jnp.inf)
           + jax.random.gumbel(key, weights.shape))
  at = jnp.argmax(value)
  return min_sq, value[at], index[at], weights.sum()


@jax.jit
def _uniform_pick(open_, index, key):
  """The block's Gumbel-max candidate of a uniform draw over open rows."""
  value = (jnp.where(open_, 0.0, -jnp.inf)
           + jax.random.gumbel(key, open_.shape))
  at = jnp.argmax(value)
  return value[at], index[at]


def badge(probs: np.ndarray, features: np.ndarray, k: int, key: jax.Array,
          available: np.ndarray, *, chunk: int = 65536) -> np.ndarray:
  """BADGE over host arrays, one block of features on the device at a time.

  k-means++ seeding on the factorised gradient embedding, as
  `jaxdal.acquisition.badge`: first centre the available row of largest
  |g|, then draws ∝ the squared distance to the nearest centre, each by
  the Gumbel-max trick block by block (pick i, block b: key
  `fold_in(fold_in(key, i), b)`; with one block, `fold_in(key, i)` itself,
  which is the in-memory draw exactly). Each pick reads the features once.
  The device keeps `[N, C]` residuals and O(N) scalars.

  Args:
    probs: `[N, C]` host probabilities (for MC samples, their mean).
    features: `[N, D]` host array or memory-mapped `.npy`.
    k: batch size.
    key: PRNG key of the draws.
    available: bool `[N]`.
    chunk: rows per device block.

  Returns:
    int32 `[k]` distinct available indices in pick order.
  """
  n = features.shape[0]
  available = np.asarray(available, bool)
  if probs.shape[0] != n or available.shape != (n,):
    raise ValueError(f"probs, features and available need {n} rows, got "
                     f"{probs.shape[0]}, {n} and {available.shape[0]}")
  check_budget(k, available)
  chunk = min(chunk, n)
  starts = list(_blocks(n, chunk))
  bounds = np.array([s for s, _ in starts])
  single = len(starts) == 1
  r, g2 = [], []
  for s, e in starts:
    rb, _, g2b = _badge_parts(_padded(probs[s:e], e - s),
                              _padded(features[s:e], e - s))
    r.append(rb)
    g2.append(g2b)
  open_ = [_padded(available[s:e], e - s) for s, e in starts]
  index = [_padded(np.arange(s, e, dtype=np.int32), e - s)
           for s, e in starts]
  g2_host = np.concatenate([np.asarray(v)[: e - s]
                            for v, (s, e) in zip(g2, starts, strict=True)])
  j = int(np.argmax(np.where(available, g2_host, -np.inf)))
  min_sq = [jnp.full((e - s,), jnp.inf, jnp.float32) for s, e in starts]
  chosen = np.zeros(k, np.int32)
  for i in range(k):
    chosen[i] = j
    home = int(np.searchsorted(bounds, j, side="right")) - 1
    open_[home] = _close(open_[home], index[home], j)
    if i == k - 1:
      break
    rj, hj, g2j = (a[0] for a in _badge_parts(
        jnp.asarray(np.asarray(probs[j:j + 1])),
        jnp.asarray(np.asarray(features[j:j + 1]))))
    key_i = jax.random.fold_in(key, i + 1)
    keys = [key_i if single else jax.random.fold_in(key_i, b)
            for b in range(len(starts))]
    found = []
    for b, (s, e) in enumerate(starts):
      min_sq[b], v, at, total = _badge_step(
          r[b], _padded(features[s:e], e - s), g2[b], min_sq[b], open_[b],
          index[b], rj, hj, g2j, keys[b])
      found.append((v, at, total))
    found = jax.device_get(found)
    if sum(float(t) for _, _, t in found) == 0:  # every distance is 0
      found = jax.device_get([(*_uniform_pick(o, ix, kb), 0.0) for o, ix, kb
                              in zip(open_, index, keys, strict=True)])
    j = int(max(found, key=lambda f: f[0])[1])
  return chosen


def scores(score_fn: Callable, probs: np.ndarray, *, chunk: int = 65536,
           axis: int = 1) -> np.ndarray:
  """`score_fn` over host probabilities, one block of rows at a time.

  Args:
    score_fn: `probs [..., B, C] -> [B]`, e.g. `scores.bald`.
    probs: `[T, N, C]` (axis 1) or `[N, C]` (axis 0), host or memory-mapped.
    chunk: rows per device block.
    axis: the row axis of `probs`.

  Returns:
    `[N]` float32 scores on the host.
  """
  n = probs.shape[axis]
  fn = jax.jit(score_fn)
  out = np.empty(n, np.float32)
  blocks = list(_blocks(n, chunk))
  size = blocks[0][1] - blocks[0][0]
  for s, e in blocks:
    block = np.asarray(probs[:, s:e] if axis == 1 else probs[s:e])
    if e - s < size:  # fixed shapes: one compilation
      pad = [(0, 0)] * block.ndim
      pad[axis] = (0, size - (e - s))
      block = np.pad(block, pad, constant_values=1.0 / block.shape[-1])
    out[s:e] = np.asarray(fn(jnp.asarray(block)))[: e - s]
  return out


def top_k(values: np.ndarray, k: int, available: np.ndarray) -> np.ndarray:
  """Host `top_k`: the k highest available scores, ties to the lowest
  index, NaN below every finite score (as `selection.top_k`)."""
  available = np.asarray(available, bool)
  check_budget(k, available)
  v = np.where(np.isnan(values), -np.finfo(np.float32).max,
               values).astype(np.float32)
  v = np.where(available, v, -np.inf)
  return np.argsort(-v, kind="stable")[:k].astype(np.int32)
