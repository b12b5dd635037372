r"""The paper's measurements and figures from a directory of runs.

  python -m experiments.report --runs runs/ --out reports/

Reads every run (a folder with config.json and metrics.jsonl) under --runs,
any mix of focus1/focus2 runs and seeds, and writes PNG figures and
`summary.md` to --out: labeling efficiency (Figures 2, 4), gain over random
(3, 5), learning curves by initial size (6), spread across acquisitions per
architecture (8) and across architectures per acquisition (10), the
architecture evolution of focus 2 runs (9), and the rank stability of
acquisition functions across architectures. Incomplete runs (missing rounds
or seeds) are listed, not dropped silently.
"""

import itertools
import os

import numpy as np
from absl import app, flags

from experiments import cli
from jaxdal import metrics, plots

flags.DEFINE_string("runs", None, "directory holding the runs")
flags.DEFINE_string("out", "", "output directory (default <runs>/report)")
FLAGS = flags.FLAGS


def _fmt(v, digits=3):
  return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def summary_markdown(runs, curves, figures) -> str:
  """The Markdown summary: runs, incompleteness, tables, figure links."""
  lines = ["# jaxdal report", "",
           f"{len(runs)} runs in {len(curves)} groups "
           "(dataset / architecture / pretraining / initial size).", ""]
  notes = metrics.incomplete(runs)
  lines += ["## Incomplete runs", ""]
  lines += [f"- {n}" for n in notes] if notes else ["none"]
  lines += ["", "## Normalised AUC and mean gain over random", "",
            "| group | acquisition | seeds | rounds | AUC | gain (points) "
            "| labeling efficiency |", "|---|---|---|---|---|---|---|"]
  auc_table: dict = {}
  for group, by_acq in sorted(curves.items(), key=str):
    for acq, by_seed in sorted(by_acq.items()):
      sizes, accs = metrics.stack_seeds(by_seed)
      auc = float(np.mean([metrics.normalised_auc(a) for a in accs]))
      auc_table.setdefault(group, {})[acq] = auc
      gain = le = None
      if "random" in by_acq and acq != "random":
        seeds = sorted(set(by_seed) & set(by_acq["random"]))
        if seeds:
          _, strat = metrics.stack_seeds({s: by_seed[s] for s in seeds})
          _, rand = metrics.stack_seeds({s: by_acq["random"][s]
                                         for s in seeds})
          n = min(strat.shape[1], rand.shape[1])
          gain = 100 * float(metrics.gain_over_random(
              strat[:, :n], rand[:, :n])[0].mean())
          les = metrics.mean_labeling_efficiency(by_acq["random"],
                                                by_seed)
          le = float(np.nanmean(les)) if np.isfinite(les).any() else None
      lines.append(f"| {plots.group_title(group)} | {acq} | {len(by_seed)} | "
                   f"{len(sizes)} | {_fmt(auc)} | {_fmt(gain, 2)} | "
                   f"{_fmt(le)} |")
  lines += ["", "## Spread of performance (max - min accuracy, points, "
            "mean over rounds)", ""]
  for over in ("acquisition", "architecture"):
    table = {}
    for (dataset, model, pre, initial), by_acq in curves.items():
      if pre not in (None, "none"):
        continue
      for acq, by_seed in by_acq.items():
        table[(f"{dataset}:{initial}:{model}", acq)] = (
            metrics.stack_seeds(by_seed)[1].mean(0))
    fixed = "architecture" if over == "acquisition" else "acquisition"
    lines.append(f"Across {over}s, for each {fixed}:")
    lines.append("")
    for key, values in sorted(metrics.spread(table, over=over).items()):
      lines.append(f"- {key}: {100 * float(np.mean(values)):.2f}")
    lines.append("")
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
      tau = metrics.kendall_tau(models[a], models[b])
      lines.append(f"| {dataset} (init {initial}, pretrain {pre}) | {a} | "
                   f"{b} | {len(shared)} | {_fmt(tau)} |")
      rows += 1
  if not rows:
    lines.append("| (needs two architectures on the same data) | | | | |")
  lines += ["", "## Figures", ""]
  lines += [f"- [{os.path.basename(f)}]({os.path.basename(f)})"
            for f in figures]
  return "\n".join(lines) + "\n"


def write_report(runs_dir: str, out: str) -> list[str]:
  """Writes figures and summary.md; returns the written paths."""
  runs = metrics.collect_runs(runs_dir)
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
  figures = [f for f in figures if f]
  summary = os.path.join(out, "summary.md")
  with open(summary, "w") as f:
    f.write(summary_markdown(runs, curves, figures))
  return [*figures, summary]


def main(argv):
  del argv

  def go():
    if not FLAGS.runs:
      raise ValueError("--runs is required: the directory holding the runs")
    out = FLAGS.out or os.path.join(FLAGS.runs, "report")
    for path in write_report(FLAGS.runs, out):
      print(path)

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main)
