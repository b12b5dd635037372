"""Reading committed run records, and the statistics REPRODUCTION.md's
verdicts apply everywhere (`experiments.reproduce`).

The rule: a comparison's effect is computed per seed; its 95 % interval is
the percentile bootstrap over seeds with every resample enumerated (no
random draw); the verdict is "holds" where the interval excludes zero in
the paper's direction, "does not hold" where it excludes zero the other
way, "inconclusive" otherwise. Kendall's tau is tau-b on the recorded
(unrounded) values.
"""

import functools
import itertools
import math
import os
import statistics

from jaxdal import metrics, rank_correlation

__all__ = ["NAMES", "accuracies", "auc", "cells", "claim_all_hold",
           "claim_some_each_way", "effect_cell", "effect_verdict",
           "kendall_null", "records", "rule_verdict", "seed_interval",
           "signed"]

# How the documents name datasets and pretraining.
NAMES = {"fashion_mnist": "Fashion-MNIST", "mnist5k": "mnist5k",
         "none": "none", "deepcluster": "DeepCluster"}


def cells(root: str) -> list[str]:
  """The sorted names in the folder of runs `root` (a grid's `runs/`, or a
  toy seed's folder); none when it does not exist. Every generator lists
  runs through here, so the provenance test can hide one run at a time."""
  return sorted(os.listdir(root)) if os.path.isdir(root) else []


def records(path: str) -> list[dict]:
  """The per-round records of the run in folder `path`."""
  return metrics.read_jsonl(os.path.join(path, metrics.METRICS_FILE))


def accuracies(path: str) -> list[float]:
  """Test accuracy of every round of the run in folder `path`."""
  return [r["test_accuracy"] for r in records(path)]


def auc(path: str) -> float:
  """The run's normalised area under its test-accuracy curve."""
  return metrics.normalised_auc(accuracies(path))


def signed(points: float, digits: int = 1) -> str:
  return f"{points:+.{digits}f}"


def seed_interval(values, level: float = 0.95) -> tuple[float, float,
                                                        float]:
  """`(mean, low, high)`: the mean of per-seed effects and its percentile
  bootstrap interval over seeds. With up to 6 seeds every one of the
  `n ** n` resamples is enumerated (no random draw): for 3 seeds the
  interval is the smallest and largest seed, each 1/27 > 2.5 % likely."""
  values = list(values)
  n = len(values)
  if not 2 <= n <= 6:
    raise ValueError(f"seed_interval takes 2 to 6 seeds, got {n}")
  means = sorted(statistics.mean(c) for c in
                 itertools.product(values, repeat=n))
  tail = (1 - level) / 2
  low = means[int(tail * len(means))]
  high = means[-1 - int(tail * len(means))]
  return statistics.mean(values), low, high


def rule_verdict(low: float, high: float) -> str:
  """The stated rule: "holds" where the interval excludes zero in the
  paper's direction (positive), "does not hold" where it excludes zero the
  other way, "inconclusive" otherwise."""
  if low > 0:
    return "holds"
  if high < 0:
    return "does not hold"
  return "inconclusive"


def effect_verdict(effects: list[float]) -> str | None:
  """The rule's verdict on per-seed effects: one seed is inconclusive, no
  seed gives None."""
  if len(effects) < 2:
    return "inconclusive" if effects else None
  return rule_verdict(*seed_interval(effects)[1:])


def claim_all_hold(verdicts: list[str]) -> str:
  """A finding that needs every effect: "holds" where each of `verdicts`
  holds, "does not hold" where one does not, "inconclusive" otherwise
  (and where there is none)."""
  if verdicts and set(verdicts) == {"holds"}:
    return "holds"
  return "does not hold" if "does not hold" in verdicts else "inconclusive"


def claim_some_each_way(verdicts: list[str]) -> str:
  """A "some ... and others ..." finding: "holds" where one effect holds
  and another does not hold, "inconclusive" otherwise."""
  return ("holds" if "holds" in verdicts and "does not hold" in verdicts
          else "inconclusive")


def effect_cell(effects: list[float], none: str) -> str:
  """A table cell for per-seed effects (points): the mean, its bootstrap
  interval over seeds and the rule's verdict; one seed is inconclusive,
  no seed gives `none`."""
  if len(effects) < 2:
    return (f"{effects[0]:+.2f} (one seed: **inconclusive**)" if effects
            else none)
  mean, low, high = seed_interval(effects)
  return (f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]: "
          f"**{rule_verdict(low, high)}**")


@functools.cache
def kendall_null(n: int, level: float = 0.95) -> float:
  """The tau-b two rankings of `n` untied items exceed in absolute value
  with probability `1 - level` when they are independent: every one of
  the n! orders enumerated (n <= 8)."""
  if not 2 <= n <= 8:
    raise ValueError(f"kendall_null takes 2 to 8 items, got {n}")
  base = {i: float(i) for i in range(n)}
  taus = sorted(abs(rank_correlation.kendall_tau(
      base, {i: float(p) for i, p in enumerate(order)}))
      for order in itertools.permutations(range(n)))
  return taus[math.ceil(level * len(taus)) - 1]
