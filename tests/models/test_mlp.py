"""The MLP backbone: image-sized defaults, the toy's tanh networks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import models


def test_defaults_fit_images():
  model = models.build("mlp", 10)
  v = model.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))
  shapes = {k: v["params"][k]["kernel"].shape for k in v["params"]}
  assert shapes == {"hidden_0": (784, 512), "hidden_1": (512, 256),
                    "classifier": (256, 10)}


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_features_are_the_last_hidden_layer(activation):
  model = models.build("mlp", 3, hidden=(5, 4), activation=activation)
  x = jax.random.normal(jax.random.key(1), (6, 7))
  v = model.init(jax.random.key(2), x)
  logits, features = model.apply(v, x)
  p = jax.tree.map(np.asarray, v["params"])
  act = {"relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}[activation]
  h = act(np.asarray(x) @ p["hidden_0"]["kernel"] + p["hidden_0"]["bias"])
  h = act(h @ p["hidden_1"]["kernel"] + p["hidden_1"]["bias"])
  np.testing.assert_allclose(features, h, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      logits, h @ p["classifier"]["kernel"] + p["classifier"]["bias"],
      rtol=1e-5, atol=1e-6)


def test_unknown_activation_is_one_line():
  model = models.build("mlp", 3, activation="gelu")
  with pytest.raises(ValueError, match="unknown activation 'gelu'; valid: "
                     "relu, tanh"):
    model.init(jax.random.key(0), jnp.zeros((1, 4)))
