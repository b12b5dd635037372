"""Figures drawn from a run's files (never from in-memory state)."""

import os

import numpy as np

from jaxdal import archopt, metrics

__all__ = ["architecture_evolution", "complexity_curves", "gain_bars",
           "group_title", "labeling_efficiency_bars", "learning_curve",
           "learning_curves_by_initial", "spread_bands"]


def _pyplot():
  """matplotlib's pyplot on the file-only Agg backend, imported on first
  use (importing jaxdal, or a CLI's --help, needs no matplotlib)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def learning_curve(workdir: str, out: str | None = None) -> str:
  """Test accuracy against labeled-set size, read from `workdir`.

  Returns:
    The path of the written PNG (default `workdir/figures/learning_curve.png`).
  """
  config, records = metrics.read_run(workdir)
  sizes, accs = metrics.learning_curve(records)
  out = out or os.path.join(workdir, "figures", "learning_curve.png")
  os.makedirs(os.path.dirname(out), exist_ok=True)
  fig, ax = _pyplot().subplots(figsize=(5, 3.5), dpi=120)
  ax.plot(sizes, [100 * a for a in accs], marker="o",
          label=config.get("acquisition", "?"))
  ax.set_xlabel("labeled examples")
  ax.set_ylabel("test accuracy (%)")
  model = config.get("method") or config.get("backbone", "?")
  ax.set_title(f"{config.get('dataset', '?')} / {model}")
  ax.grid(alpha=0.3)
  ax.legend(title="acquisition")
  fig.tight_layout()
  fig.savefig(out)
  _pyplot().close(fig)
  return out


def architecture_evolution(workdir: str, out: str | None = None) -> str | None:
  """The inferred architecture per round, drawn by the run's method.

  Each registered method draws its own summaries (`archopt.MethodSpec.draw`:
  BBDropout and Depth-Dropout a filters-by-layers mask per round like the
  paper's Figure 9, PDARTS its operations per cell).

  Returns:
    The PNG path (default `workdir/figures/architecture.png`), or None when
    the run's method draws nothing (plain backbones, fixed CNNs).
  """
  config, records = metrics.read_run(workdir)
  method = config.get("method")
  if not method or method not in archopt.METHODS:
    return None
  draw = archopt.METHODS.get(method).draw
  if draw is None:
    return None
  records = sorted(records, key=lambda r: r["round"])
  out = out or os.path.join(workdir, "figures", "architecture.png")
  return draw(config, records, out)


# ------------------------------------------------- figures across many runs


def _panels(n: int, width: float = 4.2, height: float = 3.2):
  cols = min(3, n)
  rows = -(-n // cols)
  fig, axes = _pyplot().subplots(rows, cols,
                                 figsize=(width * cols, height * rows),
                                 dpi=110, squeeze=False)
  for ax in axes.flat[n:]:
    ax.set_visible(False)
  return fig, list(axes.flat)


def _save(fig, out: str) -> str:
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  fig.tight_layout()
  fig.savefig(out)
  _pyplot().close(fig)
  return out


def group_title(group) -> str:
  dataset, model, pre, initial = group
  extra = "" if pre in (None, "none") else f" + {pre}"
  init = "" if initial is None else f" (init {initial})"
  return f"{dataset} / {model}{extra}{init}"


def labeling_efficiency_bars(curves: dict, out: str) -> str | None:
  """Mean labeling efficiency per acquisition (the paper's Figures 2, 4):
  one panel per dataset and architecture, bars with and without
  pretraining, error bars over seeds; 1 = as good as random."""
  panels: dict = {}
  for (dataset, model, pre, initial), by_acq in curves.items():
    if "random" in by_acq:
      panels.setdefault((dataset, model, initial), {})[pre] = by_acq
  if not panels:
    return None
  fig, axes = _panels(len(panels))
  for ax, ((dataset, model, initial), by_pre) in zip(axes, sorted(
      panels.items(), key=str), strict=False):
    acqs = sorted({a for by_acq in by_pre.values() for a in by_acq}
                  - {"random"})
    width = 0.8 / len(by_pre)
    for i, (pre, by_acq) in enumerate(sorted(by_pre.items())):
      means, errs = [], []
      for a in acqs:
        le = (metrics.mean_labeling_efficiency(by_acq["random"],
                                               by_acq[a])
              if a in by_acq else np.array([np.nan]))
        means.append(np.nanmean(le) if np.isfinite(le).any() else np.nan)
        errs.append(np.nanstd(le) if np.isfinite(le).any() else 0.0)
      ax.bar(np.arange(len(acqs)) + i * width, means, width, yerr=errs,
             capsize=2, label=f"pretrain: {pre}")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(acqs)) + width * (len(by_pre) - 1) / 2)
    ax.set_xticklabels(acqs, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("labeling efficiency (x random)")
    ax.set_title(f"{dataset} / {model} (init {initial})", fontsize=9)
    ax.legend(fontsize=7)
  return _save(fig, out)


def gain_bars(curves: dict, out: str) -> str | None:
  """Accuracy gain over random per round (the paper's Figures 3, 5): bars
  per acquisition, error bars over seeds, paired by seed."""
  groups = {g: a for g, a in curves.items() if "random" in a and len(a) > 1}
  if not groups:
    return None
  fig, axes = _panels(len(groups), width=5.0)
  ordered = sorted(groups.items(), key=str)
  for ax, (group, by_acq) in zip(axes, ordered, strict=False):
    acqs = sorted(set(by_acq) - {"random"})
    width = 0.8 / len(acqs)
    for i, a in enumerate(acqs):
      seeds = sorted(set(by_acq[a]) & set(by_acq["random"]))
      if not seeds:
        continue
      sizes, strat = metrics.stack_seeds({s: by_acq[a][s] for s in seeds})
      _, rand = metrics.stack_seeds({s: by_acq["random"][s] for s in seeds})
      n = min(strat.shape[1], rand.shape[1])
      mean, std = metrics.gain_over_random(strat[:, :n], rand[:, :n])
      ax.bar(np.arange(n) + i * width, 100 * mean, width, yerr=100 * std,
             capsize=2, label=a)
    ax.axhline(0.0, color="k", lw=0.8)
    rounds = len(metrics.stack_seeds(by_acq["random"])[0])
    ax.set_xticks(np.arange(rounds) + width * (len(acqs) - 1) / 2)
    ax.set_xticklabels([str(r) for r in range(rounds)])
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy gain over random (points)")
    ax.set_title(group_title(group), fontsize=9)
    ax.legend(fontsize=7)
  return _save(fig, out)


def learning_curves_by_initial(curves: dict, out: str) -> str:
  """Mean test accuracy against labeled-set size (the paper's Figure 6):
  one panel per dataset, architecture and pretraining; line style marks the
  initial labeled-set size."""
  panels: dict = {}
  for (dataset, model, pre, initial), by_acq in curves.items():
    panels.setdefault((dataset, model, pre), {})[initial] = by_acq
  fig, axes = _panels(len(panels))
  styles = ["-", "--", ":", "-."]
  colors = {}
  for ax, ((dataset, model, pre), by_init) in zip(axes, sorted(
      panels.items(), key=str), strict=False):
    for j, (initial, by_acq) in enumerate(sorted(by_init.items(),
                                                 key=str)):
      for a, by_seed in sorted(by_acq.items()):
        sizes, accs = metrics.stack_seeds(by_seed)
        color = colors.setdefault(a, f"C{len(colors) % 10}")
        ax.plot(sizes, 100 * accs.mean(0), styles[j % 4], color=color,
                marker=".", label=f"{a}, init {initial}")
    ax.set_xlabel("labeled examples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(group_title((dataset, model, pre, None)), fontsize=9)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
  return _save(fig, out)


def spread_bands(curves: dict, out: str, *, over: str) -> str | None:
  """Spread of performance (the paper's Figures 8, 10): for each
  architecture, the band between the best and worst acquisition
  (`over="acquisition"`), or for each acquisition, the band across
  architectures (`over="architecture"`); one panel per dataset."""
  by_dataset: dict = {}
  for (dataset, model, pre, initial), by_acq in curves.items():
    if pre not in (None, "none"):
      continue
    for a, by_seed in by_acq.items():
      sizes, accs = metrics.stack_seeds(by_seed)
      key = model if over == "acquisition" else a
      member = a if over == "acquisition" else model
      by_dataset.setdefault((dataset, initial), {}).setdefault(
          key, {})[member] = (sizes, accs.mean(0))
  panels = {k: v for k, v in by_dataset.items()
            if any(len(m) > 1 for m in v.values())}
  if not panels:
    return None
  fig, axes = _panels(len(panels))
  ordered = sorted(panels.items(), key=str)
  for ax, ((dataset, initial), groups) in zip(axes, ordered, strict=False):
    for i, (key, members) in enumerate(sorted(groups.items())):
      n = min(len(s) for s, _ in members.values())
      sizes = next(iter(members.values()))[0][:n]
      stacked = np.stack([acc[:n] for _, acc in members.values()])
      color = f"C{i % 10}"
      ax.fill_between(sizes, 100 * stacked.min(0), 100 * stacked.max(0),
                      color=color, alpha=0.25)
      ax.plot(sizes, 100 * stacked.mean(0), color=color,
              label=f"{key} ({len(members)} {over}s)")
    ax.set_xlabel("labeled examples")
    ax.set_ylabel("test accuracy (%)")
    fixed = "architecture" if over == "acquisition" else "acquisition"
    ax.set_title(f"{dataset} (init {initial}): spread across {over}s per "
                 f"{fixed}", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
  return _save(fig, out)


def complexity_curves(complexity: dict, out: str) -> str | None:
  """Feature-space complexity of the pool features per round: one panel
  per measure, one line per group (dataset / architecture), from
  `metrics.complexity_curves`. None when no run recorded complexity."""
  if not complexity:
    return None
  measures = [m for m in metrics.COMPLEXITY_MEASURES
              if any(m in by_m for by_m in complexity.values())]
  fig, axes = _panels(len(measures))
  for ax, measure in zip(axes, measures, strict=False):
    for i, (group, by_m) in enumerate(sorted(complexity.items(), key=str)):
      if measure in by_m:
        sizes, values = by_m[measure]
        ax.plot(sizes, values, marker=".", color=f"C{i % 10}",
                label=group_title(group))
    ax.set_xlabel("labeled examples")
    ax.set_ylabel(measure.replace("_", " "))
    ax.set_title(f"pool features: {measure}", fontsize=9)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
  return _save(fig, out)
