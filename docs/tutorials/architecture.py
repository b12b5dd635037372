# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Architecture optimisation during active learning
#
# Focus 2 of the paper asks what happens when the network itself is
# optimised while labels arrive. `python -m experiments.focus2 --method
# bbdropout` runs BBDropout: beta-Bernoulli gates over every filter of an
# 8-layer CNN, trained with the weights, switch filters off that the data
# does not need. Here a shortened version of that run (3 rounds instead of
# 5, a pool of 2,000) beside the fixed 5-layer CNN `cnn5`, then the report
# over the two.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from IPython.display import Image, Markdown, display

import jaxdal

ROOT = Path(jaxdal.__file__).resolve().parents[1]  # the repository
runs = Path(tempfile.mkdtemp())
SHORT = ["--rounds", "3", "--pool_size", "2000",
         "--test_size", "1000", "--val_size", "200", "--noprogress"]


def focus2(*flags):
  out = subprocess.run([sys.executable, "-m", "experiments.focus2", *flags,
                        *SHORT], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
  assert out.returncode == 0, out.stderr[-2000:]
  return out.stdout


print(focus2("--method", "bbdropout", "--workdir", str(runs / "bbdropout")))

# %% [markdown]
# The architecture figure: one panel per round, the filters of each layer
# as columns of the mask, coloured by their activation probability. A
# filter that BBDropout switches off turns pale and stops counting among
# the "active filters per layer" the table prints.

# %%
display(Image(filename=str(runs / "bbdropout" / "figures" /
                           "architecture.png"), width=700))

# %% [markdown]
# The same rounds with the fixed `cnn5` (5 convolutional layers):

# %%
print(focus2("--method", "cnn5", "--workdir", str(runs / "cnn5")))

# %% [markdown]
# ## A report over both
#
# `experiments.report` reads every run under a folder and writes figures
# and `summary.md`: the normalised area under each learning curve (AUC),
# gains over random, spreads across architectures and acquisitions.

# %%
out = subprocess.run([sys.executable, "-m", "experiments.report", "--runs",
                      str(runs), "--out", str(runs / "report")], cwd=ROOT,
                     capture_output=True, text=True)
assert out.returncode == 0, out.stderr[-2000:]
print(sorted(os.listdir(runs / "report")))
summary = (runs / "report" / "summary.md").read_text()
display(Markdown(summary.split("\n## Figures")[0]))

# %% [markdown]
# In this short run the fixed `cnn5` learns faster from 100-300 labels
# than BBDropout's 8-layer network, which has more to fit and switches
# off only a filter or two. The medium-preset grids on Fashion-MNIST find
# the same direction ([Reproduction](../../reproduction/), finding 3). The
# learning curves of both runs, as the report draws them:

# %%
display(Image(filename=str(runs / "report" / "learning_curves.png"),
              width=650))

# %% [markdown]
# What a record says about the architecture, round by round:

# %%
for line in (runs / "bbdropout" / "metrics.jsonl").read_text().splitlines():
  r = json.loads(line)
  print(r["round"], r["labeled"], f"{100 * r['test_accuracy']:.1f}%",
        "active filters", r["architecture"]["active_filters"])
