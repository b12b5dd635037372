"""Coreset selection by k-center greedy (Sener & Savarese, 2018).

Memory stays O(N + chunk^2 + chunk * D): the initial nearest-labeled
distances are computed block by block, and each greedy pick updates the
running minimum with one O(N * D) pass.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition.selection import check_budget


def _pad_rows(x: jnp.ndarray, multiple: int) -> jnp.ndarray:
  pad = (-x.shape[0]) % multiple
  return jnp.pad(x, ((0, pad),) + ((0, 0),) * (x.ndim - 1))


def nearest_labeled_sqdist(features: jnp.ndarray, labeled: jnp.ndarray, *,
                           chunk: int = 512) -> jnp.ndarray:
  """Squared distance from every row to its nearest labeled row.

  Args:
    features: `[N, D]`.
    labeled: bool `[N]`.
    chunk: block size; memory is O(chunk^2 + N).

  Returns:
    `[N]` float32, `+inf` everywhere when nothing is labeled.
  """
  n, d = features.shape
  x = features.astype(jnp.float32)
  sq = jnp.sum(x * x, axis=1)
  # Labeled rows first (stable), so the loop visits ceil(L / chunk) blocks.
  order = jnp.argsort(~labeled, stable=True)
  n_labeled = jnp.sum(labeled)
  xp = _pad_rows(x, chunk).reshape(-1, chunk, d)
  sqp = _pad_rows(sq, chunk).reshape(-1, chunk)
  order_p = _pad_rows(order, chunk)
  valid_p = _pad_rows(labeled[order], chunk)

  def labeled_block(b, best):
    rows = lax.dynamic_slice_in_dim(order_p, b * chunk, chunk)
    valid = lax.dynamic_slice_in_dim(valid_p, b * chunk, chunk)
    xc, sqc = x[rows], sq[rows]

    def pool_block(args):
      xb, sqb = args
      dist = sqb[:, None] + sqc[None, :] - 2.0 * xb @ xc.T
      return jnp.min(jnp.where(valid[None, :], dist, jnp.inf), axis=1)

    block_min = lax.map(pool_block, (xp, sqp)).reshape(-1)[:n]
    return jnp.minimum(best, jnp.maximum(block_min, 0.0))

  n_blocks = (n_labeled + chunk - 1) // chunk
  return lax.fori_loop(0, n_blocks, labeled_block,
                       jnp.full((n,), jnp.inf, jnp.float32))


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def _kcenter(features, labeled, available, k, chunk):
  x = features.astype(jnp.float32)
  min_sq = nearest_labeled_sqdist(x, labeled, chunk=chunk)

  def pick(i, carry):
    min_sq, chosen, taken = carry
    score = jnp.where(available & ~taken, min_sq, -jnp.inf)
    j = jnp.argmax(score)  # first maximum: ties go to the lowest index
    diff = x - x[j]
    min_sq = jnp.minimum(min_sq, jnp.sum(diff * diff, axis=1))
    return min_sq, chosen.at[i].set(j), taken.at[j].set(True)

  init = (min_sq, jnp.zeros((k,), jnp.int32),
          jnp.zeros(labeled.shape, bool))
  return lax.fori_loop(0, k, pick, init)[1]


def kcenter_greedy(features: jnp.ndarray, labeled: jnp.ndarray, k: int,
                   available: jnp.ndarray | None = None, *,
                   chunk: int = 512) -> jnp.ndarray:
  """k-center greedy: repeatedly take the point farthest from all centres.

  Centres start as the labeled points; each pick becomes a centre. Exact
  ties go to the lowest index.

  Args:
    features: `[N, D]` embeddings.
    labeled: bool `[N]`, the initial centres. With none, every distance is
      +inf and the first pick is the lowest available index.
    k: number of picks.
    available: bool `[N]` selectable points (default: not labeled).
    chunk: block size of the initial distance computation.

  Returns:
    int32 `[k]` indices in pick order.

  >>> f = jnp.array([[0., 0.], [1., 0.], [5., 0.], [5., 5.], [0., 6.],
  ...                [2., 2.], [0., 1.]])
  >>> lab = jnp.arange(7) == 6
  >>> kcenter_greedy(f, lab, 6).tolist()
  [3, 2, 4, 5, 1, 0]
  """
  labeled = jnp.asarray(labeled, bool)
  available = ~labeled if available is None else jnp.asarray(available, bool)
  if not isinstance(available, jax.core.Tracer):
    check_budget(k, available)
  return _kcenter(features, labeled, available, k, chunk)
