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
# # Score a pool with your own Flax model
#
# jaxdal's acquisition functions are pure `jax.numpy` functions of arrays:
# probabilities `[T, N, C]` (T Monte-Carlo dropout samples) and features
# `[N, D]`. Any model that gives those can use them, inside your own
# training code, under `jit` and `vmap`. This tutorial trains a small MLP
# on scikit-learn's digits and scores the rest of them with entropy, BALD,
# BADGE and coreset.

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import load_digits

from jaxdal import acquisition

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype(np.float32)
labeled = np.arange(100)          # the first 100 digits are labeled
pool = np.arange(100, len(x))     # the rest is the pool
print(x.shape, "labeled", len(labeled), "pool", len(pool))


# %% [markdown]
# A usual Flax MLP with dropout. `embed` gives the features that BADGE and
# coreset read: the input of the last layer.

# %%
class MLP(nn.Module):
  @nn.compact
  def __call__(self, x, deterministic=True):
    return nn.Dense(10, name="head")(self.embed(x, deterministic))

  @nn.compact
  def embed(self, x, deterministic=True):
    h = nn.relu(nn.Dense(64)(x))
    return nn.Dropout(0.3, deterministic=deterministic)(h)


model = MLP()
params = model.init(jax.random.key(0), x[:1])["params"]
tx = optax.adam(1e-2)
opt_state = tx.init(params)


@jax.jit
def step(params, opt_state, key):
  def loss(p):
    logits = model.apply({"params": p}, x[labeled], deterministic=False,
                         rngs={"dropout": key})
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, y[labeled]).mean()
  grads = jax.grad(loss)(params)
  updates, opt_state = tx.update(grads, opt_state)
  return optax.apply_updates(params, updates), opt_state


for i in range(200):
  params, opt_state = step(params, opt_state, jax.random.key(i))
accuracy = (model.apply({"params": params}, x[pool]).argmax(-1)
            == y[pool]).mean()
print(f"pool accuracy after training on 100 labels: {accuracy:.3f}")


# %% [markdown]
# ## Probabilities `[T, N, C]` from MC dropout
#
# Dropout stays on at prediction time, one key per sample; `vmap` over the
# keys gives the T samples at once.

# %%
@jax.jit
def mc_probs(params, xs, key, samples=20):
  def one(k):
    return jax.nn.softmax(model.apply({"params": params}, xs,
                                      deterministic=False,
                                      rngs={"dropout": k}))
  return jax.vmap(one)(jax.random.split(key, samples))


probs = mc_probs(params, x[pool], jax.random.key(1))
features = model.apply({"params": params}, x[pool], method=MLP.embed)
print("probs", probs.shape, "features", features.shape)

# %% [markdown]
# ## Scores and selections
#
# A score maps probabilities to `[N]`; `top_k` picks the highest. Every
# selector takes `(key, k, available, *, data)`: `available` is a bool mask
# over the candidates (here all of them), and `k` may not exceed it.

# %%
available = jnp.ones(len(pool), bool)
key = jax.random.key(2)
scores = {"entropy": acquisition.entropy(probs.mean(0)),
          "BALD": acquisition.bald(probs)}
picks = {name: acquisition.top_k(None, 10, available, scores=s)
         for name, s in scores.items()}
picks["BADGE"] = acquisition.badge(key, 10, available, probs=probs.mean(0),
                                   features=features)
picks["coreset"] = acquisition.kcenter_greedy(
    None, 10, available, features=features,
    labeled=jnp.zeros(len(pool), bool))
for name, idx in picks.items():
  print(f"{name:8s} picks pool positions {np.asarray(idx).tolist()}")

# %% [markdown]
# Entropy ranks by how uncertain the averaged prediction is, BALD by how
# much the dropout samples disagree, so their top tens need not overlap;
# BADGE and coreset spread their picks over the feature space. The two
# scores side by side:

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].scatter(scores["entropy"], scores["BALD"], s=6, alpha=0.5)
axes[0].set(xlabel="entropy (nats)", ylabel="BALD (nats)",
            title="two scores of the same pool")
shown = np.asarray(picks["BALD"])[:5]
for i, j in enumerate(shown):
  axes[1].imshow(x[pool[j]].reshape(8, 8), cmap="gray_r",
                 extent=(i * 9, i * 9 + 8, 0, 8))
axes[1].set(xlim=(0, 45), ylim=(0, 8), title="BALD's top five digits")
axes[1].axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## jit and vmap over seeds
#
# The functions are pure, so a whole selection jits, and `vmap` runs it for
# several seeds at once: here ten BADGE selections with ten keys.

# %%
badge_for = jax.jit(jax.vmap(
    lambda k: acquisition.badge(k, 10, available, probs=probs.mean(0),
                                features=features)))
many = badge_for(jax.random.split(jax.random.key(3), 10))
print("10 seeds x 10 picks:", many.shape)
overlap = np.mean([len(set(np.asarray(a).tolist())
                       & set(np.asarray(many[0]).tolist())) / 10
                   for a in many[1:]])
print(f"mean overlap with seed 0's picks: {overlap:.2f}")
