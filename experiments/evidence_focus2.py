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

__all__ = ["bbdropout_gates", "dd_growth", "dd_growth_verdict", "finished_runs",
           "focus2_spread", "focus2_status", "focus2_table",
           "focus2_verdict", "growth_effects", "order", "paired_effects",
           "spread_effects", "spread_verdict"]

_GRIDS = ("focus2_medium", "focus2_medium_modes")
_FIXED = ("cnn1", "cnn5", "cnn9")
_ROUNDS = 6  # the medium preset's: 200 initial labels, 5 rounds of 100


def network_name(config: dict) -> str:
  """`cnn5` for a fixed CNN, `bbdropout, joint` for an optimised one."""
  method = config["method"]
  return method if method in _FIXED else f"{method}, {config['mode']}"


def finished_runs(records: str, grids=_GRIDS) -> dict[tuple, dict]:
  """`{(network, acquisition, seed): {"labeled", "curve", "auc", "pool",
  "host"}}` (`pool`: each round's pool-feature complexity measures)
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
          "architecture": [r.get("architecture") for r in recs],
          "pool": [r["complexity"]["pool"] for r in recs
                   if (r.get("complexity") or {}).get("pool")],
          "host": (recs[-1].get("host") or {}).get("cpu", "not recorded")}
  return out


def order(networks) -> list[str]:
  """Fixed CNNs first, then the optimised networks by method and mode."""
  modes = {"joint": 0, "spo": 1, "upo": 2}
  return sorted(networks, key=lambda n: (
      n not in _FIXED, n.split(", ")[0],
      modes.get(n.split(", ")[-1], 3)))


def focus2_status(records: str) -> str:
  """Finished cells of each Focus 2 grid, per network, and the hosts."""
  from experiments.configs import grids  # noqa: PLC0415
  runs = finished_runs(records)
  lines = []
  for grid in _GRIDS:
    cells = grids.cells(grids.GRIDS[grid])
    done = finished_runs(records, (grid,))
    want: dict[str, int] = {}
    for c in cells:
      name = network_name({"mode": "joint", **c})
      want[name] = want.get(name, 0) + 1
    have = {n: sum(1 for k in done if k[0] == n) for n in want}
    lines.append(f"- `{grid}`: {sum(have.values())} of {len(cells)} cells "
                 f"finished: " + ", ".join(
                     f"{n} {have[n]}/{want[n]}" for n in order(want)) + ".")
  hosts = sorted({r["host"] for r in runs.values()})
  lines.append(f"- Host CPU of those runs: {', '.join(hosts) or 'none'}.")
  return "\n".join(lines) + "\n"


def focus2_table(records: str) -> str:
  """Finding 3's table: test accuracy (%) per labeled-set size, mean +-
  sample sd over each network's finished runs (acquisitions x seeds)."""
  runs = finished_runs(records)
  networks = order({k[0] for k in runs})
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
  if not acqs:
    return [], [], []
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
  runs = finished_runs(records)
  bases = [b for b in _FIXED if any(k[0] == b for k in runs)]
  optimised = [n for n in order({k[0] for k in runs}) if n not in _FIXED]
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
  runs = finished_runs(records)
  nets = [n for n in order({k[0] for k in runs})
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


def _complete_design(runs: dict, nets: list[str]) -> tuple[list, list]:
  """`(networks, acquisitions)`: the largest set of `nets` that finished
  the same two or more acquisitions in every seed of the grid, and those
  acquisitions (a network with the fewest is dropped until they do)."""
  seeds = sorted({k[2] for k in runs})
  full = {n: {a for a in {k[1] for k in runs}
              if all((n, a, s) in runs for s in seeds)} for n in nets}
  nets = [n for n in nets if len(full[n]) > 1]
  while nets:
    acqs = set.intersection(*(full[n] for n in nets))
    if len(acqs) > 1:
      return nets, sorted(acqs)
    nets.remove(min(nets, key=lambda n: (len(full[n]), n in _FIXED)))
  return [], []


def _spread_effect(runs: dict, nets, acqs, seed) -> float:
  """One seed's spread across networks minus its spread across
  acquisitions (`metrics.spread`: max - min accuracy per round, mean over
  rounds and over the groups), in points."""
  table = {(n, a): runs[n, a, seed]["curve"] for n in nets for a in acqs}

  def mean_spread(over):
    return statistics.mean(float(v.mean()) for v in metrics.spread(
        table, over=over).values())

  return 100 * (mean_spread("architecture") - mean_spread("acquisition"))


def spread_effects(records: str) -> tuple[list[str], dict[str, list]]:
  """`(acquisitions, {group label: per-seed effects})`: the spread across
  networks (joint mode) minus the spread across acquisitions, per seed,
  without the weakest network, cnn1, and with every network."""
  runs = finished_runs(records)
  nets, acqs = _complete_design(runs, [
      n for n in order({k[0] for k in runs})
      if n in _FIXED or n.endswith(", joint")])
  seeds = sorted({k[2] for k in runs})
  out = {}
  for label, group in (("without cnn1", [n for n in nets if n != "cnn1"]),
                       ("every network", nets)):
    if len(group) > 1:
      out[f"{label} ({', '.join(group)})"] = [
          _spread_effect(runs, group, acqs, s) for s in seeds]
  return acqs, out


def spread_verdict(records: str) -> str:
  """Finding 4's verdict (`spread_effects`), with the interval over seeds
  of each group."""
  acqs, effects = spread_effects(records)
  if not effects:
    return "Too few networks have finished every seed of two acquisitions.\n"
  seeds = len(next(iter(effects.values())))
  return (f"Spread across networks minus spread across acquisitions "
          f"({seeds} seeds; acquisitions {', '.join(acqs)}; per seed, "
          f"max - min test accuracy per round, mean over rounds and groups, "
          f"points; 95 % bootstrap interval over seeds): " + "; ".join(
              f"{k}: {evidence.effect_cell(v, 'n/a')}"
              for k, v in effects.items()) + ".\n")


def growth_effects(records: str) -> dict[str, list[float]]:
  """`{"active filters" | "expected depth": per-seed growth}` from the
  first to the last round of the paper's-start Depth-Dropout runs."""
  runs = [v for k, v in _depth_dropout_runs(records).items()
          if k.startswith("the paper's start")]

  def growth(recs, of):
    return of(recs[-1]["architecture"]) - of(recs[0]["architecture"])

  return {"active filters": [growth(r, lambda a: sum(a["active_filters"]))
                             for r in runs],
          "expected depth": [growth(r, lambda a: a["depth"]) for r in runs]}


def dd_growth_verdict(records: str) -> str:
  """Finding 6's verdict (`growth_effects`), with the interval over the
  seeds of the paper's start."""
  effects = growth_effects(records)
  n = len(effects["expected depth"])
  if not n:
    return "No run from the paper's start has finished.\n"
  return (f"Growth from the first to the last round, the paper's start "
          f"({n} seed{'s' if n > 1 else ''}; 95 % bootstrap interval over "
          f"seeds): " + "; ".join(f"{k} {evidence.effect_cell(v, 'n/a')}"
                                  for k, v in effects.items()) + ".\n")


def bbdropout_gates(records: str) -> str:
  """How far BBDropout prunes: per labeled-set size, the open gates (of
  all channels) and the mean keep probability E[pi], means over its
  finished jointly optimised runs."""
  runs = [v for k, v in finished_runs(records, ("focus2_medium",)).items()
          if k[0] == "bbdropout, joint"]
  if not runs:
    return "No BBDropout run has finished.\n"
  archs = [v["architecture"] for v in runs]
  total = len(archs[0][0]["active_filters"]) * archs[0][0]["filters"]

  def row(label, of, digits):
    return f"| {label} | " + " | ".join(
        f"{statistics.mean(of(a[r]) for a in archs):.{digits}f}"
        for r in range(_ROUNDS)) + " |"

  lines = ["| labels | " + " | ".join(map(str, runs[0]["labeled"])) + " |",
           "|---|" + "---|" * len(runs[0]["labeled"]),
           row(f"open gates (of {total})",
               lambda a: sum(a["active_filters"]), 1),
           row("mean E[pi]", lambda a: statistics.mean(a["expected_pi"]), 3)]
  return "\n".join(lines) + f"\n\n{len(runs)} runs (every acquisition and " \
      "seed that finished).\n"
