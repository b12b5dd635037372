"""CLUE: Clustering Uncertainty-weighted Embeddings.

Prabhu, Chandrasekaran, Saenko and Hoffman, "Active Domain Adaptation via
Clustering Uncertainty-weighted Embeddings", ICCV 2021. The available
rows' features are clustered by k-means weighted by each row's predictive
entropy (eq. 5: the weighted k-means objective with `H(Y | x)` as the
weight, solved by weighted Lloyd steps, eq. 6),

  mu_c = sum_{i in C_c} H(p_bar_i) z_i / sum_{i in C_c} H(p_bar_i),

and the row nearest each centre is picked, centre after centre, never
a row picked before:

  pick_c = argmin_{i available, not picked} |z_i - mu_c|.

This is scikit-activeml 1.0.1's `Clue` (entropy of the predicted
probabilities, in nats; all-zero weights become ones; Euclidean distance
over all candidates, not only the cluster's members). The official code
(virajprabhu/CLUE) adds 1e-8 inside the log and may divide the logits by
a temperature first. The k-means is jaxdal's: weighted k-means++ seeds
under the key (the first the most uncertain row), then weighted Lloyd
steps; both references use scikit-learn's `KMeans` unseeded.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.centroids import argmax_tied, fold_or_none
from jaxdal.acquisition.kmeans import _d2_seeding
from jaxdal.acquisition.scores import _entropy_last_axis, mean_probs

__all__ = ["clue", "clue_from_centres", "clue_weights", "weighted_kmeans"]

_HI = lax.Precision.HIGHEST


def _weights(probs, available):
  w = _entropy_last_axis(mean_probs(probs.astype(jnp.float32)))
  w = jnp.where(available, jnp.maximum(w, 0.0), 0.0)
  # scikit-activeml: all-zero uncertainties become ones.
  return jnp.where(w.sum() > 0, w, available.astype(jnp.float32))


def clue_weights(probs: jnp.ndarray,
                 available: jnp.ndarray | None = None) -> jnp.ndarray:
  """CLUE's sample weights: the entropy of the mean probabilities.

  `H(p_bar_i) = -sum_c p_bar_ic log p_bar_ic` on available rows, 0
  elsewhere; if every available weight is 0, 1 on the available rows.

  Args:
    probs: `[N, C]` or `[T, N, C]` probabilities.
    available: bool `[N]`; None for all rows.

  Returns:
    float32 `[N]`.

  >>> w = clue_weights(jnp.array([[0.5, 0.5], [1.0, 0.0]]))
  >>> [round(v, 4) for v in w.tolist()]
  [0.6931, 0.0]
  """
  probs = jnp.asarray(probs)
  checks.probs("clue_weights", "probs", probs)
  n = probs.shape[-2]
  available = (jnp.ones(n, bool) if available is None else jnp.asarray(
      checks.mask("clue_weights", "available", available, n,
                  rows_of="probs")))
  return _weights(probs, available)


def _sqdist(x, centres):
  sq = jnp.sum(x * x, axis=1)
  return (sq[:, None] + jnp.sum(centres * centres, axis=1)[None]
          - 2.0 * jnp.dot(x, centres.T, precision=_HI))


def _lloyd(x, weights, centres, iters):
  k = centres.shape[0]

  def step(_, centres):
    a = jnp.argmin(_sqdist(x, centres), axis=1)
    sums = jax.ops.segment_sum(x * weights[:, None], a, num_segments=k)
    mass = jax.ops.segment_sum(weights, a, num_segments=k)
    # A cluster without weight keeps its centre.
    means = sums / jnp.where(mass > 0, mass, 1.0)[:, None]
    return jnp.where(mass[:, None] > 0, means, centres)

  return lax.fori_loop(0, iters, step, centres)


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def _weighted_kmeans(key, k, features, weights, rows, iters):
  x = features.astype(jnp.float32)
  x = x - x.mean(axis=0)  # Distances unchanged; the expansion cancels less.
  shift = features.astype(jnp.float32).mean(axis=0)
  sq = jnp.sum(x * x, axis=1)

  def sqdist_to(j):
    # Weighted k-means++: draws proportional to w_i * min_c |x_i - c|^2.
    d = sq + sq[j] - 2.0 * jnp.dot(x, x[j], precision=_HI)
    return weights * jnp.maximum(d, 0.0)

  # Seeds among `rows`; once every weighted distance is 0, uniform there.
  seeds = _d2_seeding(weights, sqdist_to, k, key, rows)
  return _lloyd(x, weights, x[seeds], iters) + shift


def weighted_kmeans(key: jax.Array, k: int, *, features: jnp.ndarray,
                    weights: jnp.ndarray, iters: int = 20) -> jnp.ndarray:
  """k-means of `features` with row weights (CLUE, eq. 5-6).

  Seeds: the heaviest row, then k-means++ draws proportional to
  `w_i * d_i^2` (`d_i` the distance to the nearest seed) under the key;
  then `iters` Lloyd steps with weighted means (a cluster of zero weight
  keeps its centre). Rows of weight 0 never move a centre.

  Args:
    key: PRNG key of the seeding.
    k: static number of centres, at most the rows of positive weight.
    features: `[N, D]`.
    weights: float `[N]`, `>= 0`.
    iters: Lloyd iterations.

  Returns:
    float32 centres `[k, D]`.
  """
  fn = "weighted_kmeans"
  checks.key(fn, key)
  checks.features(fn, "features", features)
  n = features.shape[0]
  weights = jnp.asarray(weights, jnp.float32)
  if weights.shape != (n,):
    raise ValueError(f"{fn}: weights must be float [N={n}], as features; "
                     f"got {checks.describe(weights)}")
  k, rows = checks.selectable(fn, k, weights > 0, n, rows_of="features")
  return _weighted_kmeans(key, k, features, weights, rows, iters)


@functools.partial(jax.jit, static_argnames=("k",))
def _clue_picks(key, k, available, features, centres):
  x = features.astype(jnp.float32)
  c = centres.astype(jnp.float32)
  n = x.shape[0]

  def pick(i, carry):
    taken, chosen, scores = carry
    # Differences, not the expansion: exact for rows near a centre.
    d = jnp.sqrt(jnp.sum((x - c[i]) ** 2, axis=1))
    value = jnp.where(available & ~taken, -d, -jnp.inf)
    j = argmax_tied(value, fold_or_none(key, i)).astype(jnp.int32)
    return (taken.at[j].set(True), chosen.at[i].set(j),
            scores.at[i].set(value))

  init = (jnp.zeros(n, bool), jnp.zeros(k, jnp.int32),
          jnp.zeros((k, n), jnp.float32))
  _, chosen, scores = lax.fori_loop(0, k, pick, init)
  return chosen, scores


def clue_from_centres(key: jax.Array | None,
                      available: jnp.ndarray | None = None, *,
                      features: jnp.ndarray, centres: jnp.ndarray,
                      return_scores: bool = False):
  """CLUE's picks given the centres: the nearest free row to each.

  For `c = 0..k-1` in order: the available row not yet picked with the
  smallest Euclidean distance to centre c (scikit-activeml's `Clue`).

  Args:
    key: ties go uniformly at random under the key, as scikit-activeml's
      `rand_argmax`; None sends them to the lowest index.
    available: bool `[N]` selectable rows; None for all.
    features: `[N, D]`.
    centres: `[k, D]`, `k <= available.sum()`.
    return_scores: also return the `[k, N]` utilities each pick maximised
      (minus the distance; -inf on rows not selectable then).

  Returns:
    int32 `[k]` distinct indices in centre order (and the scores if
    asked).

  >>> x = jnp.array([[0.], [1.], [5.], [6.]])
  >>> clue_from_centres(None, features=x,
  ...                   centres=jnp.array([[0.9], [0.8]])).tolist()
  [1, 0]
  """
  fn = "clue_from_centres"
  if key is not None:
    checks.key(fn, key)
  checks.features(fn, "features", features)
  n = features.shape[0]
  checks.features(fn, "centres", centres)
  if centres.shape[1] != features.shape[1]:
    raise ValueError(f"{fn}: centres must be [k, D={features.shape[1]}], "
                     f"as features; got {checks.describe(centres)}")
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable(fn, centres.shape[0], available, n,
                                   rows_of="features")
  picks, scores = _clue_picks(key, k, jnp.asarray(available), features,
                              centres)
  return (picks, scores) if return_scores else picks


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def _clue(key, k, available, probs, features, iters):
  w = _weights(probs, available)
  centres = _weighted_kmeans(jax.random.fold_in(key, 0), k, features, w,
                             available, iters)
  return _clue_picks(jax.random.fold_in(key, 1), k, available, features,
                     centres)[0]


def clue(key: jax.Array, k: int, available: jnp.ndarray | None = None, *,
         probs: jnp.ndarray, features: jnp.ndarray,
         labeled: jnp.ndarray | None = None,
         iters: int = 20) -> jnp.ndarray:
  """CLUE: entropy-weighted k-means of the available rows, nearest rows.

  `clue_weights` of the available rows, `weighted_kmeans` into k centres
  (key `fold_in(key, 0)`), then `clue_from_centres` (ties from
  `fold_in(key, 1)`). Labeled and unavailable rows take no part.

  Args:
    key: PRNG key of the seeding and the ties.
    k: static number of picks (= clusters), `0 < k <= available.sum()`.
    available: bool `[N]` rows clustered and selectable; None for those
      not labeled.
    probs: `[N, C]` or `[T, N, C]` probabilities (the T-mean is used).
    features: `[N, D]`.
    labeled: bool `[N]`; only the default of `available` reads it.
    iters: Lloyd iterations.

  Returns:
    int32 `[k]` distinct indices, one per centre.

  >>> x = jnp.array([[0.], [1.], [2.], [10.], [11.], [12.]])
  >>> p = jnp.full((6, 2), 0.5)
  >>> sorted(clue(jax.random.key(0), 2, probs=p, features=x).tolist())
  [1, 4]
  """
  fn = "clue"
  checks.key(fn, key)
  checks.features(fn, "features", features)
  n = features.shape[0]
  probs = jnp.asarray(probs)
  checks.probs(fn, "probs", probs)
  if probs.shape[-2] != n:
    raise ValueError(f"{fn}: probs must have N={n} rows, as features; got "
                     f"{checks.describe(probs)}")
  if labeled is None:
    labeled = jnp.zeros(n, bool)
  k, available, _ = checks.selector_inputs(fn, k, available, features, labeled)
  return _clue(key, k, available, probs, features, iters)
