"""Feature-space complexity measures: features (and labels) in, floats out.

Each measure takes float32 features `[N, D]` (a `jnp` or numpy array), is
jitted once per shape and static option, and returns a plain Python float:

* `twonn_dimension`: TwoNN intrinsic dimension (Facco et al. 2017), as
  scikit-dimension's `skdim.id.TwoNN` computes it.
* `effective_rank`: Roy & Vetterli (2007), `exp` of the entropy of the
  normalised singular values of the centred features.
* `participation_ratio`: `(sum lambda)^2 / sum lambda^2` of the covariance
  eigenvalues.
* `fisher_ratio`: Ho & Basu's F1 as problexity computes it, that is
  problexity's F1 *score* `1 / (1 + max_f r_f)` (not the raw maximum
  Fisher ratio `max_f r_f`), averaged over class pairs; in (0, 1], lower =
  more separable.
* `boundary_fraction`: Ho & Basu's N1 as ECoL computes it, the fraction of
  points at either end of an edge joining two classes in the Euclidean
  minimum spanning tree of all points.
* `problexity_n1`: problexity's differently normalised N1 variant,
  cross-class MST *edges* / 2 / n of each class pair's own tree, averaged
  over class pairs; a different (typically much smaller) number than
  `boundary_fraction` on the same data.

`measures` computes the first five at once, sharing one distance matrix.

Modules: `neighbours` (input checks, squared distances, nearest-neighbour
candidates, MST distance rows), `dimension` (TwoNN), `spectrum` (effective
rank, participation ratio), `overlap` (F1, Prim's MST, both N1s); this
package holds `measures` and re-exports the public names. Only jax and
numpy are imported.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.complexity.dimension import _twonn_from_candidates, twonn_dimension
from jaxdal.complexity.neighbours import (
    DENSE_MAX_POINTS,
    _as_features,
    _as_labels,
    _candidates_chunked,
    _candidates_from_rows,
    _centre,
    _check_classes,
    _row_fn,
    _sq_dists,
)
from jaxdal.complexity.overlap import (
    _boundary_count,
    _fisher_ratio,
    boundary_fraction,
    fisher_ratio,
    problexity_n1,
)
from jaxdal.complexity.spectrum import (
    _effective_rank_from,
    _participation_ratio_from,
    _singular_values,
    effective_rank,
    participation_ratio,
)

__all__ = [
    "DENSE_MAX_POINTS",
    "boundary_fraction",
    "effective_rank",
    "fisher_ratio",
    "measures",
    "participation_ratio",
    "problexity_n1",
    "twonn_dimension",
]

# `doctest.testmod(jaxdal.complexity)` finds only what this file defines;
# this lists the re-exported functions so their examples run there too.
__test__ = {fn.__name__: fn for fn in (
    twonn_dimension, effective_rank, participation_ratio, fisher_ratio,
    boundary_fraction, problexity_n1)}


@functools.partial(
    jax.jit, static_argnames=("num_classes", "dense", "discard_fraction",
                              "chunk_size"))
def _measures(x, labels, *, num_classes, dense, discard_fraction,
              chunk_size) -> dict[str, jnp.ndarray]:
  xc, x_sq = _centre(x)
  if dense:
    d2 = _sq_dists(xc, x_sq, xc, x_sq)
    idx = _candidates_from_rows(d2, jnp.arange(x.shape[0]))
    row_fn = lambda u: d2[u]
  else:
    idx = _candidates_chunked(xc, x_sq, chunk_size)
    row_fn = _row_fn(xc, x_sq, dense=False)
  s = _singular_values(x)
  out = {"twonn": _twonn_from_candidates(xc, idx, discard_fraction),
         "effective_rank": _effective_rank_from(s),
         "participation_ratio": _participation_ratio_from(s)}
  if labels is not None:
    out["fisher_ratio"] = _fisher_ratio(x, labels, num_classes)
    out["boundary_count"] = _boundary_count(row_fn, labels)
  return out


def measures(features, labels=None, num_classes: int | None = None, *,
             discard_fraction: float = 0.1, chunk_size: int = 1024,
             dense_max_points: int = DENSE_MAX_POINTS) -> dict[str, float]:
  """All measures of `features` (and `labels`), as plain Python floats.

  Keys `twonn`, `effective_rank`, `participation_ratio`, and with labels
  also `fisher_ratio` and `boundary_fraction`; each as the function of that
  name computes it. One jitted call: up to `dense_max_points` points the
  `[N, N]` distance matrix (`4 N^2` bytes) is computed once and serves both
  the TwoNN neighbours and the MST.

  >>> x = np.random.default_rng(0).normal(size=(100, 8))
  >>> m = measures(x, np.arange(100) % 3)  # random labels: much boundary
  >>> len(m), m["boundary_fraction"] > 0.5
  (5, True)

  Args:
    features: `[N, D]` float features, `N >= 3`.
    labels: optional `[N]` integer labels in `[0, num_classes)`.
    num_classes: number of classes; by default `max(labels) + 1`.
    discard_fraction: as in `twonn_dimension`.
    chunk_size: as in `twonn_dimension` (used above `dense_max_points`).
    dense_max_points: largest `N` for the dense-matrix path.

  Returns:
    `{name: value}`.
  """
  x = _as_features(features)
  if x.shape[0] < 3:
    raise ValueError(f"measures need at least 3 points, got {x.shape[0]}")
  y = None
  if labels is not None:
    y = _as_labels(labels, x.shape[0])
    if num_classes is None:
      num_classes = int(np.asarray(y).max()) + 1
    _check_classes(y, num_classes)
    num_classes = int(num_classes)
  out = _measures(x, y, num_classes=num_classes,
                  dense=x.shape[0] <= dense_max_points,
                  discard_fraction=float(discard_fraction),
                  chunk_size=int(chunk_size))
  out = {k: float(v) for k, v in jax.device_get(out).items()}
  if y is not None:
    out["boundary_fraction"] = out.pop("boundary_count") / x.shape[0]
  return out
