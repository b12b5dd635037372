"""Spectrum measures of the centred features: effective rank (Roy &
Vetterli 2007) and participation ratio, from one set of singular values.

Only jax and numpy are imported.
"""

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from jaxdal.complexity.neighbours import _as_features

__all__ = ["effective_rank", "participation_ratio"]


def _singular_values(x) -> jnp.ndarray:
  """Singular values of the centred `[N, D]` features, `[min(N, D)]`.

  QR first, then the SVD of the small triangular factor: on CPU this is
  ~10x faster than a direct SVD of a tall matrix (5000 x 512: 0.07 s vs
  0.8 s) and as accurate.
  """
  xc = x - x.mean(axis=0)
  if xc.shape[0] < xc.shape[1]:
    xc = xc.T
  r = jnp.linalg.qr(xc, mode="r")
  return jnp.linalg.svd(r, compute_uv=False)


def _effective_rank_from(s) -> jnp.ndarray:
  p = s / jnp.sum(s)
  return jnp.exp(-jnp.sum(xlogy(p, p)))


def _participation_ratio_from(s) -> jnp.ndarray:
  # Covariance eigenvalues are s^2 / (N - 1); the ratio is scale free, and
  # normalising first keeps s^4 from overflowing.
  q = s * s / jnp.sum(s * s)
  return 1.0 / jnp.sum(q * q)


@jax.jit
def _spectrum(x) -> tuple[jnp.ndarray, jnp.ndarray]:
  s = _singular_values(x)
  return _effective_rank_from(s), _participation_ratio_from(s)


def effective_rank(features) -> float:
  r"""Effective rank (Roy & Vetterli 2007) of the centred features.

  With `s_i` the singular values of `X - mean(X)` and `p_i = s_i / sum s`,

    erank = exp(-sum_i p_i log p_i),

  between 1 (rank one) and `min(N, D)` (all singular values equal).

  >>> import numpy as np
  >>> x = np.random.default_rng(0).normal(size=(2000, 4))
  >>> round(effective_rank(x), 1)
  4.0
  >>> round(effective_rank(np.outer(np.arange(10.0), np.ones(3))), 3)
  1.0

  Args:
    features: `[N, D]` float features.

  Returns:
    The effective rank; NaN when the features are constant.
  """
  return float(_spectrum(_as_features(features))[0])


def participation_ratio(features) -> float:
  r"""Participation ratio `(sum_i lambda_i)^2 / sum_i lambda_i^2`.

  `lambda_i` are the eigenvalues of the covariance of the features
  (computed as squared singular values of the centred features). Between 1
  (one direction) and `min(N, D)` (isotropic).

  >>> import numpy as np
  >>> x = np.random.default_rng(0).normal(size=(2000, 4)) * [1, 1, 1, 0]
  >>> round(participation_ratio(x), 1)
  3.0

  Args:
    features: `[N, D]` float features.

  Returns:
    The participation ratio; NaN when the features are constant.
  """
  return float(_spectrum(_as_features(features))[1])
