"""REPRODUCTION.md's Focus 2 blocks (findings 3, 4 and 6), from the
`focus2_medium` and `focus2_medium_modes` records: each run's network
(`method`, and `mode` for the optimised ones), acquisition and seed are
read from its `config.json`.

Only finished runs count (every round of the preset recorded). A
comparison between two networks pairs runs by acquisition and seed, uses
the acquisitions and seeds both have finished, and says how many: a
half-done grid is reported as such.
"""

import os
import statistics

from experiments import evidence
from jaxdal import metrics

__all__ = ["dd_growth", "focus2_spread", "focus2_status", "focus2_table",
           "focus2_verdict"]

_GRIDS = ("focus2_medium", "focus2_medium_modes")
_FIXED = ("cnn1", "cnn5", "cnn9")
_ROUNDS = 6  # the medium preset's: 200 initial labels, 5 rounds of 100


def network_name(config: dict) -> str:
  """`cnn5` for a fixed CNN, `bbdropout, joint` for an optimised one."""
  method = config["method"]
  return method if method in _FIXED else f"{method}, {config['mode']}"


def _runs(records: str, grids=_GRIDS) -> dict[tuple, dict]:
  """`{(network, acquisition, seed): {"labeled", "curve", "auc", "host"}}`
  of the finished runs of `grids`."""
  out = {}
  for grid in grids:
    root = os.path.join(records, grid, "runs")
    for cell in evidence.cells(root):
      config, recs = metrics.read_run(os.path.join(root, cell))
      if len(recs) < _ROUNDS:
        continue
      labeled, acc = metrics.learning_curve(recs)
      out[network_name(config), config["acquisition"], config["seed"]] = {
          "labeled": labeled, "curve": acc,
          "auc": metrics.normalised_auc(acc),
          "host": (recs[-1].get("host") or {}).get("cpu", "not recorded")}
  return out


def _order(networks) -> list[str]:
  """Fixed CNNs first, then the optimised networks by method and mode."""
  modes = {"joint": 0, "spo": 1, "upo": 2}
  return sorted(networks, key=lambda n: (
      n not in _FIXED, n.split(", ")[0],
      modes.get(n.split(", ")[-1], 3)))


def focus2_status(records: str) -> str:
  """Finished cells of each Focus 2 grid, per network, and the hosts."""
  from experiments.configs import grids  # noqa: PLC0415
  runs = _runs(records)
  lines = []
  for grid in _GRIDS:
    cells = grids.cells(grids.GRIDS[grid])
    done = _runs(records, (grid,))
    want: dict[str, int] = {}
    for c in cells:
      name = network_name({"mode": "joint", **c})
      want[name] = want.get(name, 0) + 1
    have = {n: sum(1 for k in done if k[0] == n) for n in want}
    lines.append(f"- `{grid}`: {sum(have.values())} of {len(cells)} cells "
                 f"finished: " + ", ".join(
                     f"{n} {have[n]}/{want[n]}" for n in _order(want)) + ".")
  hosts = sorted({r["host"] for r in runs.values()})
  lines.append(f"- Host CPU of those runs: {', '.join(hosts) or 'none'}.")
  return "\n".join(lines) + "\n"


def focus2_table(records: str) -> str:
  """Finding 3's table: test accuracy (%) per labeled-set size, mean +-
  sample sd over each network's finished runs (acquisitions x seeds)."""
  runs = _runs(records)
  networks = _order({k[0] for k in runs})
  if not networks:
    return "No Focus 2 run has finished.\n"
  sizes = next(iter(runs.values()))["labeled"]
  lines = ["| network | runs | " + " | ".join(map(str, sizes)) + " |",
           "|---|---|" + "---|" * len(sizes)]
  for net in networks:
    mine = [v for k, v in runs.items() if k[0] == net]
    acqs = sorted({k[1] for k in runs if k[0] == net})
    seeds = sorted({k[2] for k in runs if k[0] == net})
    cols = []
    for r in range(len(sizes)):
      vals = [100 * v["curve"][r] for v in mine]
      sd = f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""
      cols.append(f"{statistics.mean(vals):.1f}{sd}")
    lines.append(f"| {net} | {len(mine)} ({len(acqs)} acq., seeds "
                 f"{', '.join(map(str, seeds))}) | " + " | ".join(cols)
                 + " |")
  return "\n".join(lines) + "\n"


def paired_effects(runs: dict, net: str, base: str
                   ) -> tuple[list[str], list[int], list[float]]:
  """`(acquisitions, seeds, per-seed effect)`: `net`'s AUC minus `base`'s
  in points, per seed the mean over the acquisitions both finished in
  every shared seed."""
  acqs = sorted({k[1] for k in runs if k[0] == net}
                & {k[1] for k in runs if k[0] == base})
  seeds = sorted(s for s in {k[2] for k in runs if k[0] == net}
                 if all((n, a, s) in runs for n in (net, base)
                        for a in acqs))
  effects = [statistics.mean(100 * (runs[net, a, s]["auc"]
                                    - runs[base, a, s]["auc"])
                             for a in acqs) for s in seeds]
  return acqs, seeds, effects


def focus2_verdict(records: str) -> str:
  """Per optimised network: its AUC minus each fixed CNN's (points, paired
  by acquisition and seed), the bootstrap interval over seeds and the
  rule's verdict ("holds": the optimised network is better)."""
  runs = _runs(records)
  bases = [b for b in _FIXED if any(k[0] == b for k in runs)]
  optimised = [n for n in _order({k[0] for k in runs}) if n not in _FIXED]
  lines = ["| network | acquisitions | seeds | "
           + " | ".join(f"− {b}" for b in bases) + " |",
           "|---|---|---|" + "---|" * len(bases)]
  for net in optimised:
    acqs, seeds, _ = paired_effects(runs, net, bases[0])
    lines.append(f"| {net} | {len(acqs)} | {len(seeds)} | " + " | ".join(
        evidence.effect_cell(paired_effects(runs, net, b)[2],
                             "no shared run") for b in bases) + " |")
  if not optimised:
    lines.append("| (no optimised network has finished) | | |"
                 + " |" * len(bases))
  return ("\n".join(lines) + "\n\nEach cell: the mean over seeds of the "
          "per-seed AUC difference (over the acquisitions both networks "
          "finished), its 95 % bootstrap interval over seeds (every "
          "resample enumerated) and the verdict by the stated rule.\n")


def focus2_spread(records: str) -> str:
  """Finding 4's spreads (points, max - min accuracy across the group per
  round, mean over rounds), from the seed-mean curves of the networks
  (joint mode) and acquisitions that finished the same seeds."""
  runs = _runs(records)
  nets = [n for n in _order({k[0] for k in runs})
          if n in _FIXED or n.endswith(", joint")]
  acqs = sorted({k[1] for k in runs})
  seeds = sorted({k[2] for k in runs})
  table, seed_spread = {}, {}
  for n in nets:
    for a in acqs:
      have = [s for s in seeds if (n, a, s) in runs]
      if not have:
        continue
      curves = [runs[n, a, s]["curve"] for s in have]
      table[n, a] = [statistics.mean(c[r] for c in curves)
                     for r in range(_ROUNDS)]
      if len(have) > 1:
        seed_spread[n, a] = 100 * statistics.mean(
            max(c[r] for c in curves) - min(c[r] for c in curves)
            for r in range(_ROUNDS))
  full = [a for a in acqs if all((n, a) in table for n in nets)]
  across_acq = {n: 100 * statistics.mean(v) for n, v in metrics.spread(
      table, over="acquisition").items()
      if sum(k[0] == n for k in table) > 1}
  across_net = {a: 100 * statistics.mean(v) for a, v in metrics.spread(
      {k: v for k, v in table.items() if k[1] in full},
      over="architecture").items()}
  lines = ["| comparison | per group (points) |", "|---|---|",
           "| across acquisitions, per network | " + ", ".join(
               f"{n} {across_acq[n]:.1f}" for n in nets if n in across_acq)
           + " |",
           "| across networks, per acquisition | " + (", ".join(
               f"{a} {across_net[a]:.1f}" for a in full) or "n/a") + " |",
           "| across seeds, per network and acquisition | " + (", ".join(
               f"{n} {min(v for k, v in seed_spread.items() if k[0] == n):.1f}"
               f"-{max(v for k, v in seed_spread.items() if k[0] == n):.1f}"
               for n in nets if any(k[0] == n for k in seed_spread))
               or "n/a") + " |"]
  return ("\n".join(lines) + f"\n\nNetworks: {', '.join(nets)}; "
          f"acquisitions every one of them finished: "
          f"{', '.join(full) or 'none'}.\n")


def _depth_dropout_runs(records: str) -> dict[str, list[dict]]:
  """`{label: per-round records}` of the finished Depth-Dropout runs: the
  paper's start (`focus2_dd_init`, its q(nu) from `a_init`) and the
  grid's joint runs (the preset's start)."""
  out = {}
  sources = [("focus2_dd_init", "the paper's start"),
             ("focus2_medium", "the preset's start")]
  for grid, start in sources:
    root = os.path.join(records, grid, "runs")
    for cell in evidence.cells(root):
      config, recs = metrics.read_run(os.path.join(root, cell))
      if config["method"] != "depth_dropout" or len(recs) < _ROUNDS:
        continue
      a_init = (config.get("method_kwargs") or {}).get("a_init")
      out[f"{start}{f' (a_init {a_init})' if a_init else ''}, "
          f"{config['acquisition']}, seed {config['seed']}"] = recs
  return out


def dd_growth(records: str) -> str:
  """Finding 6's table: each finished Depth-Dropout run's expected depth
  and total active filters (of the recorded architecture) and its test
  accuracy, per labeled-set size."""
  runs = _depth_dropout_runs(records)
  if not runs:
    return "No Depth-Dropout run's records are committed yet.\n"
  sizes = [r["labeled"] for r in next(iter(runs.values()))]
  lines = ["| run | " + " | ".join(map(str, sizes)) + " |",
           "|---|" + "---|" * len(sizes)]
  for label, recs in runs.items():
    arch = [r["architecture"] for r in recs]
    lines.append(f"| {label}: depth / active filters | " + " | ".join(
        f"{a['depth']:.2f} / {sum(a['active_filters']):.0f}" for a in arch)
        + " |")
    lines.append(f"| {label}: test accuracy (%) | " + " | ".join(
        f"{100 * r['test_accuracy']:.1f}" for r in recs) + " |")
  return "\n".join(lines) + "\n"
