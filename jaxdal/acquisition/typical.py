"""TypiClust: the most typical point of each large uncovered cluster.

Hacohen, Dekel and Weinshall, "Active Learning on a Budget: Opposite
Strategies Suit High and Low Budgets", ICML 2022. The features of all N
rows are clustered into `|L| + k` clusters; from each of the k largest
clusters that hold no labeled point the most typical point is taken.
With `d_1 <= ... <= d_K` the distances from x to its K nearest members
of its own cluster C (K = min(|C| - 1, k_nn)),

  Typicality(x) = ( (1/K) (sum_{i=0..K} d_i + 1e-7) )^-1
                = K / (sum_{i=0..K} d_i + 1e-7),   d_0 = 0 (x itself),

as scikit-activeml 1.0.1's `TypiClust` computes it (Euclidean distance,
`k_nn = 5`; a singleton cluster has typicality 1). The paper's code uses
K = min(20, |C| // 2) and squared distances, and drops clusters of 5
rows or fewer; this follows scikit-activeml.

The clusters come from jaxdal's k-means (`kmeans.kmeans_pp` seeds under
the key, then Lloyd steps). `|L|` is a traced number under `jit`, so the
k-means keeps a static `max_clusters` centres and uses the first
`min(|L| + k, max_clusters)`; 500 is the cap of the paper's code
(scikit-activeml has none).
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.centroids import (
  argmax_tied,
  fold_or_none,
  kmeans_dynamic,
)

__all__ = [
    "MAX_CLUSTERS",
    "typicality",
    "typiclust",
    "typiclust_from_clusters",
]

# The cap on TypiClust's clusters in the paper's code (min(|L| + k, 500)).
MAX_CLUSTERS = 500
_EPS = 1e-7  # scikit-activeml's floor on a kNN distance sum.
_HI = lax.Precision.HIGHEST


def _centred(features):
  # Distances are unchanged; |x|^2 + |y|^2 - 2 x.y cancels less.
  x = features.astype(jnp.float32)
  return x - x.mean(axis=0)


@functools.partial(jax.jit, static_argnames=("k_nn", "chunk"))
def _typicality(features, clusters, k_nn, chunk):
  x = _centred(features)
  n = x.shape[0]
  sq = jnp.sum(x * x, axis=1)
  size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), clusters,
                             num_segments=n)[clusters]
  kk = jnp.minimum(size - 1, k_nn)
  m = min(k_nn + 1, n)
  rows = jnp.arange(-(-n // chunk) * chunk).reshape(-1, chunk)

  def block(r):
    r = jnp.minimum(r, n - 1)
    xb, cb = x[r], clusters[r]
    d = sq[r][:, None] + sq[None] - 2.0 * jnp.dot(xb, x.T, precision=_HI)
    d = jnp.where(cb[:, None] == clusters[None], d, jnp.inf)
    _, nb = lax.top_k(-d, m)
    # The neighbours' distances again, as differences: exact near 0.
    exact = jnp.sqrt(jnp.sum((xb[:, None] - x[nb]) ** 2, axis=-1))
    exact = jnp.sort(jnp.where(clusters[nb] == cb[:, None], exact, jnp.inf),
                     axis=1)
    keep = jnp.arange(m)[None] <= kk[r][:, None]
    return jnp.sum(jnp.where(keep, exact, 0.0), axis=1)

  total = lax.map(block, rows).reshape(-1)[:n]
  return jnp.where(size == 1, 1.0, kk / (total + _EPS))


def _check_clusters(fn, clusters, n):
  shape = tuple(getattr(clusters, "shape", ()))
  dtype = getattr(clusters, "dtype", None)
  if shape != (n,) or dtype is None or not jnp.issubdtype(dtype, jnp.integer):
    raise ValueError(f"{fn}: clusters must be int cluster ids [N={n}] in "
                     f"[0, N); got {checks.describe(clusters)}")
  return jnp.clip(jnp.asarray(clusters, jnp.int32), 0, n - 1)


def typicality(features: jnp.ndarray, clusters: jnp.ndarray, *,
               k_nn: int = 5, chunk: int = 256) -> jnp.ndarray:
  """TypiClust's typicality of every row within its own cluster.

  `K / (sum of the distances to the K + 1 nearest members, itself
  included, + 1e-7)` with `K = min(|C| - 1, k_nn)`; 1 in a singleton.

  Args:
    features: `[N, D]`.
    clusters: int `[N]` cluster ids in `[0, N)`.
    k_nn: neighbours K (scikit-activeml's default 5; the paper's 20).
    chunk: rows per block; memory is O(chunk * N).

  Returns:
    float32 `[N]`.

  >>> x = jnp.array([[0.], [1.], [2.], [10.]])
  >>> t = typicality(x, jnp.zeros(4, jnp.int32), k_nn=2)
  >>> [round(v, 4) for v in t.tolist()]  # 2 / (0 + 1 + 2), 2 / (0 + 1 + 1)
  [0.6667, 1.0, 0.6667, 0.1176]
  """
  checks.features("typicality", "features", features)
  n = features.shape[0]
  clusters = _check_clusters("typicality", clusters, n)
  k_nn = checks.size("typicality", k_nn, name="k_nn",
                     what="the number of neighbours")
  return _typicality(features, clusters, k_nn, min(chunk, n))


@functools.partial(jax.jit, static_argnames=("k", "k_nn", "chunk"))
def _typiclust(key, k, available, features, labeled, clusters, k_nn, chunk):
  n = features.shape[0]
  t = _typicality(features, clusters, k_nn, chunk)

  def count(mask):
    return jax.ops.segment_sum(mask.astype(jnp.int32), clusters,
                               num_segments=n)

  size = count(jnp.ones(n, bool))
  open_ = (count(labeled) == 0) & (count(available) > 0)
  sizes = jnp.where(open_, size, 0)

  def pick(i, carry):
    sizes, taken, chosen, scores = carry
    key_i = fold_or_none(key, i)
    has_cluster = sizes.max() > 0
    c = argmax_tied(sizes, fold_or_none(key_i, 0))
    cand = available & ~taken
    value = jnp.where(has_cluster,
                      jnp.where(cand & (clusters == c), t, -jnp.inf),
                      jnp.where(cand, 1.0, -jnp.inf))
    j = argmax_tied(value, fold_or_none(key_i, 1))
    sizes = jnp.where(has_cluster, sizes.at[c].set(0), sizes)
    return (sizes, taken.at[j].set(True), chosen.at[i].set(j),
            scores.at[i].set(value))

  init = (sizes, jnp.zeros(n, bool), jnp.zeros(k, jnp.int32),
          jnp.zeros((k, n), jnp.float32))
  _, _, chosen, scores = lax.fori_loop(0, k, pick, init)
  return chosen, scores


def typiclust_from_clusters(key: jax.Array | None, k: int,
                            available: jnp.ndarray | None = None, *,
                            features: jnp.ndarray, labeled: jnp.ndarray,
                            clusters: jnp.ndarray, k_nn: int = 5,
                            chunk: int = 256, return_scores: bool = False):
  """TypiClust's selection given a clustering of all N rows.

  A cluster is open if it holds no labeled row and some available one.
  k times: take the largest open cluster, pick its most typical
  available row (`typicality`), close the cluster. With no open cluster
  left, any available row not yet picked (scikit-activeml takes a
  uniformly random candidate there).

  Args:
    key: ties (equal sizes, equal typicality, the fallback) go uniformly
      at random under the key, as scikit-activeml's `rand_argmax`; None
      sends them to the lowest index.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    features: `[N, D]`.
    labeled: bool `[N]`.
    clusters: int `[N]` cluster ids in `[0, N)`.
    k_nn: neighbours of the typicality.
    chunk: rows per block of the neighbour search.
    return_scores: also return the `[k, N]` values each pick maximised
      (typicality in the chosen cluster, -inf elsewhere).

  Returns:
    int32 `[k]` indices in pick order (and the scores if asked).
  """
  fn = "typiclust_from_clusters"
  if key is not None:
    checks.key(fn, key)
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  clusters = _check_clusters(fn, clusters, features.shape[0])
  k_nn = checks.size(fn, k_nn, name="k_nn", what="the number of neighbours")
  picks, scores = _typiclust(key, k, available, features, labeled, clusters,
                             k_nn, min(chunk, features.shape[0]))
  return (picks, scores) if return_scores else picks


@functools.partial(jax.jit, static_argnames=(
    "k", "max_clusters", "k_nn", "iters", "chunk"))
def _typiclust_full(key, k, available, features, labeled, max_clusters,
                    k_nn, iters, chunk):
  n_clusters = jnp.minimum(labeled.sum() + k, max_clusters)
  _, clusters = kmeans_dynamic(jax.random.fold_in(key, 0), n_clusters,
                               max_clusters, points=features, iters=iters)
  return _typiclust(jax.random.fold_in(key, 1), k, available, features,
                    labeled, clusters, k_nn, chunk)[0]


def typiclust(key: jax.Array, k: int, available: jnp.ndarray | None = None,
              *, features: jnp.ndarray, labeled: jnp.ndarray, k_nn: int = 5,
              max_clusters: int = MAX_CLUSTERS, iters: int = 20,
              chunk: int = 256) -> jnp.ndarray:
  """TypiClust: the most typical point of each large uncovered cluster.

  k-means (`kmeans_dynamic`, key `fold_in(key, 0)`) of all N rows into
  `min(|L| + k, max_clusters, N)` clusters, then
  `typiclust_from_clusters` with ties drawn from `fold_in(key, 1)`.

  Args:
    key: PRNG key of the k-means seeding and the ties.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    features: `[N, D]` embeddings of all rows, labeled ones included.
    labeled: bool `[N]`.
    k_nn: neighbours of the typicality (scikit-activeml 5, paper 20).
    max_clusters: static cap on the clusters (the paper's code: 500).
    iters: Lloyd iterations.
    chunk: rows per block of the neighbour search.

  Returns:
    int32 `[k]` indices in pick order.

  >>> x = jnp.concatenate([jnp.arange(6.)[:, None], 50 + jnp.arange(4.)[
  ...     :, None]])
  >>> typiclust(jax.random.key(0), 1, features=x,
  ...           labeled=jnp.arange(10) == 9).tolist()  # middle of the 6
  [2]
  """
  fn = "typiclust"
  checks.key(fn, key)
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  n = features.shape[0]
  max_clusters = min(checks.size(fn, max_clusters, name="max_clusters",
                                 what="the cap on the clusters"), n)
  k_nn = checks.size(fn, k_nn, name="k_nn", what="the number of neighbours")
  return _typiclust_full(key, k, available, features, labeled, max_clusters,
                         k_nn, iters, min(chunk, n))
