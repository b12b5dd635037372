"""REPRODUCTION.md's cost table: what a cell of each grid cost, from the
seconds every round records (`time`: training, selection, prediction,
complexity measures, architecture search)."""

import os
import statistics

from experiments import evidence, evidence_focus2
from jaxdal import metrics

__all__ = ["cell_costs"]

_PHASES = ("train_s", "select_s", "predict_s", "complexity_s", "search_s")
_GRIDS = ("focus1_medium", "focus1_initial", "focus2_medium",
          "focus2_medium_modes", "focus2_dd_init", "beyond_low_budget")


def _network(config: dict) -> str:
  """`cnn5`, `bbdropout, spo`, `cnn` (Focus 1's backbone, with its
  pretraining)."""
  if config.get("method"):
    return evidence_focus2.network_name(config)
  pre = config.get("pretrain", "none")
  return config["backbone"] + (f", {pre}" if pre != "none" else "")


def cell_costs(records: str) -> str:
  """Per grid and network: the median and the least, over its runs, of
  the recorded minutes per run, and the hosts' CPU."""
  rows = {}
  for grid in _GRIDS:
    root = os.path.join(records, grid, "runs")
    for cell in evidence.cells(root):
      config, recs = metrics.read_run(os.path.join(root, cell))
      minutes = sum(r["time"].get(p, 0.0) for r in recs
                    for p in _PHASES) / 60
      host = (recs[-1].get("host") or {}).get("cpu", "not recorded")
      rows.setdefault((grid, _network(config)), []).append((minutes, host))
  lines = ["| grid | network | runs | minutes per run, median (fastest) "
           "| host CPU |", "|---|---|---|---|---|"]
  for (grid, net), runs in rows.items():
    minutes = [m for m, _ in runs]
    lines.append(f"| {grid} | {net} | {len(runs)} | "
                 f"{statistics.median(minutes):.2f} ({min(minutes):.2f}) | "
                 f"{', '.join(sorted({h for _, h in runs}))} |")
  return ("\n".join(lines) + "\n\nMinutes: the seconds the rounds record "
          "for training, selection, prediction, the complexity measures "
          "and the architecture search, summed (start-up, data loading "
          "and evaluation aside), as wall-clock with one or two other runs "
          "sharing the host's 2 cores (and, for a few runs, paused while "
          "timings ran: the median is the typical cost).\n")
