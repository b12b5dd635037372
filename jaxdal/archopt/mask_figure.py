"""The paper's Figure 9 for methods that report a filters-by-layers mask
(BBDropout, Depth-Dropout): one column per round, per-layer activation
probability as bars above the mask (1 = filter active / kept)."""

import os

__all__ = ["draw"]


def draw(config: dict, records: list[dict], out: str) -> str | None:
  """Draws the `"layer_activation"` and `"mask"` summaries of `records`.

  Args:
    config: the run's `config.json` (for the title).
    records: per-round records, in round order.
    out: PNG path.

  Returns:
    `out`, or None when no record holds a mask.
  """
  records = [r for r in records
             if (r.get("architecture") or {}).get("mask") is not None]
  if not records:
    return None
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from matplotlib.ticker import MaxNLocator

  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
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
