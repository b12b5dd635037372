"""REPRODUCTION.md's "Beyond the paper" blocks, from the
`beyond_low_budget` records (`<data>_<backbone>_<acquisition>_s<seed>`
cells): do the low-budget acquisitions (TypiClust, ProbCover) beat
uncertainty sampling (entropy) at 100 to 500 labels, and does the answer
depend on the backbone?

Only finished runs count, and a (data, backbone) group uses the seeds that
every one of its acquisitions finished: a half-done grid is reported as
such, with the seeds it has.
"""

import os
import statistics

import numpy as np

from experiments import evidence
from jaxdal import metrics, rank_correlation

__all__ = ["beyond_balance", "beyond_status", "beyond_table", "beyond_tau",
           "beyond_verdict"]

_GRID = "beyond_low_budget"
_DATASETS = ("fashion_mnist", "mnist5k")
_LOW_BUDGET = ("typiclust", "probcover")
_UNCERTAINTY = "entropy"
_ROUNDS = 5  # the quick preset's


def _parse(cell: str) -> tuple[str, str, str, int]:
  """`fashion_mnist_cnn_power_bald_s2` -> ("fashion_mnist", "cnn",
  "power_bald", 2)."""
  rest, seed = cell.rsplit("_s", 1)
  data = next(d for d in _DATASETS if rest.startswith(d + "_"))
  backbone, acquisition = rest[len(data) + 1:].split("_", 1)
  return data, backbone, acquisition, int(seed)


def _runs(records: str) -> dict[tuple, str]:
  """`{(data, backbone, acquisition, seed): folder}` of finished runs."""
  root = os.path.join(records, _GRID, "runs")
  out = {}
  for cell in evidence.cells(root):
    path = os.path.join(root, cell)
    if len(evidence.records(path)) == _ROUNDS:
      out[_parse(cell)] = path
  return out


def beyond_status(records: str) -> str:
  """How far the grid has run: finished cells of the 84, per seed, and
  the hosts (CPU model) that ran them."""
  from experiments.configs import grids  # noqa: PLC0415
  runs = _runs(records)
  total = len(grids.cells(grids.GRIDS[_GRID]))
  seeds = sorted({k[3] for k in runs})
  per_seed = ", ".join(f"seed {s}: {sum(k[3] == s for k in runs)}"
                       for s in seeds)
  hosts = sorted({(evidence.records(p)[-1].get("host") or {}).get(
      "cpu", "not recorded") for p in runs.values()})
  return (f"{len(runs)} of the grid's {total} cells have finished "
          f"({per_seed or 'none yet'}); host CPU: {', '.join(hosts)}.\n")


def _groups(records: str) -> dict[tuple, dict]:
  """Per (data, backbone): its acquisitions and the seeds all of them
  finished, with each run's AUC and curve."""
  runs = _runs(records)
  out = {}
  for data, net in sorted({k[:2] for k in runs}):
    acqs = sorted({k[2] for k in runs if k[:2] == (data, net)})
    seeds = sorted(set.intersection(*(
        {k[3] for k in runs if k[:3] == (data, net, a)} for a in acqs)))
    out[data, net] = dict(
        acqs=acqs, seeds=seeds,
        auc={(a, s): evidence.auc(runs[data, net, a, s])
             for a in acqs for s in seeds},
        curve={(a, s): metrics.learning_curve(evidence.records(
            runs[data, net, a, s])) for a in acqs for s in seeds})
  return out


def _order(acqs: list[str]) -> list[str]:
  first = ["random", _UNCERTAINTY, *_LOW_BUDGET]
  return [a for a in first if a in acqs] + [a for a in acqs
                                            if a not in first]


def beyond_table(records: str) -> str:
  """Each acquisition's normalised AUC (mean +- sample sd over seeds, in
  points) and mean labeling efficiency against random (random itself is
  the reference), per data and backbone."""
  lines = ["| data / backbone | seeds | acquisition | AUC (points) | "
           "accuracy at 100 / 300 / 500 labels | labeling efficiency |",
           "|---|---|---|---|---|---|"]
  for (data, net), g in _groups(records).items():
    seeds = g["seeds"]
    for acq in _order(g["acqs"]):
      aucs = [100 * g["auc"][acq, s] for s in seeds]
      spread = (f" ± {statistics.stdev(aucs):.2f}" if len(seeds) > 1
                else "")
      acc = np.mean([g["curve"][acq, s][1] for s in seeds], axis=0)
      le = metrics.mean_labeling_efficiency(
          {s: g["curve"]["random", s] for s in seeds},
          {s: g["curve"][acq, s] for s in seeds})
      eff = ("reference" if acq == "random" else f"{np.nanmean(le):.2f}"
             if np.isfinite(le).any() else "n/a")
      lines.append(f"| {evidence.NAMES[data]} / {net} | {len(seeds)} | {acq} | "
                   f"{statistics.mean(aucs):.2f}{spread} | "
                   f"{100 * acc[0]:.1f} / {100 * acc[2]:.1f} / "
                   f"{100 * acc[4]:.1f} | {eff} |")
  return "\n".join(lines) + "\n"


def _effects(g: dict, acq: str) -> list[float]:
  """Per seed: `acq`'s AUC minus entropy's (points)."""
  return [100 * (g["auc"][acq, s] - g["auc"][_UNCERTAINTY, s])
          for s in g["seeds"]]


def beyond_verdict(records: str) -> str:
  """Per data and backbone, each low-budget acquisition's AUC minus
  entropy's (points, per seed), its bootstrap interval over seeds and the
  rule's verdict ("holds": the low-budget method beats uncertainty)."""
  lines = ["| data / backbone | seeds | "
           + " | ".join(f"{a} − {_UNCERTAINTY}" for a in _LOW_BUDGET)
           + " |", "|---|---|" + "---|" * len(_LOW_BUDGET)]
  for (data, net), g in _groups(records).items():
    cells = [evidence.effect_cell(_effects(g, a), "no finished seed")
             if a in g["acqs"] else "not run" for a in _LOW_BUDGET]
    lines.append(f"| {evidence.NAMES[data]} / {net} | {len(g['seeds'])} | "
                 + " | ".join(cells) + " |")
  return ("\n".join(lines) + "\n\nEach cell: the mean over seeds of the "
          "per-seed AUC difference, its 95 % bootstrap interval over seeds "
          "(every resample enumerated) and the verdict by the stated rule.\n")


def beyond_tau(records: str) -> str:
  """Per dataset: Kendall's tau-b between the cnn's and the mlp's
  rankings of the acquisitions (seed-mean AUC), per seed too, against
  the spread of tau under independence."""
  groups = _groups(records)
  lines = ["| data | acquisitions | seeds | tau-b cnn vs mlp, seed means | "
           "per seed |", "|---|---|---|---|---|"]
  sizes = set()
  for data in _DATASETS:
    if (data, "cnn") not in groups or (data, "mlp") not in groups:
      continue
    a, b = groups[data, "cnn"], groups[data, "mlp"]
    acqs = sorted(set(a["acqs"]) & set(b["acqs"]))
    seeds = sorted(set(a["seeds"]) & set(b["seeds"]))
    if len(acqs) < 3 or not seeds:
      continue
    sizes.add(len(acqs))

    def tau(ss, acqs=acqs, a=a, b=b):
      return rank_correlation.kendall_tau(
          *({x: statistics.mean(g["auc"][x, s] for s in ss) for x in acqs}
            for g in (a, b)))
    per_seed = ", ".join(f"{tau([s]):.2f}" for s in seeds)
    lines.append(f"| {evidence.NAMES[data]} | {len(acqs)} | {len(seeds)} | "
                 f"{tau(seeds):.2f} | {per_seed} |")
  nulls = "; ".join(f"{n} acquisitions: |tau-b| >= "
                    f"{evidence.kendall_null(n):.2f}" for n in sorted(sizes))
  return ("\n".join(lines) + f"\n\nTwo independent rankings reach, with "
          f"probability 5 % ({nulls or 'no complete pair yet'}; every order "
          f"enumerated).\n")


def _class_shares(data: str, runs: dict) -> dict | None:
  """`{(backbone, acquisition, seed): [C] class shares of everything the
  run acquired}`, the labels from the dataset (None if it cannot load)."""
  from jaxdal import data as data_lib  # noqa: PLC0415
  try:
    y = np.asarray(data_lib.load(data).y_train)
  except (data_lib.DatasetNotFoundError, OSError):
    return None
  out = {}
  for (d, net, acq, seed), path in runs.items():
    if d != data:
      continue
    picked = [i for r in evidence.records(path) for i in r.get("acquired")
              or ()]
    counts = np.bincount(y[np.asarray(picked, int)], minlength=int(
        y.max()) + 1)
    out[net, acq, seed] = counts / counts.sum()
  return out


def beyond_balance(records: str) -> str:
  """Per data and backbone, how class-balanced each acquisition's picks
  are: the entropy (nats) of the class shares of all it acquired and the
  largest class's share, means over the finished seeds."""
  runs = _runs(records)
  lines = ["| data / backbone | acquisition | class entropy of the picks "
           "(nats) | largest class share |", "|---|---|---|---|"]
  for data in _DATASETS:
    shares = _class_shares(data, runs)
    if shares is None:
      lines.append(f"| {evidence.NAMES[data]} | labels not available here "
                   "| | |")
      continue
    for net in sorted({k[0] for k in shares}):
      for acq in _order(sorted({k[1] for k in shares if k[0] == net})):
        mine = [p for k, p in shares.items() if k[:2] == (net, acq)]
        ent = statistics.mean(float(-(p[p > 0] * np.log(p[p > 0])).sum())
                              for p in mine)
        top = statistics.mean(float(p.max()) for p in mine)
        lines.append(f"| {evidence.NAMES[data]} / {net} | {acq} | {ent:.3f} | "
                     f"{top:.2f} |")
  return ("\n".join(lines) + "\n\nEvenly spread over the 10 classes the "
          "entropy would be log 10 = 2.303 nats and the largest share "
          "0.10.\n")
