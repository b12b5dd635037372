"""k-means sampling (decile-distil 0.2.0, `KMeansSampling`), and the k-means
with a traced number of clusters that TypiClust needs.

k-means sampling clusters the available rows into k clusters and takes
the member of each cluster nearest to its centre,

  pick_c = argmin_{i in C_c} |x_i - mu_c|^2,   c = 1..k,

with jaxdal's k-means (`kmeans.kmeans_pp` seeds under the key, then
Lloyd steps) where DISTIL runs scikit-learn's unseeded `KMeans`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.kmeans import kmeans_pp

__all__ = ["kmeans_centroids", "kmeans_dynamic", "nearest_to_centres"]


def argmax_tied(values, key):
  """First maximum (key None), else uniform among the exact maxima, like
  scikit-activeml's `rand_argmax`."""
  if key is None:
    return jnp.argmax(values)
  u = jax.random.uniform(key, values.shape)
  return jnp.argmax(jnp.where(values == values.max(), u, -1.0))


def fold_or_none(key, i):
  """`fold_in(key, i)`, or None for no key (deterministic ties)."""
  return None if key is None else jax.random.fold_in(key, i)


def _lloyd(x, centres, active, weights, iters):
  """Lloyd steps over `active` centres, rows weighted 0/1 by `weights`;
  the arithmetic of `kmeans.kmeans`, so with all centres active and unit
  weights the clusters are the same."""
  k = centres.shape[0]
  sq = jnp.sum(x * x, axis=1)

  def assign(centres):
    d = sq[:, None] + jnp.sum(centres * centres, 1)[None] - 2 * x @ centres.T
    return jnp.argmin(jnp.where(active[None], d, jnp.inf),
                      axis=1).astype(jnp.int32)

  def step(_, centres):
    a = assign(centres)
    sums = jax.ops.segment_sum(x * weights[:, None], a, num_segments=k)
    counts = jax.ops.segment_sum(weights, a, num_segments=k)
    means = sums / jnp.maximum(counts, 1)[:, None]
    return jnp.where(counts[:, None] > 0, means, centres)

  centres = lax.fori_loop(0, iters, step, centres)
  return centres, assign(centres)


def kmeans_dynamic(key: jax.Array, n_clusters, max_clusters: int, *,
                   points: jnp.ndarray, iters: int = 20):
  """k-means with a traced number of clusters below a static cap.

  The seeds are the first `n_clusters` of `kmeans_pp(key, max_clusters)`
  (k-means++ draws one seed after another, so they are the seeds of
  `n_clusters`), then `iters` Lloyd steps over those centres only. With
  `n_clusters == max_clusters` this is `kmeans(points, max_clusters,
  key)`.

  Args:
    key: PRNG key of the seeding.
    n_clusters: int, possibly traced, `1 <= n_clusters <= max_clusters`.
    max_clusters: static cap, `<= N`.
    points: `[N, D]`.
    iters: Lloyd iterations.

  Returns:
    `(centres [max_clusters, D], assignment int32 [N])`; centres past
    `n_clusters` are unused and no row is assigned to them.
  """
  x = points.astype(jnp.float32)
  seeds = kmeans_pp(key, max_clusters, points=x)
  active = jnp.arange(max_clusters) < n_clusters
  return _lloyd(x, x[seeds], active, jnp.ones(x.shape[0], jnp.float32),
                iters)


@functools.partial(jax.jit, static_argnames=("k",))
def _nearest_to_centres(k, available, features, centres, assignment):
  x = features.astype(jnp.float32)
  c = centres.astype(jnp.float32)
  n = x.shape[0]
  own = available & (assignment >= 0) & (assignment < k)
  a = jnp.clip(assignment, 0, k - 1)
  d = jnp.sum((x - c[a]) ** 2, axis=1)
  d = jnp.where(own, d, jnp.inf)
  best = jax.ops.segment_min(d, a, num_segments=k)
  rows = jnp.arange(n, dtype=jnp.int32)
  first = jax.ops.segment_min(jnp.where(own & (d == best[a]), rows, n), a,
                              num_segments=k)

  def pick(i, carry):
    taken, chosen = carry
    # An empty cluster (or one whose member was taken) takes the nearest
    # free available row instead.
    j = lax.cond(
        (first[i] < n) & ~taken[jnp.minimum(first[i], n - 1)],
        lambda: first[i],
        lambda: jnp.argmin(jnp.where(
            available & ~taken, jnp.sum((x - c[i]) ** 2, axis=1),
            jnp.inf)).astype(jnp.int32))
    return taken.at[j].set(True), chosen.at[i].set(j)

  return lax.fori_loop(0, k, pick, (jnp.zeros(n, bool),
                                    jnp.zeros(k, jnp.int32)))[1]


def nearest_to_centres(available: jnp.ndarray | None = None, *,
                       features: jnp.ndarray, centres: jnp.ndarray,
                       assignment: jnp.ndarray) -> jnp.ndarray:
  """For each centre, its available member nearest to it.

  `argmin_{i in C_c} |x_i - mu_c|^2`, lowest index on ties, as DISTIL's
  `KMeansSampling.select`; a centre with no available member takes the
  nearest available row not yet taken.

  Args:
    available: bool `[N]` rows that may be picked; None for all.
    features: `[N, D]`.
    centres: `[k, D]`.
    assignment: int `[N]` centre of each row (outside `[0, k)`: none).

  Returns:
    int32 `[k]` distinct indices, one per centre, in centre order.
  """
  fn = "nearest_to_centres"
  checks.features(fn, "features", features)
  checks.features(fn, "centres", centres)
  n, k = features.shape[0], centres.shape[0]
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable(fn, k, available, n, rows_of="features")
  assignment = jnp.asarray(assignment)
  if assignment.shape != (n,) or not jnp.issubdtype(assignment.dtype,
                                                    jnp.integer):
    raise ValueError(f"{fn}: assignment must be int centre ids [N={n}]; "
                     f"got {checks.describe(assignment)}")
  return _nearest_to_centres(k, jnp.asarray(available), features, centres,
                             assignment.astype(jnp.int32))


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def _kmeans_centroids(key, k, available, features, iters):
  x = features.astype(jnp.float32)
  seeds = kmeans_pp(key, k, available, points=x)
  centres, assignment = _lloyd(x, x[seeds], jnp.ones(k, bool),
                               available.astype(jnp.float32), iters)
  return _nearest_to_centres(k, available, x, centres,
                             jnp.where(available, assignment, -1))


def kmeans_centroids(key: jax.Array, k: int,
                     available: jnp.ndarray | None = None, *,
                     features: jnp.ndarray,
                     labeled: jnp.ndarray | None = None,
                     iters: int = 20) -> jnp.ndarray:
  """k-means sampling: k-means of the available rows, nearest member of
  each centre (decile-distil 0.2.0, `KMeansSampling`).

  Lloyd's k-means into k clusters of the available rows only, seeded by
  `kmeans_pp(key, k, available)`; then `nearest_to_centres`. DISTIL uses
  scikit-learn's `KMeans(n_clusters=k)` (k-means++ with 10 restarts,
  unseeded).

  Args:
    key: PRNG key of the seeding.
    k: static number of picks (= clusters), `0 < k <= available.sum()`.
    available: bool `[N]` rows clustered and selectable; None for those
      not labeled.
    features: `[N, D]`.
    labeled: bool `[N]`; only the default of `available` reads it.
    iters: Lloyd iterations.

  Returns:
    int32 `[k]` indices, one per cluster.

  >>> x = jnp.array([[0.], [1.], [2.], [10.], [11.], [12.]])
  >>> sorted(kmeans_centroids(jax.random.key(0), 2, features=x).tolist())
  [1, 4]
  """
  fn = "kmeans_centroids"
  checks.key(fn, key)
  checks.features(fn, "features", features)
  n = features.shape[0]
  if labeled is None:
    labeled = jnp.zeros(n, bool)
  k, available, _ = checks.selector_inputs(fn, k, available, features,
                                           labeled)
  return _kmeans_centroids(key, k, available, features, iters)
