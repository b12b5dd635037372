"""The `cnn` backbone and the backbone registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import models


@pytest.mark.parametrize("depth,shape", [(1, (28, 28, 1)), (3, (32, 32, 3)),
                                         (2, (8, 8, 1))])
def test_shapes(depth, shape):
  model = models.build("cnn", 7, depth=depth, width=12)
  x = jnp.ones((5, *shape))
  variables = model.init(jax.random.key(0), x)
  logits, features = model.apply(variables, x)
  assert logits.shape == (5, 7) and features.shape == (5, 12)


def _count(tree):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(tree))


def test_parameter_count_by_hand():
  # depth 2, width 4, 1 input channel, 3 classes, BatchNorm:
  # stem 5*5*1*4 = 100 (no bias) + norm 8; residual conv 3*3*4*4 = 144 +
  # norm 8; MLP dense 4*4+4 = 20 + norm 8; classifier 4*3+3 = 15.
  model = models.build("cnn", 3, depth=2, width=4)
  variables = model.init(jax.random.key(0), jnp.ones((1, 10, 10, 1)))
  assert _count(variables["params"]) == 100 + 8 + 144 + 8 + 20 + 8 + 15


def test_features_feed_the_classifier():
  model = models.build("cnn", 3, depth=1, width=6, dropout_rate=0.0)
  x = jax.random.normal(jax.random.key(1), (4, 10, 10, 1))
  variables = model.init(jax.random.key(0), x)
  logits, features = model.apply(variables, x)
  head = variables["params"]["classifier"]
  np.testing.assert_allclose(logits, features @ head["kernel"] + head["bias"],
                             rtol=1e-5, atol=1e-5)


def test_mc_dropout_mask_is_shared_across_the_batch():
  model = models.build("cnn", 3, depth=1, width=16, dropout_rate=0.5)
  x1 = jax.random.normal(jax.random.key(1), (1, 10, 10, 1))
  x = jnp.concatenate([x1, x1, x1])
  variables = model.init(jax.random.key(0), x)
  rngs = {"dropout": jax.random.key(3)}
  mc, _ = model.apply(variables, x, mc=True, rngs=rngs)
  np.testing.assert_allclose(mc[0], mc[1], rtol=1e-6)
  np.testing.assert_allclose(mc[0], mc[2], rtol=1e-6)
  # In training, masks differ per example.
  tr, _ = model.apply(variables, x, train=True, rngs=rngs,
                      mutable=["batch_stats"])
  assert not np.allclose(tr[0][0], tr[0][1])


def test_registry_errors():
  with pytest.raises(ValueError) as e:
    models.get("resnet7")
  assert "resnet7" in str(e.value) and "cnn" in str(e.value)
  with pytest.raises(ValueError, match="already registered"):
    models.register("cnn", models.MLP)  # another entry; the same is a no-op
