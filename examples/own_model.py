"""Active learning with your own Flax model, optax optimiser and arrays."""
import flax.linen as nn
import optax
from sklearn.datasets import make_classification

import jaxdal


class MLP(nn.Module):  # the usual way: a `deterministic` flag, logits out
  @nn.compact
  def __call__(self, x, deterministic=True):
    h = nn.Dropout(0.2, deterministic=deterministic)(nn.relu(nn.Dense(64)(x)))
    return nn.Dense(3)(h)

x, y = make_classification(1200, 20, n_informative=8, n_classes=3,
                           random_state=0)
oracle = lambda idx: y[idx]  # a person, a lab, a simulator: labels on demand
al = jaxdal.learner(MLP(), optax.adam(1e-3), x[:1000], batch_size=16)
state = al.init(0)  # a seed (or a key): every draw derives from it
idx = al.query(state, 30)  # nothing is labeled yet: a random start
for r in range(3):
  state, _ = al.fit(al.teach(state, idx, oracle(idx)))
  acc = al.evaluate(state, x[1000:], y[1000:])
  print(f"round {r}: {30 * (r + 1)} labels, test accuracy {acc:.3f}")
  idx = al.query(state, 30)  # the most uncertain (entropy) of the rest
