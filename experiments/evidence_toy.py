"""REPRODUCTION.md's section 8 (the toy of Figure 1), from the records of
`python -m experiments.toy` under `toy/runs/s<seed>/mlp<net>_<acq>/`."""

import itertools
import os
import statistics

from experiments import evidence

__all__ = ["toy_gains", "toy_gains_per_seed", "toy_overlap", "toy_verdict"]

_TOY_NETWORKS = ("2", "4-2", "4-4-2")


def toy_gains_per_seed(records: str) -> tuple[list[str], dict[str, list]]:
  """The toy's seeds (`s<k>`) and, per network, entropy's gain over random
  (test accuracy, points) per round, one curve per seed, from
  `toy/runs/s<seed>/mlp<net>_<acq>/`."""
  root = os.path.join(records, "toy", "runs")
  seeds = sorted(evidence.cells(root), key=lambda s: int(s.lstrip("s")))
  gains = {}
  for net in _TOY_NETWORKS:
    gains[net] = []
    for seed in seeds:
      entropy, random = (evidence.accuracies(os.path.join(root, seed,
                                                  f"mlp{net}_{acq}"))
                         for acq in ("entropy", "random"))
      gains[net].append([100 * (e - r) for e, r in zip(entropy, random,
                                                         strict=True)])
  return seeds, gains


def toy_gains(records: str) -> str:
  """Section 8's table: entropy's gain over random (test accuracy, points)
  per toy network and seed, from `toy/runs/s<seed>/mlp<net>_<acq>/`."""
  seeds, gains = toy_gains_per_seed(records)
  lines = [f"| MLP | mean gain over rounds 1-5, seeds "
           f"{' / '.join(s.lstrip('s') for s in seeds)} | mean | final "
           f"gain, seeds {' / '.join(s.lstrip('s') for s in seeds)} |",
           "|---|---|---|---|"]
  for net in _TOY_NETWORKS:
    means = [statistics.mean(curve[1:6]) for curve in gains[net]]
    finals = [curve[-1] for curve in gains[net]]
    lines.append(f"| {net} | {' / '.join(map(evidence.signed, means))} | "
                 f"{evidence.signed(statistics.mean(means))} | "
                 f"{' / '.join(map(evidence.signed, finals))} |")
  return "\n".join(lines) + "\n"


def toy_verdict(records: str) -> str:
  """Section 8's verdict on "whether entropy beats random depends on the
  architecture": per network, entropy's mean gain over random in rounds
  1-5 with its interval over seeds and the rule's verdict; the claim holds
  when one network's gain holds and another's does not hold."""
  seeds, gains = toy_gains_per_seed(records)
  parts, verdicts = [], []
  for net in _TOY_NETWORKS:
    mean, low, high = evidence.seed_interval(
        statistics.mean(curve[1:6]) for curve in gains[net])
    verdicts.append(evidence.rule_verdict(low, high))
    parts.append(f"MLP {net}: {evidence.signed(mean)} points "
                 f"[{evidence.signed(low)}, {evidence.signed(high)}], "
                 f"{verdicts[-1]}")
  claim = evidence.claim_some_each_way(verdicts)
  return (f"Entropy's gain over random by the stated rule ({len(seeds)} "
          f"seeds; mean of rounds 1-5, 95 % bootstrap interval over "
          f"seeds): {'; '.join(parts)}. That the gain depends on the "
          f"architecture (one network's gain holds, another's does not "
          f"hold): **{claim}**.\n")


def toy_overlap(records: str) -> str:
  """How much the toy networks' entropy picks overlap: the Jaccard index
  of every pair of networks' acquired sets, over pairs and seeds."""
  root = os.path.join(records, "toy", "runs")
  indices = []
  for seed in evidence.cells(root):
    picked = {}
    for net in _TOY_NETWORKS:
      picked[net] = {i for r in evidence.records(os.path.join(
          root, seed, f"mlp{net}_entropy")) for i in r["acquired"] or []}
    indices += [len(picked[a] & picked[b]) / len(picked[a] | picked[b])
                for a, b in itertools.combinations(_TOY_NETWORKS, 2)]
  return (f"In every seed the three networks' entropy picks share only "
          f"{100 * min(indices):.0f}-{100 * max(indices):.0f} % of their "
          f"examples (Jaccard index of each pair's acquired sets).\n")
