"""Figures drawn from a run's files (never from in-memory state)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from jaxdal import metrics  # noqa: E402


def learning_curve(workdir: str, out: str | None = None) -> str:
  """Test accuracy against labeled-set size, read from `workdir`.

  Returns:
    The path of the written PNG (default `workdir/figures/learning_curve.png`).
  """
  config, records = metrics.read_run(workdir)
  sizes, accs = metrics.learning_curve(records)
  out = out or os.path.join(workdir, "figures", "learning_curve.png")
  os.makedirs(os.path.dirname(out), exist_ok=True)
  fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
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
  plt.close(fig)
  return out


def architecture_evolution(workdir: str, out: str | None = None) -> str | None:
  """The inferred architecture per round, like the paper's Figure 9.

  One column per round: per-layer activation probability as bars above the
  filters-by-layers mask (1 = filter active / kept). Reads the
  "architecture" entries of `metrics.jsonl`.

  Returns:
    The PNG path (default `workdir/figures/architecture.png`), or None when
    the run records no mask (fixed networks).
  """
  config, records = metrics.read_run(workdir)
  records = [r for r in sorted(records, key=lambda r: r["round"])
             if (r.get("architecture") or {}).get("mask") is not None]
  if not records:
    return None
  out = out or os.path.join(workdir, "figures", "architecture.png")
  os.makedirs(os.path.dirname(out), exist_ok=True)
  n = len(records)
  fig, axes = plt.subplots(2, n, figsize=(2.2 * n + 0.8, 4.6), dpi=120,
                           squeeze=False,
                           gridspec_kw={"height_ratios": [1, 2.2]})
  image = None
  for col, r in enumerate(records):
    arch = r["architecture"]
    act = arch["layer_activation"]
    layers = range(1, len(act) + 1)
    top, bottom = axes[0, col], axes[1, col]
    top.bar(layers, act, color="tab:blue", width=0.8)
    top.set_ylim(0, 1.05)
    top.set_title(f"round {r['round']}\n{r['labeled']} labels",
                  fontsize=9)
    image = bottom.imshow(arch["mask"], aspect="auto", cmap="viridis",
                          vmin=0, vmax=1, interpolation="nearest",
                          extent=(0.5, len(act) + 0.5,
                                  len(arch["mask"]) - 0.5, -0.5))
    bottom.set_xlabel("layer", fontsize=8)
    if "depth" in arch:
      bottom.set_title(f"depth {arch['depth']:.1f}", fontsize=8)
    if col == 0:
      top.set_ylabel("activation\nprobability", fontsize=8)
      bottom.set_ylabel("filter", fontsize=8)
    else:
      top.set_yticklabels([])
      bottom.set_yticklabels([])
    for ax in (top, bottom):
      ax.tick_params(labelsize=7)
      ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  fig.colorbar(image, ax=axes[1, :].tolist(), shrink=0.8,
               label="P(filter active)")
  fig.suptitle(f"{config.get('method', '?')} ({config.get('mode', '?')}) on "
               f"{config.get('dataset', '?')}, {config.get('acquisition')}",
               fontsize=10)
  fig.savefig(out, bbox_inches="tight")
  plt.close(fig)
  return out
