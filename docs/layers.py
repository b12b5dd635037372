"""jaxdal's layers, bottom to top, and the picture of them on the Design
page (drawn when the site is built). `tests/test_docs.py` checks them
against the code: every module of `jaxdal/` is in exactly one layer, and
a module imports only modules of its own layer or of layers below it.
"""

import ast
import io
import os
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYERS = (
    ("foundation", "no model, no data: names, devices, faults, caches",
     ("registry", "lazy", "hub", "sharding", "diagnostics", "faults",
      "compile_cache", "stopping", "journal")),
    ("arrays", "pure jax.numpy over arrays and the pool",
     ("acquisition", "complexity", "data", "calibration",
      "stopping_criteria")),
    ("models", "Linen modules, losses, optimisers, methods",
     ("models", "adapters", "losses", "optim", "initialisation",
      "archopt")),
    ("training", "steps, the epoch loop, predictions, checkpoints",
     ("evaluation", "train", "seeds", "predict", "pretrain",
      "checkpoint")),
    ("learner", "the loop's steps over an immutable state",
     ("network", "state", "learning")),
    ("run machinery", "settings into a workdir: the programs' rounds",
     ("settings", "plan", "workdir", "modes", "context", "recorder", "loop",
      "lockstep", "console", "metrics", "rank_correlation", "plots")),
)


def layer_of() -> dict[str, int]:
  """Top-level module name -> its layer's index (0 at the bottom)."""
  return {m: i for i, (_, _, modules) in enumerate(LAYERS) for m in modules}


def top_level_modules() -> set[str]:
  """The modules and packages directly under `jaxdal/`."""
  names = set()
  for entry in os.listdir(os.path.join(ROOT, "jaxdal")):
    path = os.path.join(ROOT, "jaxdal", entry)
    if entry.endswith(".py") and entry != "__init__.py":
      names.add(entry[:-3])
    elif os.path.isfile(os.path.join(path, "__init__.py")):
      names.add(entry)
  return names


def imports_of(module: str) -> set[str]:
  """The top-level jaxdal modules that `jaxdal.<module>` (every file of a
  package) imports, itself left out."""
  base = os.path.join(ROOT, "jaxdal", module)
  files = ([os.path.join(d, f) for d, _, fs in os.walk(base) for f in fs
            if f.endswith(".py")] if os.path.isdir(base) else [base + ".py"])
  found = set()
  for path in files:
    with open(path) as f:
      tree = ast.parse(f.read())
    for node in ast.walk(tree):
      names = []
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.module:
        names = [node.module] + [f"{node.module}.{a.name}"
                                 for a in node.names]
      for name in names:
        parts = name.split(".")
        if parts[0] == "jaxdal" and len(parts) > 1:
          found.add(parts[1])
  known = top_level_modules()
  return {m for m in found if m in known} - {module}


def draw_svg() -> bytes:
  """The layers as an SVG picture: one band per layer, bottom to top."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(12, 6.6))
  for i, (name, what, modules) in enumerate(LAYERS):
    ax.add_patch(plt.Rectangle((0, i), 10, 0.9, color=plt.cm.Blues(
        0.12 + 0.1 * i), ec="0.3"))
    ax.text(0.15, i + 0.62, name, fontsize=12, weight="bold", va="center")
    ax.text(0.15, i + 0.25, what, fontsize=8, style="italic", va="center")
    ax.text(4.3, i + 0.45, textwrap.fill("  ".join(modules), 52),
            fontsize=9.5, va="center", family="monospace")
  ax.text(5, len(LAYERS) + 0.2, "experiments/  (CLIs: focus1, focus2, "
          "report, toy; configs)", ha="center", fontsize=11,
          family="monospace")
  ax.annotate("", xy=(10.35, 0.2), xytext=(10.35, len(LAYERS) - 0.2),
              arrowprops=dict(arrowstyle="->", color="0.3"))
  ax.text(10.5, len(LAYERS) / 2, "imports point down", rotation=90,
          ha="left", va="center", fontsize=9, color="0.3")
  ax.set_xlim(0, 10.9)
  ax.set_ylim(-0.1, len(LAYERS) + 0.6)
  ax.axis("off")
  out = io.BytesIO()
  fig.savefig(out, format="svg", bbox_inches="tight", metadata={
      "Date": None})
  plt.close(fig)
  return out.getvalue()
