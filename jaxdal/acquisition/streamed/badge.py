"""BADGE's k-means++ seeding over host arrays, one block on the device."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.acquisition import checks
from jaxdal.acquisition.streamed.blocks import blocks, close_row, padded

__all__ = ["badge"]


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


def badge(key: jax.Array, k: int, available: np.ndarray | None = None, *,
          probs: np.ndarray, features: np.ndarray,
          chunk: int = 65536) -> np.ndarray:
  """BADGE over host arrays, one block of features on the device at a time.

  k-means++ seeding on the factorised gradient embedding, as
  `jaxdal.acquisition.badge`: first centre the available row of largest
  |g|, then draws ∝ the squared distance to the nearest centre, each by
  the Gumbel-max trick block by block (pick i, block b: key
  `fold_in(fold_in(key, i), b)`; with one block, `fold_in(key, i)` itself,
  which is the in-memory draw exactly). Each pick reads the features once.
  The device keeps `[N, C]` residuals and O(N) scalars.

  Args:
    key: PRNG key of the draws.
    k: batch size, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    probs: `[N, C]` host probabilities (for MC samples, their mean),
      checked block by block as they are read.
    features: `[N, D]` host array or memory-mapped `.npy`.
    chunk: rows per device block.

  Returns:
    int32 `[k]` distinct available indices in pick order.
  """
  fn = "streamed.badge"
  checks.key(fn, key)
  checks.features(fn, "features", features)
  n = features.shape[0]
  checks.probs(fn, "probs", probs, layouts=("[N, C]",), values=False)
  if probs.shape[0] != n:
    raise ValueError(f"{fn}: probs must be [N, C] with N={n} rows, as "
                     f"features; got shape {tuple(probs.shape)}")
  available = np.ones(n, bool) if available is None else available
  k, available = checks.selectable(fn, k, available, n, rows_of="features")
  available = np.asarray(available)
  chunk = min(chunk, n)
  starts = list(blocks(n, chunk))
  bounds = np.array([s for s, _ in starts])
  single = len(starts) == 1
  r, g2 = [], []
  for s, e in starts:
    block = np.asarray(probs[s:e])
    checks.probs(fn, "probs", block, layouts=("[N, C]",), shape=probs.shape)
    rb, _, g2b = _badge_parts(padded(block, e - s),
                              padded(features[s:e], e - s))
    r.append(rb)
    g2.append(g2b)
  open_ = [padded(available[s:e], e - s) for s, e in starts]
  index = [padded(np.arange(s, e, dtype=np.int32), e - s)
           for s, e in starts]
  g2_host = np.concatenate([np.asarray(v)[: e - s]
                            for v, (s, e) in zip(g2, starts, strict=True)])
  j = int(np.argmax(np.where(available, g2_host, -np.inf)))
  min_sq = [jnp.full((e - s,), jnp.inf, jnp.float32) for s, e in starts]
  chosen = np.zeros(k, np.int32)
  for i in range(k):
    chosen[i] = j
    home = int(np.searchsorted(bounds, j, side="right")) - 1
    open_[home] = close_row(open_[home], index[home], j)
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
          r[b], padded(features[s:e], e - s), g2[b], min_sq[b], open_[b],
          index[b], rj, hj, g2j, keys[b])
      found.append((v, at, total))
    found = jax.device_get(found)
    if sum(float(t) for _, _, t in found) == 0:  # every distance is 0
      found = jax.device_get([(*_uniform_pick(o, ix, kb), 0.0) for o, ix, kb
                              in zip(open_, index, keys, strict=True)])
    j = int(max(found, key=lambda f: f[0])[1])
  return chosen
