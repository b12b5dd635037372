"""Class overlap measures: Fisher's F1 and the MST-based N1 of Ho & Basu.

* `fisher_ratio`: problexity's F1 score `1 / (1 + max_f r_f)`, averaged
  over class pairs, from the per-feature Fisher ratios `r_f` (lower = more
  separable); not the raw maximum ratio.
* `boundary_fraction`: Ho & Basu's N1, the fraction of points that end an
  edge joining two classes in the Euclidean minimum spanning tree, as ECoL
  computes it.
* `problexity_n1`: problexity's differently normalised variant, cross-class
  edges / 2 / n of each class pair's own tree, averaged over class pairs.

The trees come from Prim's algorithm on distance rows from `neighbours`.
Only jax and numpy are imported.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdal.complexity.neighbours import (
    _HIGHEST,
    DENSE_MAX_POINTS,
    _as_features,
    _as_labels,
    _centre,
    _check_classes,
    _row_fn,
)

__all__ = ["boundary_fraction", "fisher_ratio", "problexity_n1"]

# ------------------------------------------------------------------------ F1


def _fisher_ratio(x, labels, num_classes: int) -> jnp.ndarray:
  onehot = (labels[:, None] == jnp.arange(num_classes)).astype(x.dtype)
  counts = onehot.sum(axis=0)
  safe = jnp.maximum(counts, 1.0)[:, None]
  means = jnp.matmul(onehot.T, x, precision=_HIGHEST) / safe
  # Two passes (centre, then square) for float32: E[x^2] - E[x]^2 cancels.
  xc = x - means[labels]
  var = jnp.matmul(onehot.T, xc * xc, precision=_HIGHEST) / safe
  i, j = np.triu_indices(num_classes, 1)
  p0 = counts[i] / jnp.maximum(counts[i] + counts[j], 1.0)
  p1 = counts[j] / jnp.maximum(counts[i] + counts[j], 1.0)
  gap2 = (means[i] - means[j]) ** 2
  # problexity's numerator, term for term: twice the between-class
  # variance of the pair, 2 p0 p1 (mu0 - mu1)^2.
  between = (p0 * p1)[:, None] * gap2 + (p1 * p0)[:, None] * gap2
  within = p0[:, None] * var[i] + p1[:, None] * var[j]
  ratio = between / within  # 0/0 (constant feature) -> NaN, skipped below
  f1 = 1.0 / (1.0 + jnp.nanmax(ratio, axis=1))
  present = (counts[i] > 0) & (counts[j] > 0)
  return jnp.sum(jnp.where(present, f1, 0.0)) / jnp.sum(present)


_fisher_ratio_jit = jax.jit(_fisher_ratio, static_argnames="num_classes")


def fisher_ratio(features, labels, num_classes: int) -> float:
  r"""Ho & Basu's F1 as problexity computes it: `1 / (1 + max ratio)`.

  This is *not* the raw maximum Fisher discriminant ratio but problexity's
  complexity score built from it, in (0, 1]: lower means some single
  feature separates the classes better. For one pair of classes with
  proportions `p0, p1`, per-class means `mu0, mu1` and per-class population
  variances `s0^2, s1^2` (ddof 0), feature by feature

    r_f = 2 p0 p1 (mu0_f - mu1_f)^2 / (p0 s0_f^2 + p1 s1_f^2),
    F1  = 1 / (1 + max_f r_f),

  with features whose ratio is 0/0 skipped (problexity's `nanmax`); the
  raw maximum ratio of the pair is `1 / F1 - 1`. The factor 2 is
  problexity's (its numerator adds `p0 p1 (mu0 - mu1)^2` twice): `r_f` is
  twice ECoL's between-over-within variance ratio, and equals Ho & Basu's
  `(mu0 - mu1)^2 / (s0^2 + s1^2)` only for balanced classes. No feature
  scaling is applied. With more than two classes, as problexity's
  `ComplexityCalculator` does by default (`multiclass_strategy='ovo'`), the
  result is the mean of the pairwise F1 over all pairs of classes present
  in `labels`.

  >>> x = np.array([[0.0], [1.0], [4.0], [5.0]])
  >>> fisher_ratio(x, np.array([0, 0, 1, 1]), 2)  # r = 2 * .25 * 16 / .25
  0.03030303...

  Args:
    features: `[N, D]` float features.
    labels: `[N]` integer labels in `[0, num_classes)`.
    num_classes: number of classes `C`; absent classes are skipped.

  Returns:
    The mean pairwise F1; NaN when fewer than two classes are present.
  """
  x = _as_features(features)
  y = _as_labels(labels, x.shape[0])
  _check_classes(y, num_classes)
  return float(_fisher_ratio_jit(x, y, num_classes=int(num_classes)))


# ------------------------------------------------------------------ MST, N1


def _prim(row_fn, member, labels, num_steps):
  """Prim's algorithm on `P` vertex subsets at once.

  Args:
    row_fn: `[P]` vertex ids -> `[P, N]` squared distances to all points.
    member: `[P, N]` bool, the vertices of each subset's tree.
    labels: `[N]` int labels.
    num_steps: vertices to add after the first (at least the largest
      subset size minus one; extra steps do nothing).

  Returns:
    `cross [P]`, the number of tree edges joining different labels, and
    `boundary [P, N]`, whether a point ends such an edge. Equal distances
    are broken by the lowest index.
  """
  num_sets, n = member.shape
  sets = jnp.arange(num_sets)
  start = jnp.argmax(member, axis=1)
  in_tree = jnp.zeros((num_sets, n), bool).at[sets, start].set(True)
  # Squared distances give the same tree as distances: only order counts.
  key = jnp.where(member, row_fn(start), jnp.inf)
  parent = jnp.broadcast_to(start[:, None], (num_sets, n))
  cross = jnp.zeros((num_sets,), jnp.int32)
  boundary = jnp.zeros((num_sets, n), bool)

  def step(_, carry):
    in_tree, key, parent, cross, boundary = carry
    open_ = member & ~in_tree
    u = jnp.argmin(jnp.where(open_, key, jnp.inf), axis=1)
    live = open_[sets, u]  # False once a subset's tree is complete
    p = parent[sets, u]
    is_cross = live & (labels[u] != labels[p])
    cross = cross + is_cross
    boundary = boundary.at[sets, u].max(is_cross).at[sets, p].max(is_cross)
    in_tree = in_tree.at[sets, u].max(live)
    row = row_fn(u)
    closer = live[:, None] & member & (row < key)
    key = jnp.where(closer, row, key)
    parent = jnp.where(closer, u[:, None], parent)
    return in_tree, key, parent, cross, boundary

  carry = (in_tree, key, parent, cross, boundary)
  _, _, _, cross, boundary = lax.fori_loop(0, num_steps, step, carry)
  return cross, boundary


def _boundary_count(row_fn, labels) -> jnp.ndarray:
  # Counts, not fractions, leave the jitted code: the division happens on
  # the host in float64, so N1 is exact.
  n = labels.shape[0]
  _, boundary = _prim(row_fn, jnp.ones((1, n), bool), labels, n - 1)
  return jnp.sum(boundary[0])


@functools.partial(jax.jit, static_argnames="dense")
def _boundary_count_jit(x, labels, *, dense: bool) -> jnp.ndarray:
  xc, x_sq = _centre(x)
  return _boundary_count(_row_fn(xc, x_sq, dense), labels)


def boundary_fraction(features, labels, *,
                      dense_max_points: int = DENSE_MAX_POINTS) -> float:
  r"""Ho & Basu's N1: fraction of points on a cross-class MST edge.

  This is Ho & Basu's N1 as ECoL's `n1` computes it: it counts *points*
  (each point at either end of an MST edge joining two classes, once) on
  one tree of all `N` points. `problexity_n1` is problexity's differently
  normalised variant (cross-class *edges* / 2 / n, each class pair on its
  own tree, averaged over class pairs), typically a much smaller number
  on the same data; the two are not interchangeable.

  Builds the exact minimum spanning tree of the complete graph on all `N`
  points with Euclidean edge lengths and returns

    N1 = |{i : (i, j) in MST, y_i != y_j}| / N;

  no feature scaling is applied. Prim's algorithm runs in a
  `lax.fori_loop` of `N - 1` steps. Up to `dense_max_points` points it
  reads a precomputed `[N, N]` float32 distance matrix (`4 N^2` bytes:
  100 MB at N = 5000); above, each step computes one `[N]` row of
  distances from the features (`O(N D)` memory, `O(N^2 D)` time; on a
  2-core CPU 1.0 s instead of 0.2 s at 5000 x 512).

  Equal distances are broken by index, so on data with ties the tree, and
  N1, may differ from another implementation's; the references in the
  tests have none. Duplicate points are joined by zero-length edges
  (scipy's csgraph, which problexity uses, would treat a zero distance as
  a missing edge).

  >>> x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
  >>> boundary_fraction(x, np.array([0, 0, 1, 1, 1]))
  0.4

  Args:
    features: `[N, D]` float features.
    labels: `[N]` integer labels (any values; only equality matters).
    dense_max_points: largest `N` for the dense-matrix path.

  Returns:
    N1 in [0, 1].
  """
  x = _as_features(features)
  y = _as_labels(labels, x.shape[0])
  dense = x.shape[0] <= dense_max_points
  return int(_boundary_count_jit(x, y, dense=dense)) / x.shape[0]


@functools.partial(jax.jit, static_argnames=("num_classes", "dense"))
def _pair_cross_counts(x, labels, *, num_classes: int,
                       dense: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
  """Cross-class MST edges `[P]` and sizes `[P]` of each class pair."""
  xc, x_sq = _centre(x)
  i, j = np.triu_indices(num_classes, 1)
  member = (labels[None, :] == i[:, None]) | (labels[None, :] == j[:, None])
  sizes = member.sum(axis=1)
  cross, _ = _prim(_row_fn(xc, x_sq, dense), member, labels,
                   jnp.max(sizes) - 1)
  return cross, sizes


def problexity_n1(features, labels, num_classes: int, *,
                  dense_max_points: int = DENSE_MAX_POINTS) -> float:
  r"""problexity's `n1` value, averaged over class pairs as problexity does.

  For one pair of classes, problexity builds the Euclidean MST of the
  pair's `n` points and returns `(number of cross-class edges) / 2 / n`:
  it counts edges, not points, and halves them (its MST matrix holds each
  edge once, yet it divides by 2 as if symmetric). With more than two
  classes, `ComplexityCalculator` (`multiclass_strategy='ovo'`) averages
  that over all pairs of classes, each with its own MST. It is therefore
  well below Ho & Basu's N1 (`boundary_fraction`) on the same data: on
  the 2-class reference set, 0.175 against 0.513. Kept to compare with
  numbers published with problexity.

  Runs all pairs' Prim loops together (`C (C - 1) / 2` trees), over the
  same dense or on-the-fly distances as `boundary_fraction`.

  >>> x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
  >>> problexity_n1(x, np.array([0, 0, 1, 1, 1]), 2)  # 1 edge / 2 / 5
  0.1

  Args:
    features: `[N, D]` float features.
    labels: `[N]` integer labels in `[0, num_classes)`.
    num_classes: number of classes `C`; absent classes are skipped.
    dense_max_points: largest `N` for the dense-matrix path.

  Returns:
    problexity's N1; NaN when fewer than two classes are present.
  """
  x = _as_features(features)
  y = _as_labels(labels, x.shape[0])
  _check_classes(y, num_classes)
  if num_classes < 2:
    return float("nan")
  dense = x.shape[0] <= dense_max_points
  cross, sizes = jax.device_get(_pair_cross_counts(
      x, y, num_classes=int(num_classes), dense=dense))
  counts = np.bincount(np.asarray(y), minlength=num_classes)
  i, j = np.triu_indices(num_classes, 1)
  present = (counts[i] > 0) & (counts[j] > 0)
  if not present.any():
    return float("nan")
  # As problexity, in float64: mean over pairs of cross / 2 / n.
  return float(np.mean(cross[present] / 2 / sizes[present]))
