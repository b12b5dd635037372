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
# # Your own acquisition
#
# An acquisition is a function of arrays. A **score** maps probabilities
# `[T, N, C]` to `[N]` and is wrapped into a top-k selection by
# `acquisition.from_score`; a **set-valued** one chooses its `k` together
# and has the selectors' signature
# `select(key, k, available, *, probs, features, labeled) -> int32 [k]`.
# Registered under a name, either works everywhere a built-in one does:
# in `jaxdal.learner`, in `loop.run`, and on the command line with
# `--import`.
#
# The module below defines one of each: the *variation ratio* (the share of
# MC-dropout samples that disagree with the most common class) and
# *diverse margin* (the `4k` smallest margins, thinned to `k` spread-out
# examples by k-center greedy on the features).

# %%
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = '''
"""Two acquisitions of my own."""
import jax
import jax.numpy as jnp

from jaxdal import acquisition


def variation_ratio(probs):
  """1 - (share of MC samples voting for the modal class), [T, N, C]->[N]."""
  if probs.ndim == 2:
    probs = probs[None]
  votes = jax.nn.one_hot(probs.argmax(-1), probs.shape[-1]).sum(0)  # [N, C]
  return 1.0 - votes.max(-1) / probs.shape[0]


def diverse_margin(key, k, available, *, probs, features, labeled):
  """The 4k smallest margins, thinned by k-center greedy on the features."""
  del key  # deterministic
  margin = acquisition.margin(probs.mean(0) if probs.ndim == 3 else probs)
  pool = jnp.where(available, -margin, -jnp.inf)  # small margin = high
  shortlist = min(4 * k, pool.shape[0])
  top = jax.lax.top_k(pool, shortlist)[1]
  keep = jnp.zeros_like(available).at[top].set(True) & available
  return acquisition.kcenter_greedy(None, k, keep, features=features,
                                    labeled=labeled)


acquisition.register("variation_ratio", acquisition.from_score(
    variation_ratio, uses_mc=True))
acquisition.register("diverse_margin", acquisition.Acquisition(
    select=diverse_margin, uses_features=True))
'''
folder = Path(tempfile.mkdtemp())
module_path = folder / "my_acquisitions.py"
module_path.write_text(SOURCE)
spec = importlib.util.spec_from_file_location("my_acquisitions", module_path)
my_acquisitions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(my_acquisitions)

from jaxdal import acquisition

print([n for n in acquisition.names() if n in ("variation_ratio",
                                               "diverse_margin")])

# %% [markdown]
# Registering the same object again is a no-op (a cell run twice), and
# `register(name, entry, replace=True)` replaces an entry.

# %%
again = acquisition.register("variation_ratio",
                             acquisition.get("variation_ratio"))
print("registered again:", again is acquisition.get("variation_ratio"))

# %% [markdown]
# ## Check them on arrays
#
# Four MC samples of three examples: the first is unanimous, the second
# split 2-2, the third 3-1.

# %%
import jax.numpy as jnp

p = jnp.array([[[.9, .1], [.6, .4], [.8, .2]],
               [[.8, .2], [.4, .6], [.7, .3]],
               [[.9, .1], [.7, .3], [.3, .7]],
               [[.7, .3], [.3, .7], [.6, .4]]])
print("variation ratio:", my_acquisitions.variation_ratio(p).tolist())

# %% [markdown]
# ## In a loop on your own arrays

# %%
import flax.linen as nn
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import make_classification

import jaxdal

x, y = make_classification(1400, 20, n_informative=8, n_classes=3,
                           random_state=1)
x = x.astype(np.float32)


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x, deterministic=True):
    h = nn.Dropout(0.3, deterministic=deterministic)(nn.relu(nn.Dense(64)(x)))
    return nn.Dense(3)(h)


results = {}
for name in ("random", "variation_ratio", "diverse_margin"):
  al = jaxdal.learner(MLP(), optax.adam(1e-3), x[:1200], acquisition=name,
                      batch_size=32, max_epochs=60)
  state, idx, accs = al.init(0), None, []
  idx = al.query(state, 25)
  for _ in range(5):
    state, _ = al.fit(al.teach(state, idx, y[idx]))
    accs.append(al.evaluate(state, x[1200:], y[1200:]))
    idx = al.query(state, 25)
  results[name] = accs
  print(f"{name:16s}", " ".join(f"{a:.3f}" for a in accs))

fig, ax = plt.subplots(figsize=(6, 3.4))
for name, accs in results.items():
  ax.plot(25 * np.arange(1, 6), accs, marker="o", label=name)
ax.set(xlabel="labeled examples", ylabel="test accuracy")
ax.legend()
plt.show()

# %% [markdown]
# ## From the command line
#
# Every experiment program takes `--import MODULE` (a dotted name or a
# path to a `.py` file, repeatable). The module is imported before the
# flags are defined, so its names are valid `--acquisition` values and
# `--help` lists them. A two-round focus 1 run on a small synthetic
# dataset:

# %%
ROOT = Path(jaxdal.__file__).resolve().parents[1]  # the repository
command = [sys.executable, "-m", "experiments.focus1",
           "--import", str(module_path), "--acquisition", "diverse_margin",
           "--dataset", "synthetic", "--dataset_kwargs",
           '{"num_train": 600, "num_test": 200, "shape": [12, 12, 1], '
           '"num_classes": 4, "noise": 0.5, "seed": 0}',
           "--backbone_kwargs", '{"depth": 1, "width": 8}',
           "--initial", "20", "--acquire", "20", "--rounds", "3",
           "--max_epochs", "15", "--noprogress", "--complexity", "none",
           "--workdir", str(folder / "run")]
out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                     env={**os.environ, "HF_HUB_OFFLINE": "1"})
print(out.stdout[-1500:] or out.stderr[-1500:])
