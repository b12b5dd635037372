"""jaxdal.calibration against NumPy transliterations, scikit-learn's log
loss and SciPy's scalar minimiser."""

import numpy as np
import pytest
from scipy import optimize, special
from sklearn.metrics import log_loss

from jaxdal import calibration


def _inputs(n=500, c=4, seed=0):
  rng = np.random.default_rng(seed)
  logits = rng.normal(size=(n, c)).astype(np.float32) * 2
  probs = special.softmax(logits, axis=1).astype(np.float32)
  exact = special.softmax(logits.astype(np.float64), axis=1)
  labels = np.array([rng.choice(c, p=p) for p in exact])
  return logits, probs, labels


def _numpy_ece(probs, labels, bins=15):
  conf, pred = probs.max(1), probs.argmax(1)
  edges = np.linspace(0, 1, bins + 1)
  ece = 0.0
  for b in range(bins):
    upper = conf < edges[b + 1] if b < bins - 1 else conf <= 1
    inside = (conf >= edges[b]) & upper
    if inside.any():
      ece += inside.mean() * abs((pred[inside] == labels[inside]).mean()
                                 - conf[inside].mean())
  return ece


def test_metrics_against_references():
  _, probs, labels = _inputs()
  assert float(calibration.expected_calibration_error(
      probs, labels)) == pytest.approx(_numpy_ece(probs, labels), abs=1e-6)
  assert float(calibration.negative_log_likelihood(probs, labels)) == \
      pytest.approx(log_loss(labels, probs, labels=range(4)), rel=1e-5)
  onehot = np.eye(4)[labels]
  assert float(calibration.brier_score(probs, labels)) == pytest.approx(
      ((probs - onehot) ** 2).sum(1).mean(), rel=1e-5)


def test_perfectly_calibrated_and_confident_cases():
  labels = np.array([0, 1, 1, 0])
  sure = np.eye(2, dtype=np.float32)[labels]
  assert float(calibration.expected_calibration_error(sure, labels)) == 0.0
  assert float(calibration.brier_score(sure, labels)) == 0.0
  wrong = np.eye(2, dtype=np.float32)[1 - labels]
  assert float(calibration.expected_calibration_error(wrong, labels)) == 1.0
  assert float(calibration.brier_score(wrong, labels)) == 2.0


def test_temperature_equals_scipys_minimiser():
  logits, _, labels = _inputs(n=2000, seed=1)
  hot = logits * 3.0  # over-confident: the fitted temperature is about 3

  def nll(t):
    return -special.log_softmax(hot / t, axis=1)[np.arange(len(labels)),
                                                  labels].mean()

  want = optimize.minimize_scalar(nll, bounds=(0.05, 50),
                                  method="bounded").x
  got = float(calibration.fit_temperature(hot, labels))
  assert got == pytest.approx(want, rel=1e-3)
  assert 2.5 < got < 3.5


def test_temperature_scaled_probabilities_are_softmax_of_scaled_logits():
  logits, probs, _ = _inputs(n=40, c=5)
  for t in (0.5, 1.0, 3.0):
    want = special.softmax(logits.astype(np.float64) / t, axis=1)
    got = np.asarray(calibration.temperature_scaled(probs, t))
    np.testing.assert_allclose(got, want, atol=2e-6)
  # MC samples [T, N, C] scale row by row.
  stacked = np.stack([probs, probs[::-1]])
  np.testing.assert_allclose(
      np.asarray(calibration.temperature_scaled(stacked, 2.0))[1],
      np.asarray(calibration.temperature_scaled(probs[::-1], 2.0)), atol=1e-7)


def test_scores_are_the_three_metrics_rounded():
  _, probs, labels = _inputs(n=60)
  got = calibration.scores(probs, labels)
  assert set(got) == {"ece", "nll", "brier"}
  assert got["ece"] == pytest.approx(_numpy_ece(probs, labels), abs=2e-6)
  assert got["brier"] == pytest.approx(
      ((probs - np.eye(4)[labels]) ** 2).sum(1).mean(), abs=2e-6)
