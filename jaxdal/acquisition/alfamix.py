"""ALFA-Mix: rows whose prediction flips when mixed towards labeled anchors.

Parvaneh, Abbasnejad, Teney, Haffari, van den Hengel and Shi, "Active
Learning by Feature Mixing", CVPR 2022. An unlabeled row's features
`z_u` are interpolated towards the anchor of each class,

  z*_c = mean of the labeled features of class c,
  z_mix = (1 - alpha) (.) z_u + alpha (.) z*_c,

and the row is a candidate if the classifier head changes its predicted
class `y_hat` for some anchor. In closed form (the authors'
`calculate_optimum_alpha`, dal-toolbox's `alfamix.py`), alpha moves z_u
along the gradient of the loss of its own prediction,

  g = d CE(head(z_u), y_hat) / d z_u,   eps' = alpha_cap / sqrt(D),
  z_mix = z_u + eps' |z*_c - z_u| g / |g|.

The candidates' features, L2-normalised, are clustered by k-means into
`min(k, #candidates)` clusters and the candidate nearest each centre is
picked; a shortfall is filled by the available rows of smallest margin
`p_(1) - p_(2)` not yet picked.

The head. A selector sees probabilities and features only, so the last
layer is recovered from them: for a linear last layer `p =
softmax(z W + b)`, so `log p_c = (z W + b)_c - logsumexp(z W + b)`, and
centring over classes removes the per-row log-sum-exp,

  log p - mean_c log p = z W' + b',   W' = W - mean_c W, b' likewise,

exactly. `linear_head` solves this by least squares over all N rows.
`W'` and `b'` give the same softmax, the same predicted class and the
same gradient `g = W (softmax(z W + b) - e_y)` as W and b (the columns'
mean drops out because `sum_c (softmax - e_y)_c = 0`). The recovery is
exact only for a linear last layer and probabilities without underflow
(they are clipped at the smallest float32 before the log) and from one
forward pass (the log of a mean over T samples is not linear in z).

Where this differs from the authors' code
(`query_strategies/alpha_mix_sampling.py`):

- Anchors: the selector gets no labels, so a labeled row's class is its
  predicted class (argmax of its probabilities) unless `labels` are
  given; a class no labeled row has takes the mean of all labeled rows
  (the authors' rule), and with no labeled rows at all the mean of all N
  rows.
- `y_hat` is the recovered head's class at z_u (argmax p for a linear
  last layer), so a step of zero flips nothing.
- The step form above: the authors' per-dimension
  `alpha = eps' |z* - z_u| g / (|g| (z* - z_u + 1e-8))` gives the same
  z_mix except in dimensions where `|z* - z_u|` is near 1e-8.
- One pass at `alpha_cap` (dal-toolbox; 0.2, the README's closed-form
  setting) where the authors grow the cap in steps until more than k
  rows are candidates.
- k-means is jaxdal's (k-means++ seeds under the key, Lloyd steps);
  the authors run scikit-learn's `KMeans` unseeded.
- The shortfall is filled by the lowest margins, with no duplicates;
  the authors draw it uniformly with replacement, so a row may repeat.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.centroids import _lloyd
from jaxdal.acquisition.kmeans import _kmeans_pp
from jaxdal.acquisition.scores import mean_probs

__all__ = ["alfamix", "alfamix_flips", "linear_head"]

_HI = lax.Precision.HIGHEST


def _linear_head(probs, features):
  p = mean_probs(probs).astype(jnp.float32)
  z = features.astype(jnp.float32)
  logp = jnp.log(jnp.maximum(p, jnp.finfo(jnp.float32).tiny))
  y = logp - logp.mean(axis=1, keepdims=True)
  mu = z.mean(axis=0)
  x = jnp.concatenate([z - mu, jnp.ones((z.shape[0], 1), z.dtype)], axis=1)
  sol = jnp.linalg.lstsq(x, y)[0]
  w = sol[:-1]
  return w, sol[-1] - jnp.dot(mu, w, precision=_HI)


def linear_head(probs: jnp.ndarray, features: jnp.ndarray):
  """The linear last layer behind the probabilities, by least squares.

  Solves `log p - mean_c log p = z W + b` over all rows (exact for
  `p = softmax(z W0 + b0)`, with W, b the class-centred W0, b0).

  Args:
    probs: `[N, C]` or `[T, N, C]` probabilities (the T-mean is used).
    features: `[N, D]` penultimate features.

  Returns:
    `(w [D, C], b [C])`, float32; `softmax(z @ w + b)` is p.

  >>> z = jnp.array([[0.0], [1.0], [2.0]])
  >>> w, b = linear_head(jax.nn.softmax(z @ jnp.array([[1.0, -1.0]])), z)
  >>> [round(float(v), 4) for v in w[0]], [round(float(v), 4) for v in b]
  ([1.0, -1.0], [0.0, 0.0])
  """
  probs = jnp.asarray(probs)
  checks.probs("linear_head", "probs", probs)
  checks.features("linear_head", "features", features, probs.shape[-2],
                  rows_of="probs")
  return _linear_head(probs, features)


def _flips(probs, features, labeled, labels, alpha_cap):
  """`(flips [N, C], margin [N])`: row n's class changes towards anchor c."""
  p = mean_probs(probs).astype(jnp.float32)
  z = features.astype(jnp.float32)
  n, c = p.shape
  w, b = _linear_head(probs, features)
  logits = jnp.dot(z, w, precision=_HI) + b
  y_hat = jnp.argmax(logits, axis=1)
  # d CE / d z = W (softmax - e_y), for every row at once.
  g = jnp.dot(jax.nn.softmax(logits) - jax.nn.one_hot(y_hat, c), w.T,
              precision=_HI)
  g_norm = jnp.linalg.norm(g, axis=1, keepdims=True)
  step = jnp.dot(g / jnp.where(g_norm > 0, g_norm, 1.0), w,
                 precision=_HI)  # logit change per unit move, [N, C]
  # Anchors: mean labeled features per class (`labels`), else all labeled.
  lab = labeled.astype(jnp.float32)
  sums = jax.ops.segment_sum(z * lab[:, None], labels, num_segments=c)
  counts = jax.ops.segment_sum(lab, labels, num_segments=c)
  everyone = jnp.where(lab.sum() > 0, lab, 1.0)
  fallback = jnp.dot(everyone, z, precision=_HI) / everyone.sum()
  anchors = jnp.where(counts[:, None] > 0,
                      sums / jnp.maximum(counts, 1.0)[:, None], fallback)
  eps = alpha_cap / jnp.sqrt(jnp.float32(z.shape[1]))

  def anchor(i, flips):
    dist = jnp.linalg.norm(z - anchors[i], axis=1)
    mixed = logits + (eps * dist)[:, None] * step
    return flips.at[:, i].set(jnp.argmax(mixed, axis=1) != y_hat)

  flips = lax.fori_loop(0, c, anchor, jnp.zeros((n, c), bool))
  top2 = lax.top_k(p, 2)[0]
  return flips, top2[:, 0] - top2[:, 1]


def _labels_or_predicted(fn, probs, labels, n):
  if labels is None:
    return jnp.argmax(mean_probs(probs), axis=-1).astype(jnp.int32)
  labels = jnp.asarray(labels)
  if labels.shape != (n,) or not jnp.issubdtype(labels.dtype, jnp.integer):
    raise ValueError(f"{fn}: labels must be int class ids [N={n}] (read on "
                     f"labeled rows); got {checks.describe(labels)}")
  return jnp.clip(labels, 0, probs.shape[-1] - 1).astype(jnp.int32)


def _check(fn, probs, features, labeled, alpha_cap):
  probs, n = checks.probs_with_features(fn, probs, features)
  if not alpha_cap >= 0:
    raise ValueError(f"{fn}: alpha_cap must be a number >= 0; got "
                     f"{alpha_cap!r}")
  labeled = (jnp.zeros(n, bool) if labeled is None else jnp.asarray(
      checks.mask(fn, "labeled", labeled, n, rows_of="probs")))
  return probs, n, labeled


def alfamix_flips(probs: jnp.ndarray, features: jnp.ndarray,
                  labeled: jnp.ndarray | None = None, *,
                  alpha_cap: float = 0.2,
                  labels: jnp.ndarray | None = None) -> jnp.ndarray:
  """Which anchors flip each row's predicted class (closed form).

  Args:
    probs: `[N, C]` or `[T, N, C]` probabilities (the T-mean is used).
    features: `[N, D]` penultimate features.
    labeled: bool `[N]` rows that make the anchors; None for none.
    alpha_cap: the step `eps' = alpha_cap / sqrt(D)`, >= 0.
    labels: int `[N]` classes of the labeled rows; None for their
      predicted classes.

  Returns:
    bool `[N, C]`: `flips[n, c]` when the recovered head's class of
    `z_n + eps' |z*_c - z_n| g_n / |g_n|` differs from its class at z_n.

  >>> z = jnp.array([[-2.95], [3.0], [-3.0]])
  >>> p = jax.nn.softmax(z @ jnp.array([[1.0, -1.0]]))
  >>> alfamix_flips(p, z, jnp.array([False, True, True]),
  ...               alpha_cap=1.0).tolist()[0]
  [True, False]
  """
  fn = "alfamix_flips"
  probs, n, labeled = _check(fn, probs, features, labeled, alpha_cap)
  labels = _labels_or_predicted(fn, probs, labels, n)
  return jax.jit(_flips)(probs, features, labeled, labels,
                         jnp.asarray(alpha_cap, jnp.float32))[0]


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def _alfamix(key, k, available, probs, features, labeled, labels,
             alpha_cap, iters):
  flips, margin = _flips(probs, features, labeled, labels, alpha_cap)
  cand = available & flips.any(axis=1)
  n = cand.shape[0]
  x = features.astype(jnp.float32)
  norm = jnp.linalg.norm(x, axis=1, keepdims=True)
  x = x / jnp.where(norm > 0, norm, 1.0)
  # k-means of the candidates into min(k, #candidates) clusters: the
  # first seeds of k-means++ (one after another, so they are the seeds
  # of fewer clusters), Lloyd steps over the active centres only.
  n_clusters = jnp.minimum(k, cand.sum())
  active = jnp.arange(k) < n_clusters
  seeds = _kmeans_pp(key, k, cand, x)
  centres, assign = _lloyd(x, x[seeds], active, cand.astype(jnp.float32),
                           iters)
  # The candidate nearest each centre (lowest index on ties); clusters
  # are disjoint, so the picks are distinct.
  d = jnp.where(cand, jnp.sum((x - centres[assign]) ** 2, axis=1), jnp.inf)
  best = jax.ops.segment_min(d, assign, num_segments=k)
  rows = jnp.arange(n, dtype=jnp.int32)
  first = jax.ops.segment_min(jnp.where(cand & (d == best[assign]), rows, n),
                              assign, num_segments=k)
  found = active & (first < n)
  slot = jnp.arange(k)
  picks = first[jnp.argsort(jnp.where(found, slot, k + slot))]
  m = found.sum()
  taken = jnp.zeros(n + 1, bool).at[jnp.where(found, first, n)].set(True)[:n]
  fill = jnp.argsort(jnp.where(available & ~taken, margin, jnp.inf))[:k]
  return jnp.where(slot < m, picks, fill[jnp.maximum(slot - m, 0)]).astype(
      jnp.int32)


def alfamix(key: jax.Array, k: int, available: jnp.ndarray | None = None,
            *, probs: jnp.ndarray, features: jnp.ndarray,
            labeled: jnp.ndarray | None = None,
            labels: jnp.ndarray | None = None, alpha_cap: float = 0.2,
            iters: int = 20) -> jnp.ndarray:
  """ALFA-Mix: k-means over the rows whose class flips, nearest rows.

  Args:
    key: PRNG key of the k-means seeding.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    probs: `[N, C]` or `[T, N, C]` probabilities of all N rows from one
      forward pass (T = 1), `C >= 2`.
    features: `[N, D]` penultimate features of all N rows.
    labeled: bool `[N]` rows that make the anchors; None for none.
    labels: int `[N]` classes of the labeled rows; None for their
      predicted classes (module docstring).
    alpha_cap: the step `eps' = alpha_cap / sqrt(D)`; 0.2 as dal-toolbox.
    iters: Lloyd iterations.

  Returns:
    int32 `[k]` distinct available indices: one per cluster of the
    candidates, then the lowest margins.

  >>> z = jnp.array([[-0.1], [3.0], [-3.0], [0.2]])
  >>> p = jax.nn.softmax(z @ jnp.array([[1.0, -1.0]]))
  >>> alfamix(jax.random.key(0), 2, probs=p, features=z,
  ...         labeled=jnp.array([False, True, True, False]),
  ...         alpha_cap=1.0).tolist()
  [0, 3]
  """
  fn = "alfamix"
  checks.key(fn, key)
  probs, n, labeled = _check(fn, probs, features, labeled, alpha_cap)
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  labels = _labels_or_predicted(fn, probs, labels, n)
  return _alfamix(key, k, available, probs, features, labeled, labels,
                  jnp.asarray(alpha_cap, jnp.float32), iters)
