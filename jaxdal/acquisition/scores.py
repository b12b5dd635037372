"""Uncertainty scores: probabilities in, one score per example out.

Every score follows one convention: higher = more uncertain = acquire first.
Inputs are probabilities `[N, C]`, or Monte-Carlo samples `[T, N, C]` whose
mean over `T` is taken where a single predictive distribution is needed.
"""

import jax.numpy as jnp
from jax import lax
from jax.scipy.special import xlogy


def mean_over_samples(x: jnp.ndarray) -> jnp.ndarray:
  """Mean over the leading (sample) axis, `[T, ...] -> [...]`.

  Written as a product with a vector of 1/T: XLA:CPU reduces a leading
  axis about 70x slower than it multiplies (36 ms vs 0.5 ms for
  [20, 50000, 10]).
  """
  t = x.shape[0]
  w = jnp.full((t,), 1.0 / t, x.dtype)
  return jnp.tensordot(w, x, axes=1, precision=lax.Precision.HIGHEST)


def mean_probs(probs: jnp.ndarray) -> jnp.ndarray:
  """Predictive distribution: `[N, C]` as is, `[T, N, C]` -> mean `[N, C]`."""
  if probs.ndim == 3:
    return mean_over_samples(probs)
  if probs.ndim != 2:
    raise ValueError(
        f"probs must have shape [N, C] or [T, N, C], got {probs.shape}")
  return probs


def _entropy_last_axis(p: jnp.ndarray) -> jnp.ndarray:
  # xlogy(0, 0) == 0, so exact zeros give finite entropies.
  return -xlogy(p, p).sum(axis=-1)


def entropy(probs: jnp.ndarray) -> jnp.ndarray:
  """Predictive entropy in nats, `[N, C]` or `[T, N, C]` -> `[N]`.

  >>> float(entropy(jnp.array([[0.5, 0.3, 0.2]]))[0])  # doctest: +ELLIPSIS
  1.0296...
  """
  return _entropy_last_axis(mean_probs(probs))


def least_confidence(probs: jnp.ndarray) -> jnp.ndarray:
  """`1 - max_c p_c`, `[N, C]` or `[T, N, C]` -> `[N]`."""
  return 1.0 - mean_probs(probs).max(axis=-1)


def margin(probs: jnp.ndarray) -> jnp.ndarray:
  """Negative margin `-(p_(1) - p_(2))` of the two largest, -> `[N]`."""
  p = mean_probs(probs)
  if p.shape[-1] < 2:
    raise ValueError(f"margin needs at least 2 classes, got {p.shape[-1]}")
  # Two max passes instead of a sort: O(C) and fusable.
  first = p.max(axis=-1, keepdims=True)
  top = jnp.argmax(p, axis=-1)[..., None]
  rest = jnp.where(jnp.arange(p.shape[-1]) == top, -jnp.inf, p)
  return rest.max(axis=-1) - first[..., 0]


def bald(probs_mc: jnp.ndarray) -> jnp.ndarray:
  """Mutual information `H[mean_t p_t] - mean_t H[p_t]` in nats.

  Args:
    probs_mc: `[T, N, C]` Monte-Carlo dropout probabilities.

  Returns:
    `[N]` BALD scores, >= 0 up to rounding; 0 when all samples agree.
  """
  if probs_mc.ndim != 3:
    raise ValueError(
        f"bald needs MC samples [T, N, C], got shape {probs_mc.shape}")
  predictive = _entropy_last_axis(mean_over_samples(probs_mc))
  expected = mean_over_samples(_entropy_last_axis(probs_mc))
  return predictive - expected
