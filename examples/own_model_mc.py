"""Your own Flax model with BALD (MC dropout) and with BADGE."""
import flax.linen as nn
import optax
from sklearn.datasets import make_classification

import jaxdal


class MLP(nn.Module):  # deterministic=False turns dropout on: MC samples
  @nn.compact
  def __call__(self, x, deterministic=True):
    h = nn.Dropout(0.3, deterministic=deterministic)(nn.relu(nn.Dense(64)(x)))
    return nn.Dense(3)(h)  # BADGE's features: the input of this layer
x, y = make_classification(1200, 20, n_informative=8, n_classes=3,
                           random_state=0)
for name in ("bald", "badge"):  # y[idx] plays the oracle
  al = jaxdal.learner(MLP(), optax.adam(1e-3), x[:1000], acquisition=name,
                      batch_size=16)
  state = al.init(0)
  idx = al.query(state, 30)
  for r in range(3):
    state, _ = al.fit(al.teach(state, idx, y[idx]))
    acc = al.evaluate(state, x[1000:], y[1000:])
    print(f"{name} round {r}: {30 * (r + 1)} labels, test accuracy {acc:.3f}")
    idx = al.query(state, 30)
