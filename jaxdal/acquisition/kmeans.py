"""k-means++ seeding and Lloyd's k-means, pure jnp."""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks

__all__ = ["kmeans", "kmeans_pp"]


def _d2_seeding(sq_norms: jnp.ndarray, sqdist_to: Callable, k: int,
                key: jax.Array, available: jnp.ndarray) -> jnp.ndarray:
  """k-means++ seeding given squared norms and a distance-to-row function.

  First centre: the available row of largest norm (lowest index on ties).
  Then centre i is drawn with `fold_in(key, i)` with probability
  proportional to the squared distance to the nearest centre; chosen rows
  get probability 0; if every remaining distance is 0 the draw is uniform
  over the remaining available rows.
  """
  first = jnp.argmax(jnp.where(available, sq_norms, -jnp.inf))
  taken = jnp.zeros(available.shape, bool).at[first].set(True)
  min_sq = jnp.maximum(sqdist_to(first), 0.0)
  chosen = jnp.zeros((k,), jnp.int32).at[0].set(first)

  def pick(i, carry):
    min_sq, chosen, taken = carry
    open_ = available & ~taken
    weights = jnp.where(open_, min_sq, 0.0)
    total = weights.sum()
    logits = jnp.where(total > 0,
                       jnp.where(weights > 0, jnp.log(weights), -jnp.inf),
                       jnp.where(open_, 0.0, -jnp.inf))
    j = jax.random.categorical(jax.random.fold_in(key, i), logits)
    min_sq = jnp.minimum(min_sq, jnp.maximum(sqdist_to(j), 0.0))
    return min_sq, chosen.at[i].set(j), taken.at[j].set(True)

  return lax.fori_loop(1, k, pick, (min_sq, chosen, taken))[1]


@functools.partial(jax.jit, static_argnames=("k",))
def _kmeans_pp(key, k, available, points):
  x = points.astype(jnp.float32)
  sq = jnp.sum(x * x, axis=1)

  def sqdist_to(j):
    # Expanded form: a multi-threaded matrix-vector product (see coreset).
    return sq + sq[j] - 2.0 * jnp.dot(x, x[j], precision=lax.Precision.HIGHEST)

  return _d2_seeding(sq, sqdist_to, k, key, available)


def kmeans_pp(key: jax.Array, k: int, available: jnp.ndarray | None = None,
              *, points: jnp.ndarray) -> jnp.ndarray:
  """k-means++ seeds of `points`: the first the available row of largest
  norm, then draws proportional to the squared distance to the nearest
  seed.

  Args:
    key: PRNG key of the draws.
    k: number of seeds, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    points: `[N, D]`.

  Returns:
    int32 `[k]` distinct available indices in pick order.

  >>> kmeans_pp(jax.random.key(0), 1,
  ...           points=jnp.array([[3.], [0.], [1.], [2.]])).tolist()
  [0]
  """
  checks.key("kmeans_pp", key)
  checks.features("kmeans_pp", "points", points)
  n = points.shape[0]
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable("kmeans_pp", k, available, n,
                                   rows_of="points")
  return _kmeans_pp(key, k, jnp.asarray(available), points)


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def kmeans(x: jax.Array, k: int, key: jax.Array, *, iters: int = 20):
  """Lloyd's k-means from k-means++ seeds.

  Args:
    x: `[N, D]` points.
    k: number of clusters.
    key: seeding key.
    iters: Lloyd iterations (fixed, so the shape of the work is static).

  Returns:
    `(centres [k, D], assignment int32 [N])`. An empty cluster keeps its
    previous centre.
  """
  x = x.astype(jnp.float32)
  sq = jnp.sum(x * x, axis=1)

  def assign(centres):
    d = sq[:, None] + jnp.sum(centres * centres, 1)[None] - 2 * x @ centres.T
    return jnp.argmin(d, axis=1).astype(jnp.int32)

  def step(_, centres):
    a = assign(centres)
    sums = jax.ops.segment_sum(x, a, num_segments=k)
    counts = jax.ops.segment_sum(jnp.ones_like(sq), a, num_segments=k)
    means = sums / jnp.maximum(counts, 1)[:, None]
    return jnp.where(counts[:, None] > 0, means, centres)

  centres = x[_kmeans_pp(key, k, jnp.ones(x.shape[0], bool), x)]
  centres = lax.fori_loop(0, iters, step, centres)
  return centres, assign(centres)
