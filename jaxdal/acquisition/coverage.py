"""Coverage selectors for low budgets: ProbCover and MaxHerding.

ProbCover (Yehuda, Dekel, Hacohen and Weinshall, "Active Learning
Through a Covering Lens", NeurIPS 2022) maximises the share of rows that
lie within a ball of radius delta around a labeled row,

  P(L) = |{x : exists l in L, |x - l| <= delta}| / N,

greedily: with the graph `A_ij = [|x_i - x_j| <= delta]` (self-loops
included) and `U` the rows no labeled or picked row covers, pick
`argmax_j sum_{i in U} A_ji`, then drop its ball from U. delta is the
largest value of a grid whose ball purity, the share of rows whose ball
holds no row of another k-means cluster (n_classes clusters),

  purity(delta) = (1/N) |{x : r(x) > delta}|,
  r(x) = distance from x to the nearest row of another cluster,

stays >= alpha = 0.95. As scikit-activeml 1.0.1's `ProbCover`: the grid
`0.2, 0.4, ..., 2.0` is scanned upwards and stops at its first value
below alpha (the first value is kept if none passes; a one-value grid
needs no clustering).

MaxHerding (Bae, Noh and Sutherland, "Generalized Coverage for More
Robust Low-Budget Active Learning", ECCV 2024) maximises the generalized
coverage `(1/|U|) sum_{x in U} max_{s in L+S} k(x, s)` over the unlabeled
rows U, greedily: with `m_x = max_{l in L} k(x, l)` (0 when nothing is
labeled), pick `argmax_j (1/|U|) sum_{x in U} max(k(x, x_j) - m_x, 0)`,
then `m <- max(m, k(., x_j))`. As scikit-activeml 1.0.1's `MaxHerding`:
rows are L2-normalised and `k(x, y) = exp(-gamma |x - y|^2)` with
`gamma = 1 / D` (scikit-learn's `rbf` default; the paper's code uses
gamma = 1).

Both hold an N x N matrix (bool for ProbCover, float32 for MaxHerding),
built in row blocks; each pick reads it once.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.centroids import (
  argmax_tied,
  fold_or_none,
)
from jaxdal.acquisition.kmeans import kmeans

__all__ = [
    "DELTAS",
    "ball_purity",
    "max_coverage",
    "maxherding",
    "probcover",
    "probcover_delta",
]

# scikit-activeml's default grid, np.arange(0.2, 2.2, 0.2).
DELTAS = tuple(0.2 * i for i in range(1, 11))
_HI = lax.Precision.HIGHEST


def _prepare(features, normalize):
  x = features.astype(jnp.float32)
  if normalize:  # As sklearn's `normalize`: a zero row stays zero.
    norm = jnp.linalg.norm(x, axis=1, keepdims=True)
    x = x / jnp.where(norm > 0, norm, 1.0)
  return x


def _row_map(fn, x, chunk):
  """`fn(rows [chunk], x[rows])` over row blocks, stacked to N rows."""
  n = x.shape[0]
  rows = jnp.arange(-(-n // chunk) * chunk).reshape(-1, chunk)
  out = lax.map(lambda r: fn(r, x[jnp.minimum(r, n - 1)]), rows)
  return out.reshape((-1,) + out.shape[2:])[:n]


def _sqdist(xb, x):
  # Callers centre the rows first: |a|^2 + |b|^2 - 2ab cancels less.
  d = (jnp.sum(xb * xb, 1)[:, None] + jnp.sum(x * x, 1)[None]
       - 2.0 * jnp.dot(xb, x.T, precision=_HI))
  return jnp.maximum(d, 0.0)


@functools.partial(jax.jit, static_argnames=("chunk",))
def _other_cluster_distance(x, clusters, chunk):
  x = x - x.mean(axis=0)

  def block(r, xb):
    d = jnp.where(clusters[jnp.minimum(r, x.shape[0] - 1)][:, None]
                  == clusters[None], jnp.inf, _sqdist(xb, x))
    j = jnp.argmin(d, axis=1)
    exact = jnp.sqrt(jnp.sum((xb - x[j]) ** 2, axis=1))
    return jnp.where(jnp.isinf(d.min(axis=1)), jnp.inf, exact)

  return _row_map(block, x, chunk)


def ball_purity(features: jnp.ndarray, clusters: jnp.ndarray,
                deltas=DELTAS, *, normalize: bool = True,
                chunk: int = 256) -> jnp.ndarray:
  """Share of rows whose delta-ball holds only their own cluster.

  `purity(delta) = mean_x [r(x) > delta]`, r(x) the distance from x to
  the nearest row of another cluster.

  Args:
    features: `[N, D]`.
    clusters: int `[N]` cluster ids.
    deltas: radii `[M]`.
    normalize: L2-normalise the rows first.
    chunk: rows per block.

  Returns:
    float32 `[M]`.

  >>> x = jnp.array([[0.], [0.1], [0.2], [5.]])
  >>> ball_purity(x, jnp.array([0, 0, 0, 1]), [1.0, 4.85, 5.0],
  ...             normalize=False).tolist()  # r = 5, 4.9, 4.8, 4.8
  [1.0, 0.5, 0.0]
  """
  checks.features("ball_purity", "features", features)
  r = _other_cluster_distance(_prepare(features, normalize),
                              jnp.asarray(clusters),
                              min(chunk, features.shape[0]))
  deltas = jnp.asarray(deltas, jnp.float32)
  return jnp.mean(r[None] > deltas[:, None], axis=1)


def _choose_delta(purity, deltas, alpha):
  passes = purity >= alpha
  # Index of the first failing delta (M if none fails): keep the one
  # before it, or the first when the first already fails.
  first_fail = jnp.where(passes.all(), passes.shape[0], jnp.argmin(passes))
  return deltas[jnp.maximum(first_fail - 1, 0)]


def probcover_delta(key: jax.Array | None, features: jnp.ndarray, *,
                    n_classes: int, deltas=DELTAS, alpha: float = 0.95,
                    clusters: jnp.ndarray | None = None,
                    normalize: bool = True, iters: int = 20,
                    chunk: int = 256) -> jnp.ndarray:
  """ProbCover's ball radius: the purity rule on a grid.

  The grid is sorted and scanned upwards; the result is the value before
  the first whose `ball_purity` is below alpha (the smallest value when
  even it fails), as scikit-activeml's `ProbCover.delta_max_`.

  Args:
    key: PRNG key of the k-means (unused when `clusters` is given).
    features: `[N, D]` rows, labeled and unlabeled.
    n_classes: static number of k-means clusters (>= 2), the classes.
    deltas: candidate radii, non-negative.
    alpha: purity to keep, in (0, 1).
    clusters: int `[N]` given cluster ids instead of k-means.
    normalize: L2-normalise the rows first.
    iters: Lloyd iterations.
    chunk: rows per block.

  Returns:
    float32 scalar: delta, to log with the round.
  """
  fn = "probcover_delta"
  checks.features(fn, "features", features)
  n_classes = checks.size(fn, n_classes, name="n_classes",
                          what="the number of classes")
  deltas = jnp.sort(jnp.asarray(deltas, jnp.float32).reshape(-1))
  if n_classes < 2 or not 0 < alpha < 1 or deltas.shape[0] == 0:
    raise ValueError(f"{fn}: needs n_classes >= 2, 0 < alpha < 1 and one "
                     f"delta or more; got n_classes={n_classes}, "
                     f"alpha={alpha}, {deltas.shape[0]} deltas")
  if deltas.shape[0] == 1:
    return deltas[0]
  x = _prepare(features, normalize)
  if clusters is None:
    checks.key(fn, key)
    clusters = kmeans(x, min(n_classes, x.shape[0]), key, iters=iters)[1]
  purity = ball_purity(x, clusters, deltas, normalize=False, chunk=chunk)
  return _choose_delta(purity, deltas, alpha)


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def _max_coverage(key, k, available, x, labeled, delta, chunk):
  x = x - x.mean(axis=0)
  delta = jnp.asarray(delta, jnp.float32)
  edges = _row_map(lambda r, xb: _sqdist(xb, x) <= delta * delta, x, chunk)
  n = x.shape[0]
  covered = jnp.any(edges & labeled[:, None], axis=0)

  def pick(i, carry):
    covered, taken, chosen, scores = carry
    degree = jnp.sum(edges & ~covered[None], axis=1).astype(jnp.float32)
    value = jnp.where(available & ~taken, degree, -jnp.inf)
    j = argmax_tied(value, fold_or_none(key, i))
    return (covered | edges[j], taken.at[j].set(True), chosen.at[i].set(j),
            scores.at[i].set(value))

  init = (covered, jnp.zeros(n, bool), jnp.zeros(k, jnp.int32),
          jnp.zeros((k, n), jnp.float32))
  _, _, chosen, scores = lax.fori_loop(0, k, pick, init)
  return chosen, scores


def max_coverage(key: jax.Array | None, k: int,
                 available: jnp.ndarray | None = None, *,
                 features: jnp.ndarray, labeled: jnp.ndarray, delta,
                 normalize: bool = True, chunk: int = 256,
                 return_scores: bool = False):
  """ProbCover's greedy step for a given radius.

  Rows covered by a labeled row start covered; k times, the available row
  whose delta-ball holds the most uncovered rows (`|x_i - x_j| <= delta`)
  is picked and its ball becomes covered.

  Args:
    key: ties go uniformly at random under the key (scikit-activeml's
      `rand_argmax`); None sends them to the lowest index.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    features: `[N, D]`.
    labeled: bool `[N]`.
    delta: ball radius (a float or a traced scalar).
    normalize: L2-normalise the rows first.
    chunk: rows per block of the N x N graph.
    return_scores: also return the `[k, N]` out-degrees each pick
      maximised (-inf where not selectable).

  Returns:
    int32 `[k]` indices in pick order (and the scores if asked).

  >>> x = jnp.array([[0.], [0.1], [0.2], [5.]])
  >>> max_coverage(None, 2, features=x, labeled=jnp.zeros(4, bool),
  ...              delta=0.15, normalize=False).tolist()
  [1, 3]
  """
  fn = "max_coverage"
  if key is not None:
    checks.key(fn, key)
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  picks, scores = _max_coverage(key, k, available,
                                _prepare(features, normalize), labeled,
                                delta, min(chunk, features.shape[0]))
  return (picks, scores) if return_scores else picks


def probcover(key: jax.Array, k: int, available: jnp.ndarray | None = None,
              *, features: jnp.ndarray, labeled: jnp.ndarray,
              n_classes: int = 10, deltas=DELTAS, alpha: float = 0.95,
              normalize: bool = True, iters: int = 20,
              chunk: int = 256) -> jnp.ndarray:
  """ProbCover: `probcover_delta` (key `fold_in(key, 0)`), then
  `max_coverage` (ties from `fold_in(key, 1)`).

  Args:
    key: PRNG key of the k-means and the ties.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    features: `[N, D]` embeddings of all rows, labeled ones included.
    labeled: bool `[N]`.
    n_classes: k-means clusters for the purity (the number of classes;
      scikit-activeml counts the labels seen, at least 2).
    deltas: candidate radii.
    alpha: purity to keep.
    normalize: L2-normalise the rows (the paper's embeddings are unit
      vectors; scikit-activeml uses the rows as given).
    iters: Lloyd iterations.
    chunk: rows per block.

  Returns:
    int32 `[k]` indices in pick order.
  """
  checks.key("probcover", key)
  delta = probcover_delta(jax.random.fold_in(key, 0), features,
                          n_classes=n_classes, deltas=deltas, alpha=alpha,
                          normalize=normalize, iters=iters, chunk=chunk)
  return max_coverage(jax.random.fold_in(key, 1), k, available,
                      features=features, labeled=labeled, delta=delta,
                      normalize=normalize, chunk=chunk)


@functools.partial(jax.jit, static_argnames=("k", "chunk"))
def _maxherding(k, available, x, labeled, gamma, chunk):
  xc = x - x.mean(axis=0)
  kernel = _row_map(lambda r, xb: jnp.exp(-gamma * _sqdist(xb, xc)), xc,
                    chunk)
  n = x.shape[0]
  target = (~labeled).astype(jnp.float32)
  target = target / jnp.maximum(target.sum(), 1.0)
  best = jnp.max(jnp.where(labeled[None], kernel, 0.0), axis=1)

  def pick(i, carry):
    best, taken, chosen, scores = carry
    gain = jnp.dot(jnp.maximum(kernel - best[None], 0.0), target,
                   precision=_HI)
    value = jnp.where(available & ~taken, gain, -jnp.inf)
    j = jnp.argmax(value)
    return (jnp.maximum(best, kernel[j]), taken.at[j].set(True),
            chosen.at[i].set(j), scores.at[i].set(value))

  init = (best, jnp.zeros(n, bool), jnp.zeros(k, jnp.int32),
          jnp.zeros((k, n), jnp.float32))
  _, _, chosen, scores = lax.fori_loop(0, k, pick, init)
  return chosen, scores


def maxherding(key: jax.Array | None, k: int,
               available: jnp.ndarray | None = None, *,
               features: jnp.ndarray, labeled: jnp.ndarray,
               gamma: float | None = None, normalize: bool = True,
               chunk: int = 256, return_scores: bool = False):
  """MaxHerding: greedy generalized coverage with a Gaussian kernel.

  Args:
    key: ignored (deterministic; ties go to the lowest index, where
      scikit-activeml draws among them). None is fine.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    features: `[N, D]` embeddings of all rows, labeled ones included.
    labeled: bool `[N]`.
    gamma: kernel `exp(-gamma |x - y|^2)`; None for 1 / D.
    normalize: L2-normalise the rows first.
    chunk: rows per block of the N x N kernel.
    return_scores: also return the `[k, N]` gains each pick maximised
      (-inf where not selectable).

  Returns:
    int32 `[k]` indices in pick order (and the scores if asked).

  >>> x = jnp.array([[-1.], [0.], [1.]])
  >>> maxherding(None, 1, features=x, labeled=jnp.zeros(3, bool),
  ...            normalize=False).tolist()
  [1]
  """
  del key  # Deterministic.
  fn = "maxherding"
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  gamma = 1.0 / features.shape[1] if gamma is None else gamma
  picks, scores = _maxherding(k, available, _prepare(features, normalize),
                              labeled, jnp.asarray(gamma, jnp.float32),
                              min(chunk, features.shape[0]))
  return (picks, scores) if return_scores else picks
