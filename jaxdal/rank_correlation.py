"""Rank correlations: Kendall's tau-b between two rankings of the same
acquisitions (is the best acquisition the same on every backbone?), and
Spearman's rho with a seeded permutation p-value (does a complexity measure
order the networks as their acquisition gains do?). Pure NumPy."""

import numpy as np

__all__ = ["kendall_tau", "spearman", "spearman_p"]


def kendall_tau(scores_a: dict, scores_b: dict) -> float:
  """Kendall's tau-b between two rankings of the same acquisitions.

  `scores_x`: `{acquisition: score}` (e.g. normalised AUC on one backbone).
  1 = same order, -1 = reversed; NaN with fewer than two shared names.
  """
  names = sorted(set(scores_a) & set(scores_b))
  if len(names) < 2:
    return float("nan")
  a = np.array([scores_a[n] for n in names])
  b = np.array([scores_b[n] for n in names])
  concordant = discordant = ties_a = ties_b = 0
  for i in range(len(names)):
    for j in range(i + 1, len(names)):
      da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
      if da == 0 and db == 0:
        continue
      if da == 0:
        ties_a += 1
      elif db == 0:
        ties_b += 1
      elif da == db:
        concordant += 1
      else:
        discordant += 1
  denom = np.sqrt((concordant + discordant + ties_a)
                  * (concordant + discordant + ties_b))
  return float((concordant - discordant) / denom) if denom else float("nan")


def spearman(a, b) -> float:
  """Spearman's rank correlation (average ranks for ties); NaN for fewer
  than 3 pairs or a constant side.

  >>> spearman([1, 2, 3, 4], [10, 20, 30, 35])
  1.0
  """
  a, b = np.asarray(a, float), np.asarray(b, float)
  if a.size < 3:
    return float("nan")
  ra, rb = _average_ranks(a), _average_ranks(b)
  ra, rb = ra - ra.mean(), rb - rb.mean()
  denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
  return float((ra * rb).sum() / denom) if denom else float("nan")


def _average_ranks(x: np.ndarray) -> np.ndarray:
  order = np.argsort(x, kind="stable")
  ranks = np.empty(len(x), float)
  ranks[order] = np.arange(len(x), dtype=float)
  for value in np.unique(x):  # ties share their mean rank
    tied = x == value
    ranks[tied] = ranks[tied].mean()
  return ranks


def spearman_p(a, b, *, permutations: int = 10_000, seed: int = 0) -> float:
  """Two-sided permutation p-value of `spearman(a, b)` (seeded, so the
  same inputs always give the same p)."""
  rho = spearman(a, b)
  if not np.isfinite(rho):
    return float("nan")
  rng = np.random.default_rng(seed)
  b = np.asarray(b, float)
  null = np.array([spearman(a, rng.permutation(b))
                   for _ in range(permutations)])
  return float((np.sum(np.abs(null) >= abs(rho) - 1e-12) + 1)
               / (permutations + 1))
