"""TwoNN intrinsic dimension (Facco et al. 2017), as scikit-dimension's
`skdim.id.TwoNN` computes it.

Candidate neighbours come from `neighbours` (matmul distances); the two
nearest are then measured again exactly. Only jax and numpy are imported.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.complexity.neighbours import (
    _as_features,
    _candidates_chunked,
    _centre,
)

__all__ = ["twonn_dimension"]


@functools.lru_cache(maxsize=64)
def _keep_table(n: int, discard_fraction: float) -> np.ndarray:
  # skdim keeps int(N * (1 - discard_fraction)) ratios, rounded in float64;
  # a float32 product inside jit would differ (500 * 0.9 -> 449), so the
  # counts for every possible N are tabulated here, on the host.
  return np.array([int(k * (1 - discard_fraction)) for k in range(n + 1)],
                  np.int32)


def _twonn_from_candidates(x, idx, discard_fraction: float) -> jnp.ndarray:
  """TwoNN slope from candidate neighbours `idx` `[N, 3]` of `x` `[N, D]`.

  The candidates' distances are measured again as `|x_i - x_j|`, which is
  exact to float32 rounding (the matmul form is not for close pairs) and
  exactly 0 for duplicate points.
  """
  n = x.shape[0]
  diff = x[idx] - x[:, None, :]
  r = jnp.sort(jnp.sqrt(jnp.sum(diff * diff, axis=-1)), axis=1)
  r1, r2 = r[:, 0], r[:, 1]
  # As skdim: a point with r1 == 0 (a duplicate) has no finite ratio and is
  # dropped; N below is the number of points left.
  valid = r1 > 0
  n_valid = jnp.sum(valid)
  mu = jnp.sort(jnp.where(valid, r2 / jnp.where(valid, r1, 1.0), jnp.inf))
  n_keep = jnp.asarray(_keep_table(n, discard_fraction))[n_valid]
  i = jnp.arange(1, n + 1)
  keep = i <= n_keep
  log_mu = jnp.where(keep, jnp.log(jnp.where(keep, mu, 1.0)), 0.0)
  # -log(1 - F_emp(mu_(i))) with F_emp = i / N.
  frac = jnp.where(keep, i / n_valid, 0.0)
  y = -jnp.log1p(-frac)
  # Least squares through the origin: slope = <x, y> / <x, x>.
  slope = jnp.sum(log_mu * y) / jnp.sum(log_mu * log_mu)
  return jnp.where(n_keep >= 2, slope, jnp.nan)


@functools.partial(jax.jit, static_argnames=("discard_fraction", "chunk_size"))
def _twonn(x, *, discard_fraction: float, chunk_size: int) -> jnp.ndarray:
  xc, x_sq = _centre(x)
  idx = _candidates_chunked(xc, x_sq, chunk_size)
  return _twonn_from_candidates(xc, idx, discard_fraction)


def twonn_dimension(features, *, discard_fraction: float = 0.1,
                    chunk_size: int = 1024) -> float:
  r"""TwoNN intrinsic dimension (Facco et al. 2017), as `skdim.id.TwoNN`.

  For each point, `mu = r2 / r1`, its second over its first
  nearest-neighbour distance. Points with `r1 == 0` (duplicates) are
  dropped, as skdim drops them (skdim also warns; this does not); `N` is
  the number left. The ratios are sorted, the largest are discarded so
  that `int(N * (1 - discard_fraction))` remain, and the dimension is the
  least-squares slope through the origin of

    -log(1 - i / N)   against   log mu_(i),   i = 1 .. int(N * (1 - f)),

  that is, with skdim's empirical CDF `F(mu_(i)) = i / N` over all `N`
  ratios, not just the kept ones. Agrees with skdim to ~1e-5 relative on
  float32 inputs.

  Neighbours are searched `chunk_size` rows at a time with the matmul form
  of squared distances, so memory is `O(chunk_size * N + N * D)`; the two
  nearest (plus a spare) are then measured again exactly.

  >>> t = np.random.default_rng(0).random(500)
  >>> line = np.stack([t, 2 * t, np.sin(3 * t)], axis=1)
  >>> round(twonn_dimension(line), 1)
  1.0

  Args:
    features: `[N, D]` float features, `N >= 3`.
    discard_fraction: fraction of the largest ratios left out of the fit.
    chunk_size: rows per block of the neighbour search.

  Returns:
    The estimated dimension; NaN when fewer than 2 ratios are kept.
  """
  x = _as_features(features)
  if x.shape[0] < 3:
    raise ValueError(f"TwoNN needs at least 3 points, got {x.shape[0]}")
  return float(_twonn(x, discard_fraction=float(discard_fraction),
                      chunk_size=int(chunk_size)))
