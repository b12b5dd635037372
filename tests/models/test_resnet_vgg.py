"""ResNet and VGG backbones: parameter counts, shapes, and that they train."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import models, optim, train

# torch `parameters()` counts of the same networks for 10 classes and
# 32x32x3 inputs, printed by benchmarks/reference/param_counts_torch.py
# (torch 2.13.0). ResNet-18/34/50 also equal the widely quoted CIFAR values.
TORCH_COUNTS = {"resnet18": 11_173_962, "resnet34": 21_282_122,
                "resnet50": 23_520_842, "vgg11": 32_215_554,
                "vgg16": 37_712_706, "vgg19": 43_024_962}


@pytest.mark.parametrize("name", sorted(TORCH_COUNTS))
def test_parameter_counts(name):
  model = models.build(name, 10)
  shapes = jax.eval_shape(lambda: model.init(jax.random.key(0),
                                             jnp.zeros((1, 32, 32, 3))))
  count = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(
      shapes["params"]))
  assert count == TORCH_COUNTS[name]


TINY = {
    "resnet18": dict(stage_sizes=(1, 1, 1, 1), widths=(4, 8, 8, 8)),
    "resnet50": dict(stage_sizes=(1, 1, 1, 1), widths=(2, 4, 4, 4)),
    "vgg11": dict(config=(8, "M", 8, "M", 16, "M", 16, "M", 16, "M"),
                  fc=(16, 12)),
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_shapes_and_a_few_steps_of_training(name, shape, mnist5k):
  model = models.build(name, 7, **TINY[name])
  if shape == (28, 28, 1):
    x = jnp.asarray(mnist5k.x_train[::100][:16])
  else:
    x = jax.random.normal(jax.random.key(1), (16, *shape))
  y = jnp.arange(16) % 7
  variables = jax.jit(model.init)(jax.random.key(0), x)
  logits, feats = jax.jit(model.apply)(variables, x)
  expected_dim = {"resnet18": 8, "resnet50": 16, "vgg11": 12}[name]
  assert logits.shape == (16, 7) and feats.shape == (16, expected_dim)
  tx = optim.make_optimizer("adam", learning_rate=1e-2)
  trainer = train.make_trainer(model, tx)
  state = train.set_learning_rate(
      train.init_state(model, tx, jax.random.key(0), shape), 1e-2)
  losses = []
  for step in range(12):
    state, out = trainer.train_step(state, x, y, jnp.arange(16),
                                    jnp.ones(16, bool),
                                    jax.random.key(step), jnp.float32(16))
    losses.append(float(out["loss"]))
  assert np.isfinite(losses).all() and losses[-1] < losses[0]
