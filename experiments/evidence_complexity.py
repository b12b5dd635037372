"""REPRODUCTION.md's feature-space complexity table, from the
`focus2_medium` records: the complexity of each network's pool features
(as every round records it) beside each acquisition's gain over random."""

import statistics

from experiments import evidence, evidence_focus2

__all__ = ["complexity_table"]

_MEASURES = (("twonn", "TwoNN"), ("effective_rank", "effective rank"),
             ("participation_ratio", "participation ratio"),
             ("fisher_ratio", "F1"), ("boundary_fraction", "N1"))


def complexity_table(records: str) -> str:
  """Per network (joint mode for the optimised ones): each pool-feature
  measure, mean over rounds and runs; how far the acquisitions' mean
  effective ranks lie apart; and each acquisition's AUC gain over random
  (points, paired by seed, mean over seeds)."""
  runs = evidence_focus2.finished_runs(records, ("focus2_medium",))
  nets = [n for n in evidence_focus2.order({k[0] for k in runs})
          if n.startswith("cnn") or n.endswith(", joint")]
  acqs = sorted({k[1] for k in runs} - {"random"})
  lines = ["| network | runs | " + " | ".join(m for _, m in _MEASURES)
           + " | effective rank, range over acquisitions | AUC gain over "
           "random: " + " / ".join(acqs) + " |",
           "|---|---|" + "---|" * (len(_MEASURES) + 2)]
  for net in nets:
    mine = [v for k, v in runs.items() if k[0] == net]
    pools = [p for v in mine for p in v["pool"]]
    gains = []
    for acq in acqs:
      effects = [100 * (runs[net, acq, s]["auc"] - runs[net, "random", s]
                        ["auc"]) for (n, a, s) in runs
                 if (n, a) == (net, acq) and (net, "random", s) in runs]
      gains.append(evidence.signed(statistics.mean(effects), 2)
                   if effects else "n/a")
    per_acq = [statistics.mean(p["effective_rank"] for k, v in runs.items()
                               if k[:2] == (net, a) for p in v["pool"])
               for a in sorted({k[1] for k in runs if k[0] == net})]
    lines.append(f"| {net} | {len(mine)} | " + " | ".join(
        f"{statistics.mean(p[m] for p in pools):.3g}" for m, _ in _MEASURES)
        + " | " + (f"{max(per_acq) - min(per_acq):.2f}" if len(per_acq) > 1
                   else "n/a") + " | " + " / ".join(gains)
        + " |")
  return ("\n".join(lines) + "\n\nMeasures of the penultimate features of "
          "a fixed 2,000-example pool sample, every round; F1 (Ho and "
          "Basu's, as problexity scores it: 1 / (1 + the largest Fisher "
          "ratio)) and N1 (the share of points on a minimum-spanning-tree "
          "edge between classes): lower is more separable.\n")
