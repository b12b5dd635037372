"""REPRODUCTION.md's section 7 (a larger initial set helps early, and its
advantage shrinks), from the `focus1_initial` records."""

import os
import statistics

from experiments import evidence

__all__ = ["initial_advantage", "initial_effects", "initial_table",
           "initial_verdict"]


def _initial_runs(records: str) -> dict[tuple[int, str, str], list[float]]:
  """focus1_initial's test accuracies (points) by (initial size,
  acquisition, seed), from cells named `<data>_<net>_<initial>_<acq>_s<k>`."""
  root = os.path.join(records, "focus1_initial", "runs")
  runs = {}
  for cell in evidence.cells(root):
    *_, initial, acq, seed = cell.split("_")
    runs[int(initial), acq, seed] = [100 * a for a in evidence.accuracies(
        os.path.join(root, cell))]
  return runs


def initial_table(records: str) -> str:
  """Section 7's table: mean +- sd over the runs of each initial size
  (every acquisition and seed), per round."""
  runs = _initial_runs(records)
  sizes = sorted({k[0] for k in runs})
  rounds = min(len(v) for v in runs.values())
  lines = ["| initial | round 0 | " + " | ".join(map(str, range(1, rounds)))
           + " |", "|---" * (rounds + 1) + "|"]
  for size in sizes:
    curves = [v for k, v in runs.items() if k[0] == size]
    lines.append(f"| {size} | " + " | ".join(
        f"{statistics.mean(c[r] for c in curves):.1f} ± "
        f"{statistics.stdev(c[r] for c in curves):.1f}"
        for r in range(rounds)) + " |")
  return "\n".join(lines) + "\n"


def initial_advantage(records: str) -> str:
  """Section 7's numbers: the largest start's advantage over the smallest
  at equal rounds (mean over acquisitions, per seed), at the first and
  last round, and the starts' means at equal labels."""
  runs = _initial_runs(records)
  sizes = sorted({k[0] for k in runs})
  small, large = sizes[0], sizes[-1]
  acqs = sorted({k[1] for k in runs})
  seeds = sorted({k[2] for k in runs})
  last = min(len(v) for v in runs.values()) - 1
  step = sizes[1] - sizes[0]  # labels added per round (100)

  def advantage(r):
    per_seed = [statistics.mean(runs[large, a, s][r] - runs[small, a, s][r]
                                for a in acqs) for s in seeds]
    return " / ".join(f"{v:.1f}" for v in per_seed)

  def at_labels(labels):
    means = [statistics.mean(v[(labels - size) // step]
                             for k, v in runs.items() if k[0] == size)
             for size in sizes]
    return (f"{max(means) - min(means):.1f} points at {labels} labels "
            f"({' / '.join(f'{m:.1f}' for m in means)})")

  return (f"The advantage of {large} over {small} initial labels at equal "
          f"rounds (mean over the {len(acqs)} acquisitions; seeds "
          f"{' / '.join(s.lstrip('s') for s in seeds)}) is "
          f"{advantage(0)} points at round 0 and {advantage(last)} at "
          f"round {last}; at equal labels the {len(sizes)} starts are "
          f"within {at_labels(large)} and {at_labels(small + last * step)}."
          f"\n")


def initial_effects(records: str) -> dict[str, list[float]]:
  """Per seed, the largest start's advantage over the smallest at round 0
  (mean over acquisitions, points), and how much of it is gone by the
  last round."""
  runs = _initial_runs(records)
  sizes = sorted({k[0] for k in runs})
  acqs = sorted({k[1] for k in runs})
  seeds = sorted({k[2] for k in runs})
  last = min(len(v) for v in runs.values()) - 1

  def advantage(r, s):
    return statistics.mean(runs[sizes[-1], a, s][r] - runs[sizes[0], a, s][r]
                           for a in acqs)

  return {f"advantage of {sizes[-1]} over {sizes[0]} at round 0":
          [advantage(0, s) for s in seeds],
          f"its shrinking by round {last}":
          [advantage(0, s) - advantage(last, s) for s in seeds]}


def initial_verdict(records: str) -> str:
  """Section 7's verdict (`initial_effects`), each effect with its
  interval over seeds."""
  effects = initial_effects(records)
  n = len(next(iter(effects.values())))
  return (f"By the stated rule ({n} seeds; initial labels, mean over the "
          f"acquisitions, points; 95 % bootstrap interval over seeds): "
          + "; ".join(f"{k}: {evidence.effect_cell(v, 'n/a')}"
                      for k, v in effects.items()) + ".\n")
