"""Rank correlations against SciPy."""

import numpy as np
import pytest
from scipy import stats

from jaxdal import rank_correlation


def test_kendall_tau_matches_scipy():
  rng = np.random.default_rng(0)
  for _ in range(20):
    a, b = rng.integers(0, 4, 6), rng.integers(0, 4, 6)
    names = [f"s{i}" for i in range(6)]
    got = rank_correlation.kendall_tau(dict(zip(names, a, strict=True)),
                              dict(zip(names, b, strict=True)))
    want = stats.kendalltau(a, b).statistic
    if np.isnan(want):
      assert np.isnan(got)
    else:
      assert got == pytest.approx(want)
  # A single shared name ranks nothing.
  assert np.isnan(rank_correlation.kendall_tau({"a": 1}, {"a": 2, "b": 3}))


def test_spearman_matches_scipy_with_ties():
  rng = np.random.default_rng(3)
  a = rng.integers(0, 5, 12).astype(float)
  b = a + rng.normal(0, 2, 12)
  assert rank_correlation.spearman(a, b) == pytest.approx(
      stats.spearmanr(a, b).statistic, abs=1e-12)
  assert np.isnan(rank_correlation.spearman([1, 2], [2, 1]))
  assert np.isnan(rank_correlation.spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_p_is_a_seeded_permutation_test():
  x, y = [1, 2, 3, 4, 5, 6, 7], [2, 1, 4, 3, 6, 5, 7]
  p = rank_correlation.spearman_p(x, y)
  assert p == rank_correlation.spearman_p(x, y)
  # Exact two-sided p over all 5040 orderings, from scipy.
  exact = stats.spearmanr(x, y).pvalue
  assert 0 < p < 0.05 and abs(p - exact) < 0.01
