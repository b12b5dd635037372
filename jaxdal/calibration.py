"""Calibration of predicted probabilities: expected calibration error,
negative log-likelihood, Brier score, and temperature scaling. Pure
`jax.numpy` over `[N, C]` probabilities (or logits) and `[N]` labels.

  >>> import jax.numpy as jnp
  >>> p = jnp.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
  >>> y = jnp.array([0, 1, 1])
  >>> round(float(brier_score(p, y)), 4)
  0.2733
"""

import jax
import jax.numpy as jnp
from jax.scipy.optimize import minimize

__all__ = ["T_MAX", "T_MIN", "brier_score", "expected_calibration_error",
           "fit_temperature", "negative_log_likelihood", "scores",
           "temperature_scaled"]


# The range of a fitted temperature.
T_MIN, T_MAX = 0.01, 100.0


def expected_calibration_error(probs: jnp.ndarray, labels: jnp.ndarray, *,
                               bins: int = 15) -> jnp.ndarray:
  """ECE (Guo et al., 2017, eq. 3): `sum_b |B_b|/N |acc(B_b) - conf(B_b)|`
  over `bins` equal-width bins of the confidence `max_c p_c`; bin b holds
  confidences in `[b/bins, (b+1)/bins)`, 1.0 in the last (as
  torchmetrics' `MulticlassCalibrationError` bins them).

  Args:
    probs: `[N, C]` probabilities.
    labels: `[N]` int true classes.
    bins: the number of bins.

  Returns:
    `[]` the ECE, in [0, 1].
  """
  conf = probs.max(-1)
  correct = (probs.argmax(-1) == labels).astype(jnp.float32)
  b = jnp.clip(jnp.floor(conf * bins).astype(jnp.int32), 0, bins - 1)
  count = jnp.zeros(bins).at[b].add(1.0)
  acc = jnp.zeros(bins).at[b].add(correct)
  total_conf = jnp.zeros(bins).at[b].add(conf)
  gap = jnp.abs(acc - total_conf)  # = count * |acc_b - conf_b|
  return jnp.sum(jnp.where(count > 0, gap, 0.0)) / probs.shape[0]


def negative_log_likelihood(probs: jnp.ndarray, labels: jnp.ndarray, *,
                            eps: float = 1e-12) -> jnp.ndarray:
  """Mean `-log p_y` over the N rows (probabilities below `eps` count as
  `eps`)."""
  p_true = jnp.take_along_axis(probs, labels[:, None], axis=-1)[:, 0]
  return -jnp.mean(jnp.log(jnp.maximum(p_true, eps)))


def brier_score(probs: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
  """Brier (1950), multi-class: the mean over rows of
  `sum_c (p_c - 1[y = c])^2`, in [0, 2]."""
  onehot = jax.nn.one_hot(labels, probs.shape[-1], dtype=probs.dtype)
  return jnp.mean(jnp.sum((probs - onehot) ** 2, axis=-1))


def fit_temperature(logits: jnp.ndarray, labels: jnp.ndarray
                    ) -> jnp.ndarray:
  """Temperature scaling (Guo et al., 2017): the `T > 0` minimising the
  NLL of `softmax(logits / T)` on held-out rows (BFGS over `log T`, from
  T = 1), clipped to `[T_MIN, T_MAX]`: a model no better than chance on
  them has its NLL falling all the way to the uniform distribution's, as
  T grows without bound.

  Args:
    logits: `[N, C]` held-out logits.
    labels: `[N]` their classes.

  Returns:
    `[]` the temperature; divide logits by it before the softmax.
  """
  def nll(log_t):
    z = logits / jnp.exp(log_t[0])
    return -jnp.mean(jnp.take_along_axis(
        jax.nn.log_softmax(z), labels[:, None], axis=-1))

  result = minimize(nll, jnp.zeros(1), method="BFGS")
  return jnp.clip(jnp.exp(result.x[0]), T_MIN, T_MAX)


def temperature_scaled(probs: jnp.ndarray, temperature) -> jnp.ndarray:
  """`softmax(logits / T)` from probabilities: `p^(1/T)` renormalised over
  the last axis (`log p` and the logits differ by a per-row constant).

  Args:
    probs: `[..., C]` probabilities (e.g. `[T, N, C]` MC samples).
    temperature: `[]` T > 0.

  Returns:
    `[..., C]` the scaled probabilities.
  """
  log_p = jnp.log(jnp.maximum(probs, 1e-30)) / temperature
  return jax.nn.softmax(log_p, axis=-1)


def scores(probs: jnp.ndarray, labels: jnp.ndarray) -> dict:
  """`{"ece", "nll", "brier"}` of `[N, C]` probabilities against `[N]`
  labels, as Python floats rounded to 6 digits (a record's entry)."""
  return {name: round(float(fn(probs, labels)), 6) for name, fn in (
      ("ece", expected_calibration_error), ("nll", negative_log_likelihood),
      ("brier", brier_score))}
