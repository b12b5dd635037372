"""jaxdal.stopping_criteria against scikit-learn's Cohen's kappa, SciPy's
entropy and the reference note's cases (acquisition-breadth.md, 14)."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from jaxdal import stopping_criteria as sc


def test_kappa_against_scikit_learn():
  rng = np.random.default_rng(0)
  for _ in range(5):
    a = rng.integers(0, 5, 300)
    b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 5, 300))
    assert float(sc.cohens_kappa(a, b, 5)) == pytest.approx(
        cohen_kappa_score(a, b), abs=1e-5)


def test_kappa_reference_cases():
  assert float(sc.cohens_kappa(np.array([0, 1, 0, 1]),
                               np.array([0, 1, 1, 0]), 2)) == 0.0
  same = np.array([2, 0, 1, 2])
  assert float(sc.cohens_kappa(same, same, 3)) == 1.0
  # One class everywhere in both: chance agreement is total; small-text
  # (identical arrays) says 1.
  assert float(sc.cohens_kappa(np.zeros(6, int), np.zeros(6, int), 3)) == 1.0


def test_overall_uncertainty_against_scipy():
  rng = np.random.default_rng(1)
  probs = rng.dirichlet(np.ones(4), size=50).astype(np.float32)
  probs[0] = [1, 0, 0, 0]
  want = np.mean([stats.entropy(p) for p in probs]) / np.log(4)
  assert float(sc.overall_uncertainty(probs)) == pytest.approx(want,
                                                               rel=1e-5)
  assert float(sc.overall_uncertainty(np.full((3, 5), 0.2))) == \
      pytest.approx(1.0, rel=1e-6)


def _record(previous, predictions, num_classes=3):
  probs = np.eye(num_classes)[predictions] * 0.9 + 0.1 / num_classes
  return {"labeled": 10, "stopping": sc.round_record(previous, predictions,
                                                     probs, num_classes)}


def test_kappa_window_needs_three_rounds_of_kappas():
  preds = [np.array([0, 1, 2, 0]), np.array([0, 1, 2, 1]),
           np.array([0, 1, 2, 1]), np.array([0, 1, 2, 1]),
           np.array([0, 1, 2, 1])]
  records = []
  for p in preds:
    records.append(_record(records, p))
  kappas = [r["stopping"]["kappa"] for r in records]
  assert kappas[0] is None
  assert kappas[1] == pytest.approx(cohen_kappa_score(preds[0], preds[1]),
                                    abs=1e-6)
  assert kappas[2:] == [1.0, 1.0, 1.0]
  means = [r["stopping"]["kappa_mean"] for r in records]
  assert means[:3] == [None, None, None]
  assert means[3] == pytest.approx((kappas[1] + 2) / 3, abs=1e-6)
  assert means[4] == 1.0
  assert sc.reason_to_stop("kappa", records[3], max_labels=None) is None
  assert "1.0000 >= 0.99" in sc.reason_to_stop("kappa", records[4],
                                               max_labels=None)


def test_uncertainty_and_budget_reasons():
  sure = {"labeled": 30, "stopping": {"kappa": None, "kappa_mean": None,
                                      "uncertainty": 0.01}}
  unsure = {**sure, "stopping": {**sure["stopping"], "uncertainty": 0.5}}
  assert "0.0100 < 0.05" in sc.reason_to_stop("uncertainty", sure,
                                              max_labels=None)
  assert sc.reason_to_stop("uncertainty", unsure, max_labels=None) is None
  assert sc.reason_to_stop("budget", unsure, max_labels=31) is None
  assert "30 labels reached max_labels 30" in sc.reason_to_stop(
      "budget", unsure, max_labels=30)
  assert sc.reason_to_stop("none", sure, max_labels=1) is None
  with pytest.raises(ValueError, match="'kapa'.*valid: none, kappa"):
    sc.reason_to_stop("kapa", sure, max_labels=None)
