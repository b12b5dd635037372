"""Figures drawn from a run's files (never from in-memory state)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
  ax.set_title(f"{config.get('dataset', '?')} / {config.get('backbone', '?')}")
  ax.grid(alpha=0.3)
  ax.legend(title="acquisition")
  fig.tight_layout()
  fig.savefig(out)
  plt.close(fig)
  return out
