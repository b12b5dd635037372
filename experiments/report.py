r"""The paper's measurements and figures from a directory of runs.

  python -m experiments.report --runs runs/ --out reports/

Reads every run (a folder with config.json and metrics.jsonl) under --runs,
any mix of focus1/focus2 runs and seeds, and writes PNG figures and
`summary.md` to --out: labeling efficiency (Figures 2, 4), gain over random
(3, 5), learning curves by initial size (6), spread across acquisitions per
architecture (8) and across architectures per acquisition (10), the
architecture evolution of focus 2 runs (9), the rank stability of
acquisition functions across architectures, the effect of unsupervised
pretraining per architecture, the feature-space complexity
per architecture over the rounds, and its rank correlation with each
acquisition's gain over random. Incomplete runs (missing rounds
or seeds) are listed, not dropped silently.
"""

import itertools
import os

import numpy as np
from absl import app, flags

from experiments import cli
from jaxdal import metrics, plots, rank_correlation

# A user's modules, imported before the runs are read, so a method of
# their own draws its architecture figure.
flags.declare_key_flag(*cli.define_import_flag())
flags.DEFINE_string("runs", None, "directory holding the runs")
flags.DEFINE_string("out", "", "output directory (default <runs>/report)")
flags.DEFINE_bool("finished_only", False, "leave runs with missing rounds "
                  "out of every table and figure (they are still listed); "
                  "by default they count over the rounds they have")
FLAGS = flags.FLAGS


def _fmt(v, digits=3):
  return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def mean_gain(by_acq: dict, acq: str) -> float | None:
  """Mean gain of `acq` over random (points, over rounds and the seeds
  both have), or None without a paired random run."""
  if "random" not in by_acq or acq == "random":
    return None
  seeds = sorted(set(by_acq[acq]) & set(by_acq["random"]))
  if not seeds:
    return None
  _, strat = metrics.stack_seeds({s: by_acq[acq][s] for s in seeds})
  _, rand = metrics.stack_seeds({s: by_acq["random"][s] for s in seeds})
  n = min(strat.shape[1], rand.shape[1])
  return 100 * float(metrics.gain_over_random(strat[:, :n],
                                              rand[:, :n])[0].mean())


def complexity_markdown(curves, complexity) -> list[str]:
  """The paper's thesis as a table: Spearman's rho between each measure of
  pool-feature complexity (mean over rounds) and each acquisition's mean
  gain over random, across the groups (architectures) that have both."""
  lines = ["## Feature-space complexity and acquisition gains", "",
           "Each group's complexity is the mean over rounds of its pool "
           "features' measure (all its runs); its gain is the mean gain over "
           "random (points). Spearman's rho across groups, with a seeded "
           "permutation p-value; n = groups.", "",
           "| measure | acquisition | n | rho | p | reading |",
           "|---|---|---|---|---|---|"]
  acquisitions = sorted({a for by_acq in curves.values() for a in by_acq}
                        - {"random"})
  rows = 0
  for measure in metrics.COMPLEXITY_MEASURES:
    for acq in acquisitions:
      pairs = [(float(np.mean(complexity[g][measure][1])),
                mean_gain(by_acq, acq))
               for g, by_acq in curves.items()
               if measure in complexity.get(g, {}) and acq in by_acq]
      pairs = [(c, g) for c, g in pairs if g is not None and np.isfinite(c)]
      if len(pairs) < 3:
        continue
      x, y = zip(*pairs, strict=True)
      rho = rank_correlation.spearman(x, y)
      p = rank_correlation.spearman_p(x, y)
      reading = ("no relation found" if not np.isfinite(p) or p >= 0.05
                 else "higher complexity, larger gain" if rho > 0
                 else "higher complexity, smaller gain")
      lines.append(f"| {measure} | {acq} | {len(pairs)} | {_fmt(rho, 2)} | "
                   f"{_fmt(p, 3)} | {reading} |")
      rows += 1
  if not rows:
    lines.append("| (needs at least 3 groups with complexity records and "
                 "random runs) | | | | | |")
  return lines + [""]


def _mean_sd(values) -> str:
  """`"81.2 ± 1.3"`: mean and sample standard deviation, in points."""
  values = 100 * np.asarray(values, float)
  sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
  return f"{values.mean():.1f} ± {sd:.1f}"


def accuracy_markdown(curves) -> list[str]:
  """Test accuracy per architecture at each labeled-set size, mean ± sd over
  all its runs (acquisitions x seeds): architectures at equal labels."""
  lines = ["## Test accuracy by architecture", "",
           "Mean ± standard deviation (points) over every run of the group "
           "(all acquisitions and seeds), at the rounds they all have "
           "(-: not every run has reached it).", ""]
  by_data: dict = {}
  for group, by_acq in curves.items():
    runs = [curve for by_seed in by_acq.values()
            for curve in by_seed.values()]
    by_data.setdefault((group[0], group[3]), []).append((group, runs))
  for (dataset, initial), groups in sorted(by_data.items(), key=str):
    sizes = max((c[0] for _, runs in groups for c in runs), key=len)
    lines += [f"{dataset}, initial {initial}:", "",
              "| architecture | runs | " + " | ".join(
                  str(int(x)) for x in sizes) + " |",
              "|---|---|" + "---|" * len(sizes)]
    for group, runs in sorted(groups, key=str):
      n = min(len(c[1]) for c in runs)
      accs = np.stack([np.asarray(c[1][:n], float) for c in runs])
      cells = [_mean_sd(accs[:, i]) if i < n else "-"
               for i in range(len(sizes))]
      lines.append(f"| {plots.group_title(group)} | {len(runs)} | "
                   + " | ".join(cells) + " |")
    lines.append("")
  return lines


def architecture_markdown(runs) -> list[str]:
  """The inferred architecture of optimised networks over the rounds:
  expected depth and total active filters, mean over the group's runs
  (groups whose architecture never changes, the fixed networks, left
  out)."""
  by_group: dict = {}
  for run in runs:
    rows = [(r["labeled"], r.get("architecture") or {})
            for r in sorted(run.records, key=lambda r: r["round"])]
    if all("active_filters" in a for _, a in rows) and rows:
      by_group.setdefault(metrics.group_key(run), []).append(
          [(size, a.get("depth", np.nan), float(sum(a["active_filters"])))
           for size, a in rows])
  table = []
  for group, members in sorted(by_group.items(), key=str):
    shapes = {row[1:] for m in members for row in m}
    if len(shapes) == 1:
      continue
    for i in range(min(len(m) for m in members)):
      depth = np.mean([m[i][1] for m in members])
      table.append(f"| {plots.group_title(group)} | {len(members)} | "
                   f"{members[0][i][0]} | {_fmt(depth, 2)} | "
                   f"{np.mean([m[i][2] for m in members]):.1f} |")
  if not table:
    return []
  return ["## Inferred architecture over the rounds", "",
          "Expected depth (layers with an active unit; n/a where the method "
          "does not infer depth) and total active filters (sum over "
          "layers), mean over the group's runs; rows: labeled examples.", "",
          "| architecture | runs | labeled | depth | active filters |",
          "|---|---|---|---|---|", *table, ""]


def pretraining_markdown(curves) -> list[str]:
  """Unsupervised pretraining per architecture: each (acquisition, seed)
  run with pretraining paired with the same run without, over the rounds
  both have; mean normalised AUC and last shared test accuracy of both,
  and the difference (points)."""
  rows = []
  for (dataset, model, pre, initial), by_acq in sorted(curves.items(),
                                                       key=str):
    base = curves.get((dataset, model, "none", initial))
    if pre in (None, "none") or base is None:
      continue
    # (with, without) accuracies of each pair, over the rounds both runs
    # have (a run may be unfinished).
    pairs = []
    for acq, by_seed in by_acq.items():
      for seed in sorted(set(by_seed) & set(base.get(acq, {}))):
        with_, without = by_seed[seed][1], base[acq][seed][1]
        n = min(len(with_), len(without))
        pairs.append((with_[:n], without[:n]))
    if not pairs:
      continue
    auc = np.array([[metrics.normalised_auc(c) for c in pair]
                    for pair in pairs])
    final = np.array([[c[-1] for c in pair] for pair in pairs])
    d_auc, d_final = 100 * (auc[:, 0] - auc[:, 1]), 100 * (
        final[:, 0] - final[:, 1])
    helped = int(np.sum(d_auc > 0))
    rows.append(f"| {dataset} / {model} (init {initial}) | {pre} | "
                f"{len(pairs)} | {_fmt(auc[:, 1].mean())} | "
                f"{_fmt(auc[:, 0].mean())} | {d_auc.mean():+.2f} | "
                f"{helped} of {len(pairs)} | {d_final.mean():+.2f} |")
  if not rows:
    return []
  return ["## Effect of unsupervised pretraining", "",
          "Each run with pretraining paired with the same acquisition and "
          "seed without it: mean normalised AUC without and with, the mean "
          "difference (points), in how many pairs pretraining raised the "
          "AUC, and the mean difference in final test accuracy (points; "
          "both runs compared over the rounds they both have).",
          "", "| architecture | pretraining | pairs | AUC without | AUC with "
          "| AUC change | pairs improved | final accuracy change |",
          "|---|---|---|---|---|---|---|---|", *rows, ""]


def spread_markdown(curves) -> list[str]:
  """The spreads of the paper's Figures 8 and 10 as numbers, for each
  dataset and initial size: max - min test accuracy across acquisitions for
  each architecture, and across architectures for each acquisition (points,
  mean over rounds; seed means of the runs without pretraining). A group
  with one member has no spread and is left out."""
  by_data: dict = {}
  for (dataset, model, pre, initial), by_acq in curves.items():
    if pre not in (None, "none"):
      continue
    for acq, by_seed in by_acq.items():
      by_data.setdefault((dataset, initial), {})[(model, acq)] = (
          metrics.stack_seeds(by_seed)[1].mean(0))
  lines = ["## Spread of performance (max - min accuracy, points, mean "
           "over rounds)", ""]
  for over in ("acquisition", "architecture"):
    fixed = "architecture" if over == "acquisition" else "acquisition"
    lines += [f"Across {over}s, for each {fixed}:", ""]
    before = len(lines)
    for (dataset, initial), table in sorted(by_data.items(), key=str):
      members: dict = {}
      for model, acq in table:
        key = model if over == "acquisition" else acq
        members[key] = members.get(key, 0) + 1
      for key, values in sorted(metrics.spread(table, over=over).items()):
        if members[key] > 1:
          lines.append(f"- {dataset} (init {initial}) / {key}: "
                       f"{100 * float(np.mean(values)):.2f} "
                       f"({members[key]} {over}s)")
    if len(lines) == before:
      lines.append(f"- (needs two {over}s for one {fixed}, without "
                   f"pretraining)")
    lines.append("")
  return lines


def summary_markdown(runs, curves, figures, complexity=None,
                     skipped=()) -> str:
  """The Markdown summary: runs, incompleteness, tables, figure links."""
  lines = ["# jaxdal report", "",
           f"{len(runs)} runs in {len(curves)} groups "
           "(dataset / architecture / pretraining / initial size).", ""]
  notes = [f"skipped {note}" for note in skipped] + metrics.incomplete(runs)
  lines += ["## Incomplete runs", ""]
  lines += [f"- {n}" for n in notes] if notes else ["none"]
  lines += ["", "## Normalised AUC and mean gain over random", "",
            "| group | acquisition | seeds | rounds | AUC | gain (points) "
            "| labeling efficiency | final accuracy (± sd over seeds) |",
            "|---|---|---|---|---|---|---|---|"]
  auc_table: dict = {}
  for group, by_acq in sorted(curves.items(), key=str):
    for acq, by_seed in sorted(by_acq.items()):
      sizes, accs = metrics.stack_seeds(by_seed)
      auc = float(np.mean([metrics.normalised_auc(a) for a in accs]))
      auc_table.setdefault(group, {})[acq] = auc
      gain, le = mean_gain(by_acq, acq), None
      if gain is not None:
        les = metrics.mean_labeling_efficiency(by_acq["random"], by_seed)
        le = float(np.nanmean(les)) if np.isfinite(les).any() else None
      lines.append(f"| {plots.group_title(group)} | {acq} | {len(by_seed)} | "
                   f"{len(sizes)} | {_fmt(auc)} | {_fmt(gain, 2)} | "
                   f"{_fmt(le)} | {_mean_sd(accs[:, -1])} |")
  lines += [""] + spread_markdown(curves)
  lines += ["## Rank stability of acquisitions across architectures", "",
            "Kendall's tau between the acquisition rankings (by normalised "
            "AUC) of two architectures on the same data; 1 = same order.", "",
            "| dataset | architecture A | architecture B | shared "
            "acquisitions | tau |", "|---|---|---|---|---|"]
  by_data: dict = {}
  for (dataset, model, pre, initial), scores in auc_table.items():
    by_data.setdefault((dataset, pre, initial), {})[model] = scores
  rows = 0
  for (dataset, pre, initial), models in sorted(by_data.items(), key=str):
    for a, b in itertools.combinations(sorted(models), 2):
      shared = sorted(set(models[a]) & set(models[b]))
      tau = rank_correlation.kendall_tau(models[a], models[b])
      lines.append(f"| {dataset} (init {initial}, pretrain {pre}) | {a} | "
                   f"{b} | {len(shared)} | {_fmt(tau)} |")
      rows += 1
  if not rows:
    lines.append("| (needs two architectures on the same data) | | | | |")
  lines += [""] + accuracy_markdown(curves) + pretraining_markdown(curves)
  lines += architecture_markdown(runs)
  lines += complexity_markdown(curves, complexity or {})
  lines += ["## Figures", ""]
  lines += [f"- [{os.path.basename(f)}]({os.path.basename(f)})"
            for f in figures]
  return "\n".join(lines) + "\n"


def write_report(runs_dir: str, out: str, *,
                 finished_only: bool = False) -> list[str]:
  """Writes figures and summary.md; returns the written paths.

  `finished_only` leaves runs with missing rounds out of every comparison
  (a grid still running); they are listed under "Incomplete runs".
  """
  if os.path.exists(out) and not os.path.isdir(out):
    raise ValueError(f"--out {out!r} is a file; give a folder for the "
                     f"report")
  skipped: list[str] = []
  runs = metrics.collect_runs(runs_dir, skipped)
  if finished_only:
    skipped += [f"{metrics.rounds_note(r)}, unfinished (--finished_only)"
                for r in runs if not metrics.is_finished(r)]
    runs = [r for r in runs if metrics.is_finished(r)]
  curves = metrics.seed_curves(runs)
  os.makedirs(out, exist_ok=True)
  figures = [
      plots.labeling_efficiency_bars(
          curves, os.path.join(out, "labeling_efficiency.png")),
      plots.gain_bars(curves, os.path.join(out, "gain_over_random.png")),
      plots.learning_curves_by_initial(
          curves, os.path.join(out, "learning_curves.png")),
      plots.spread_bands(curves, os.path.join(
          out, "spread_across_acquisitions.png"), over="acquisition"),
      plots.spread_bands(curves, os.path.join(
          out, "spread_across_architectures.png"), over="architecture"),
  ]
  seen = set()
  for run in runs:  # one architecture figure per focus 2 configuration
    key = metrics.group_key(run) + (run.config.get("acquisition"),)
    if run.config.get("method") and key not in seen:
      seen.add(key)
      name = "_".join(str(k) for k in key).replace("/", "-")
      figures.append(plots.architecture_evolution(
          run.path, os.path.join(out, f"architecture_{name}.png")))
  complexity = metrics.complexity_curves(runs)
  figures.append(plots.complexity_curves(
      complexity, os.path.join(out, "complexity.png")))
  figures = [f for f in figures if f]
  summary = os.path.join(out, "summary.md")
  with open(summary, "w") as f:
    f.write(summary_markdown(runs, curves, figures, complexity, skipped))
  return [*figures, summary]


def main(argv):
  del argv

  def go():
    if not FLAGS.runs:
      raise ValueError("--runs is required: the directory holding the runs")
    out = FLAGS.out or os.path.join(FLAGS.runs, "report")
    for path in write_report(FLAGS.runs, out,
                             finished_only=FLAGS.finished_only):
      print(path)

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
