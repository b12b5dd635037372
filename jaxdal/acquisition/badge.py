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

import jax
import jax.numpy as jnp

from jaxdal.acquisition import checks
from jaxdal.acquisition.kmeans import _d2_seeding
from jaxdal.acquisition.scores import mean_probs

__all__ = ["badge", "badge_embedding", "badge_sqdist"]


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
def _badge(key, k, available, probs, features):
  r, h = _residual(probs), features.astype(jnp.float32)
  g2 = jnp.sum(r * r, axis=1) * jnp.sum(h * h, axis=1)

  def sqdist_to(j):
    return g2 + g2[j] - 2.0 * (r @ r[j]) * (h @ h[j])

  return _d2_seeding(g2, sqdist_to, k, key, available)


def badge(key: jax.Array, k: int, available: jnp.ndarray | None = None, *,
          probs: jnp.ndarray, features: jnp.ndarray) -> jnp.ndarray:
  """BADGE: k-means++ seeding over gradient embeddings, factorised.

  Args:
    key: PRNG key of the D^2 draws.
    k: batch size, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    probs: `[N, C]` or `[T, N, C]` (mean taken) predicted probabilities.
    features: `[N, D]` penultimate features.

  Returns:
    int32 `[k]` distinct available indices in pick order.

  >>> p = jnp.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
  >>> h = jnp.array([[1., 0.], [0., 1.], [1., 1.]])
  >>> badge(jax.random.key(0), 1, probs=p, features=h).tolist()
  [2]
  """
  checks.key("badge", key)
  probs = jnp.asarray(probs)
  checks.probs("badge", "probs", probs)
  n = probs.shape[-2]
  checks.features("badge", "features", features, n, rows_of="probs")
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable("badge", k, available, n,
                                   rows_of="probs")
  return _badge(key, k, jnp.asarray(available), probs, features)
