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
# # Feature-space complexity across rounds
#
# The paper's title claims that the complexity of the feature space, which
# the architecture sets, decides which data selection works best. jaxdal
# measures that complexity: every round records five measures of the
# penultimate features of a fixed pool sample and of a labeled sample
# (`jaxdal.complexity`, pure `jax.numpy`):
#
# | measure | what it says | larger means |
# |---|---|---|
# | `twonn` | intrinsic dimension (TwoNN: ratios of second to first neighbour distances) | the features spread over more directions locally |
# | `effective_rank` | exp of the entropy of the normalised singular values | more directions carry variance |
# | `participation_ratio` | `(sum l)^2 / sum l^2` of the covariance eigenvalues | likewise, weighted to the largest |
# | `fisher_ratio` | Ho and Basu's F1, `1 / (1 + max Fisher discriminant ratio)` | classes less separable along any one feature |
# | `boundary_fraction` | N1: share of points on a minimum-spanning-tree edge between classes | more points near a class boundary |
#
# ## The measures on arrays whose answer is known

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import jaxdal
from jaxdal import complexity

rng = np.random.default_rng(0)
plane = rng.normal(size=(1000, 2)) @ rng.normal(size=(2, 10))  # 2-D in 10-D
labels = (plane[:, 0] > 0).astype(int)
print({k: round(v, 3) for k, v in complexity.measures(plane, labels).items()})
cloud = rng.normal(size=(1000, 10))                           # all 10 dims
print({k: round(v, 3) for k, v in complexity.measures(
    cloud, rng.integers(0, 2, 1000)).items()})

# %% [markdown]
# The plane has intrinsic dimension about 2 and an effective rank near 2;
# a split along one of its directions leaves few points on the boundary.
# The isotropic cloud uses all 10 dimensions, and random labels put most
# points on a boundary edge.
#
# ## Across the rounds of two backbones
#
# Two short focus 1 runs on mnist5k, a CNN and an MLP, entropy sampling,
# 4 rounds. Each record's `complexity` holds the measures of that round's
# network.

# %%
ROOT = Path(jaxdal.__file__).resolve().parents[1]  # the repository
runs = Path(tempfile.mkdtemp())
for backbone in ("cnn", "mlp"):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.focus1", "--backbone", backbone,
       "--rounds", "4", "--max_epochs", "20", "--pool_size", "2000",
       "--test_size", "1000", "--noprogress", "--workdir",
       str(runs / backbone)], cwd=ROOT, capture_output=True, text=True,
      env={**os.environ, "HF_HUB_OFFLINE": "1"})
  assert out.returncode == 0, out.stderr[-2000:]
  print(out.stdout.splitlines()[-1])

records = {b: [json.loads(line) for line in
               (runs / b / "metrics.jsonl").read_text().splitlines()]
           for b in ("cnn", "mlp")}
print(json.dumps(records["cnn"][0]["complexity"], indent=1))

# %%
names = ("twonn", "effective_rank", "boundary_fraction")
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, name in zip(axes, names, strict=True):
  for backbone, recs in records.items():
    ax.plot([r["labeled"] for r in recs],
            [r["complexity"]["pool"][name] for r in recs], marker="o",
            label=backbone)
  ax.set(title=name, xlabel="labeled examples")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# How to read it: as the labeled set grows, a network that separates the
# classes better puts fewer pool points on a boundary (`boundary_fraction`
# falls), and the two backbones organise their feature spaces differently
# (the dimension measures differ more by backbone than by round, partly
# because their feature vectors have different widths).
# `experiments.report` correlates each group's mean complexity with each
# acquisition's gain over random across many runs (Spearman's rho with a
# permutation p-value); [Reproduction](../../reproduction/) reports what
# that showed on the committed grids.
