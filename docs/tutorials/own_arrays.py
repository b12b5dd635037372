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
# # An active-learning loop on your own arrays
#
# `jaxdal.learner(model, optimizer, x)` turns any Flax module and any optax
# optimiser into the loop's steps over your examples `x`: `init`, `query`,
# `teach`, `fit`, `evaluate`. They are pure functions of an immutable
# `LearnerState`, and the labels come from you: here from an oracle
# function, in practice from a person or a lab.

# %%
import flax.linen as nn
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import make_classification

import jaxdal

x, y = make_classification(1500, 20, n_informative=8, n_classes=4,
                           n_clusters_per_class=1, random_state=0)
x = x.astype(np.float32)
x_pool, x_test, y_test = x[:1200], x[1200:], y[1200:]


def oracle(indices):
  """Whoever answers: here the hidden labels of the pool."""
  return y[:1200][np.asarray(indices)]


# %% [markdown]
# A Flax MLP written the usual way: a `deterministic` flag, logits out.
# jaxdal adapts it (the flag follows training and MC dropout; the features
# BADGE and coreset need are the input of its last `nn.Dense`).

# %%
class MLP(nn.Module):
  @nn.compact
  def __call__(self, x, deterministic=True):
    h = nn.relu(nn.Dense(64)(x))
    h = nn.Dropout(0.2, deterministic=deterministic)(h)
    return nn.Dense(4)(h)


# %% [markdown]
# ## Query, teach, fit
#
# Nothing is labeled at first, so the first query is random; every later
# one ranks the pool by the acquisition. Each `teach` advances the round.

# %%
curves = {}
for name in ("random", "entropy", "badge"):
  al = jaxdal.learner(MLP(), optax.adam(1e-3), x_pool, acquisition=name,
                      batch_size=32, max_epochs=60, num_classes=4)
  state = al.init(0)                       # a seed: the keys of every round
  sizes, accuracies = [], []
  idx = al.query(state, 20)
  for _ in range(6):
    state = al.teach(state, idx, oracle(idx))
    state, fit = al.fit(state)
    sizes.append(int(state.pool.labeled.sum()))
    accuracies.append(al.evaluate(state, x_test, y_test))
    idx = al.query(state, 20)
  curves[name] = (sizes, accuracies)
  print(f"{name:8s}", " ".join(f"{a:.3f}" for a in accuracies))

# %% [markdown]
# ## The learning curves

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, (sizes, accuracies) in curves.items():
  ax.plot(sizes, accuracies, marker="o", label=name)
ax.set(xlabel="labeled examples", ylabel="test accuracy",
       title="one seed of each acquisition")
ax.legend()
plt.show()

# %% [markdown]
# One seed is one draw: the curves move with the seed by about as much as
# they differ here. The state is an ordinary pytree, so saving it is one
# call (`jaxdal.learning.save(path, state)`, Orbax), and the same state
# makes the same picks: the keys of round r are `fold_in(state.key, r)`.

# %%
again = al.query(state, 20)
print("the same state queries the same examples:",
      bool((np.asarray(again) == np.asarray(idx)).all()))
