"""k-means++ seeding and BADGE (Ash et al., 2020), without materialising
the `[N, C * D]` gradient embedding.

BADGE's embedding of example i is `g_i = p~_i (x) h_i` with
`p~ = p - onehot(argmax p)`, the loss gradient for the last layer at the
predicted label. For outer products

    ||g_i - g_j||^2 = |p~_i|^2 |h_i|^2 + |p~_j|^2 |h_j|^2
                      - 2 (p~_i . p~_j) (h_i . h_j),

so distances to a new centre cost two matrix-vector products, O(N (C + D)).
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition.scores import mean_probs
from jaxdal.acquisition.selection import check_budget


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
def _kmeans_pp(points, k, key, available):
  x = points.astype(jnp.float32)

  def sqdist_to(j):
    diff = x - x[j]
    return jnp.sum(diff * diff, axis=1)

  return _d2_seeding(jnp.sum(x * x, axis=1), sqdist_to, k, key, available)


def kmeans_pp(points: jnp.ndarray, k: int, key: jax.Array,
              available: jnp.ndarray | None = None) -> jnp.ndarray:
  """k-means++ seeds of `points` `[N, D]` -> int32 `[k]` distinct indices.

  >>> kmeans_pp(jnp.array([[3.], [0.], [1.], [2.]]), 1,
  ...           jax.random.key(0)).tolist()
  [0]
  """
  available = (jnp.ones(points.shape[0], bool) if available is None
               else jnp.asarray(available, bool))
  if not isinstance(available, jax.core.Tracer):
    check_budget(k, available)
  return _kmeans_pp(points, k, key, available)


def _residual(probs: jnp.ndarray) -> jnp.ndarray:
  p = mean_probs(probs).astype(jnp.float32)
  return p - jax.nn.one_hot(jnp.argmax(p, axis=-1), p.shape[-1])


def badge_embedding(probs: jnp.ndarray, features: jnp.ndarray) -> jnp.ndarray:
  """Materialised BADGE embedding `[N, C * D]`, class-major.

  Row i is `(p_i - onehot(argmax p_i)) (x) h_i`; for tests and small pools.

  >>> g = badge_embedding(jnp.array([[0.7, 0.2, 0.1]]), jnp.array([[1., 2.]]))
  >>> [round(float(v), 4) for v in g[0]]
  [-0.3, -0.6, 0.2, 0.4, 0.1, 0.2]
  """
  r = _residual(probs)
  h = features.astype(jnp.float32)
  return (r[:, :, None] * h[:, None, :]).reshape(r.shape[0], -1)


def badge_sqdist(probs: jnp.ndarray, features: jnp.ndarray,
                 rows: jnp.ndarray) -> jnp.ndarray:
  """Factorised `||g_i - g_j||^2`, `[N]` x `[M]` rows -> `[N, M]`."""
  r, h = _residual(probs), features.astype(jnp.float32)
  g2 = jnp.sum(r * r, axis=1) * jnp.sum(h * h, axis=1)
  return (g2[:, None] + g2[rows][None, :]
          - 2.0 * (r @ r[rows].T) * (h @ h[rows].T))


@functools.partial(jax.jit, static_argnames=("k",))
def _badge(probs, features, k, key, available):
  r, h = _residual(probs), features.astype(jnp.float32)
  g2 = jnp.sum(r * r, axis=1) * jnp.sum(h * h, axis=1)

  def sqdist_to(j):
    return g2 + g2[j] - 2.0 * (r @ r[j]) * (h @ h[j])

  return _d2_seeding(g2, sqdist_to, k, key, available)


def badge(probs: jnp.ndarray, features: jnp.ndarray, k: int, key: jax.Array,
          available: jnp.ndarray) -> jnp.ndarray:
  """BADGE: k-means++ seeding over gradient embeddings, factorised.

  Args:
    probs: `[N, C]` or `[T, N, C]` (mean taken) predicted probabilities.
    features: `[N, D]` penultimate features.
    k: batch size.
    key: PRNG key of the D^2 draws.
    available: bool `[N]`.

  Returns:
    int32 `[k]` distinct available indices in pick order.
  """
  available = jnp.asarray(available, bool)
  if not isinstance(available, jax.core.Tracer):
    check_budget(k, available)
  return _badge(probs, features, k, key, available)
