"""Per-round metrics: the `metrics.jsonl` format, and the paper's measures
(labeling efficiency, gain over random, normalised AUC, spread of
performance) and collections of runs. Pure NumPy on curves; rank
correlations are in `rank_correlation`."""

import contextlib
import json
import os
from typing import NamedTuple

import numpy as np

__all__ = ["COMPLEXITY_MEASURES", "CONFIG_FILE", "METRICS_FILE", "RECORD_KEYS",
           "Run", "accuracy_targets", "collect_runs", "complexity_curves",
           "gain_over_random", "group_key", "incomplete", "is_finished",
           "json_safe", "labeling_efficiency", "learning_curve",
           "mean_labeling_efficiency", "normalised_auc", "read_jsonl",
           "read_run", "rounds_note", "seed_curves", "size_to_reach", "spread",
           "stack_seeds", "without_timings", "write_json", "write_jsonl",
           "write_text"]

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"


def json_safe(value):
  """`value` with every non-finite float replaced by None, so it is valid
  JSON (bare NaN is not)."""
  if isinstance(value, float):
    return value if np.isfinite(value) else None
  if isinstance(value, dict):
    return {k: json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [json_safe(v) for v in value]
  return value


def write_text(path: str, text: str) -> None:
  """Writes `text` to `path` through a temp file and a rename, so a reader
  sees the old file or the new one; a failed write leaves no temp file."""
  tmp = f"{path}.tmp"
  try:
    with open(tmp, "w") as f:
      f.write(text)
    os.replace(tmp, path)
  except OSError:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


def write_jsonl(path: str, records: list[dict]) -> None:
  """Writes one JSON object per line, atomically (temp file + rename);
  NaN and infinities become null."""
  write_text(path, "".join(
      json.dumps(json_safe(r), sort_keys=True, allow_nan=False) + "\n"
      for r in records))


def write_json(path: str, value: dict, *, indent: int = 1) -> None:
  """Writes one JSON object, atomically (temp file + rename)."""
  write_text(path, json.dumps(value, indent=indent, sort_keys=True))


def read_jsonl(path: str) -> list[dict]:
  """The records of a JSON-lines file."""
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def read_run(workdir: str) -> tuple[dict, list[dict]]:
  """`(config, per-round records)` of a run directory."""
  with open(os.path.join(workdir, CONFIG_FILE)) as f:
    config = json.load(f)
  return config, read_jsonl(os.path.join(workdir, METRICS_FILE))


def learning_curve(records: list[dict]) -> tuple[list[int], list[float]]:
  """`(labeled-set sizes, test accuracies)` in round order."""
  records = sorted(records, key=lambda r: r["round"])
  return ([r["labeled"] for r in records],
          [r["test_accuracy"] for r in records])


def without_timings(record: dict) -> dict:
  """A record minus its machine-dependent entries, `time` and `host` (for
  comparisons)."""
  return {k: v for k, v in record.items() if k not in ("time", "host")}


# ------------------------------------------------------- the paper's metrics


def size_to_reach(sizes, accuracies, target: float) -> float:
  """Labeled-set size at which a curve first reaches `target` accuracy.

  Linear interpolation between the last point below and the first point at
  or above the target (Beck et al., 2021); the first point if it already
  reaches it; NaN if the curve never does. Later dips do not matter: it is
  the first crossing.
  """
  sizes = np.asarray(sizes, float)
  accuracies = np.asarray(accuracies, float)
  hits = np.flatnonzero(accuracies >= target)
  if hits.size == 0:
    return float("nan")
  i = int(hits[0])
  if i == 0:
    return float(sizes[0])
  a0, a1 = accuracies[i - 1], accuracies[i]
  s0, s1 = sizes[i - 1], sizes[i]
  return float(s0 + (target - a0) * (s1 - s0) / (a1 - a0))


def accuracy_targets(random_curve, num: int = 20) -> np.ndarray:
  """Accuracy grid from random's initial accuracy to the best it reaches."""
  _, accs = random_curve
  return np.linspace(float(accs[0]), float(np.max(accs)), num)


def labeling_efficiency(random_curve, strategy_curve, accuracies):
  """`LE(a) = n_random(a) / n_strategy(a)` for each target accuracy a.

  Args:
    random_curve: `(sizes, accuracies)` of random sampling.
    strategy_curve: `(sizes, accuracies)` of the strategy.
    accuracies: target accuracies.

  Returns:
    `[len(accuracies)]` float; NaN where either curve never reaches a.

  >>> le = labeling_efficiency(([100, 200, 300, 400], [.5, .6, .7, .8]),
  ...                          ([100, 200, 300, 400], [.5, .65, .75, .82]),
  ...                          [.6, .7, .75, .8])
  >>> [round(float(v), 4) for v in le]
  [1.2, 1.2, 1.1667, 1.0769]
  """
  return np.array([size_to_reach(*random_curve, a)
                   / size_to_reach(*strategy_curve, a) for a in accuracies])


def mean_labeling_efficiency(random_by_seed: dict,
                             strategy_by_seed: dict) -> np.ndarray:
  """Mean labeling efficiency over random's accuracy grid, one per seed.

  `{seed: (sizes, accuracies)}` for random and for the strategy; a seed
  without its own random curve is compared with the first random seed.
  The grid's first target (the shared initial accuracy) is left out.
  """
  out = []
  for seed, curve in strategy_by_seed.items():
    rand = random_by_seed.get(seed, next(iter(random_by_seed.values())))
    le = labeling_efficiency(rand, curve, accuracy_targets(rand)[1:])
    out.append(np.nanmean(le) if np.isfinite(le).any() else np.nan)
  return np.asarray(out)

def gain_over_random(strategy: np.ndarray, random: np.ndarray):
  """Per-round accuracy gain over random, paired by seed.

  Args:
    strategy: `[seeds, rounds]` accuracies of a strategy.
    random: `[seeds, rounds]` accuracies of random sampling, same seeds.

  Returns:
    `(mean [rounds], std [rounds])` over seeds (std 0 for one seed).
  """
  strategy, random = np.atleast_2d(strategy), np.atleast_2d(random)
  if strategy.shape != random.shape:
    raise ValueError(f"strategy {strategy.shape} and random {random.shape} "
                     f"must have the same [seeds, rounds] shape")
  gain = strategy - random
  return gain.mean(0), gain.std(0)


def normalised_auc(accuracies) -> float:
  """Trapezoid area under a per-round curve over rounds, divided by
  `rounds - 1` (dal-toolbox's normalised AUC).

  >>> normalised_auc([0.5, 0.6, 0.7, 0.8])
  0.65
  """
  y = np.asarray(accuracies, float)
  if y.size < 2:
    return float(y[0]) if y.size else float("nan")
  return round(float((y[:-1] + y[1:]).sum() / 2 / (y.size - 1)), 12)


def spread(table: dict, *, over: str) -> dict:
  """Max minus min accuracy per round across acquisitions or architectures.

  Args:
    table: `{(architecture, acquisition): [rounds] accuracies}`.
    over: "acquisition" (spread across acquisition functions for each
      architecture, the paper's Figure 8) or "architecture" (across
      architectures for each acquisition, Figure 10).

  Returns:
    `{fixed key: [rounds] spread}` over the rounds every member has.
  """
  if over not in ("acquisition", "architecture"):
    raise ValueError(f"over must be 'acquisition' or 'architecture', got "
                     f"{over!r}")
  groups: dict = {}
  for (arch, acq), curve in table.items():
    key = arch if over == "acquisition" else acq
    groups.setdefault(key, []).append(np.asarray(curve, float))
  out = {}
  for key, curves in groups.items():
    n = min(len(c) for c in curves)
    stacked = np.stack([c[:n] for c in curves])
    out[key] = stacked.max(0) - stacked.min(0)
  return out


# ------------------------------------------------------- collections of runs


class Run(NamedTuple):
  """One run directory, read back."""
  path: str
  config: dict
  records: list[dict]

  @property
  def model(self) -> str:
    """The architecture: a backbone, or "method/mode"."""
    if self.config.get("method"):
      return f"{self.config['method']}/{self.config.get('mode', 'joint')}"
    return self.config.get("backbone", "?")

  @property
  def curve(self) -> tuple[list[int], list[float]]:
    return learning_curve(self.records)


RECORD_KEYS = ("round", "labeled", "test_accuracy")


def _readable_run(folder: str) -> Run:
  """The run in `folder`; ValueError naming the file if it is malformed."""
  try:
    config, records = read_run(folder)
  except (OSError, ValueError) as e:
    raise ValueError(f"{folder}: unreadable ({e})") from None
  if not isinstance(config, dict):
    raise ValueError(f"{os.path.join(folder, CONFIG_FILE)}: not a settings "
                     f"object")
  for i, r in enumerate(records):
    missing = [k for k in RECORD_KEYS if not isinstance(r, dict) or k not in r]
    if missing:
      raise ValueError(f"{os.path.join(folder, METRICS_FILE)} line {i + 1}: "
                       f"lacks {', '.join(missing)}")
  return Run(folder, config, records)


def collect_runs(root: str, skipped: list[str] | None = None) -> list[Run]:
  """Every run (a folder with config.json and metrics.jsonl) under `root`.

  A malformed run is left out, with a note naming its file appended to
  `skipped` (when given).

  Raises:
    ValueError: `root` is missing or holds no readable run.
  """
  if not os.path.isdir(root):
    raise ValueError(f"--runs {root!r} is not a directory")
  runs = []
  for folder, _, files in sorted(os.walk(root)):
    if CONFIG_FILE in files and METRICS_FILE in files:
      try:
        run = _readable_run(folder)
      except ValueError as e:
        if skipped is not None:
          skipped.append(str(e))
        continue
      if run.records:
        runs.append(run)
  if not runs:
    raise ValueError(f"no jaxdal runs (folders with {CONFIG_FILE} and "
                     f"{METRICS_FILE}) under {root!r}")
  return runs


def group_key(run: Run) -> tuple:
  """Runs comparable on one plot: same data, architecture, pretraining and
  initial size (acquisitions and seeds vary inside a group)."""
  c = run.config
  return (c.get("dataset"), run.model, c.get("pretrain", "none"),
          c.get("initial"))


def seed_curves(runs: list[Run]) -> dict:
  """`{group: {acquisition: {seed: (sizes, accuracies)}}}`."""
  out: dict = {}
  for run in runs:
    acq, seed = run.config.get("acquisition"), run.config.get("seed", 0)
    out.setdefault(group_key(run), {}).setdefault(acq, {})[seed] = run.curve
  return out


def is_finished(run: Run) -> bool:
  """Whether `run` has every round its config asks for."""
  want = run.config.get("rounds")
  return want is None or len(run.records) >= want


def rounds_note(run: Run) -> str:
  """`"<path>: <done> of <wanted> rounds"` for an unfinished `run`."""
  return f"{run.path}: {len(run.records)} of {run.config['rounds']} rounds"


def incomplete(runs: list[Run]) -> list[str]:
  """Human-readable notes on runs with missing rounds or seeds."""
  notes = []
  for run in runs:
    if not is_finished(run):
      notes.append(rounds_note(run))
  for group, by_acq in seed_curves(runs).items():
    seeds = set().union(*(set(s) for s in by_acq.values()))
    for acq, by_seed in by_acq.items():
      missing = sorted(seeds - set(by_seed))
      if missing:
        notes.append(f"{group}: {acq} lacks seeds {missing}")
  return notes


def stack_seeds(by_seed: dict) -> tuple[np.ndarray, np.ndarray]:
  """`(sizes [R], accuracies [seeds, R])` over the rounds all seeds have."""
  curves = [by_seed[s] for s in sorted(by_seed)]
  n = min(len(c[0]) for c in curves)
  return (np.asarray(curves[0][0][:n], float),
          np.stack([np.asarray(c[1][:n], float) for c in curves]))


# -------------------------------------------- feature-space complexity


COMPLEXITY_MEASURES = ("twonn", "effective_rank", "participation_ratio",
                       "fisher_ratio", "boundary_fraction")


def complexity_curves(runs: list[Run], *, where: str = "pool") -> dict:
  """`{group: {measure: (sizes [R], mean values [R])}}`: the complexity of
  the `where` ("pool" or "labeled") features per round, averaged over the
  group's runs (acquisitions and seeds) at each round they all have."""
  by_group: dict = {}
  for run in runs:
    rows = [(r["labeled"], r.get("complexity", {}).get(where) or {})
            for r in sorted(run.records, key=lambda r: r["round"])]
    if any(measured for _, measured in rows):
      by_group.setdefault(group_key(run), []).append(rows)
  out: dict = {}
  for group, members in by_group.items():
    n = min(len(m) for m in members)
    sizes = np.array([size for size, _ in members[0][:n]], float)
    for measure in COMPLEXITY_MEASURES:
      values = np.array([[np.nan if m[i][1].get(measure) is None
                          else m[i][1][measure] for i in range(n)]
                         for m in members], float)
      if np.isfinite(values).any():
        out.setdefault(group, {})[measure] = (sizes, np.nanmean(values, 0))
  return out
