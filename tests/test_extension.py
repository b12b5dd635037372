"""Extension proof: a new acquisition function, backbone and fixed-
architecture method, defined and registered in this file alone, each run
through `loop.run` for two rounds (docs/extending.md shows the recipes)."""

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition, archopt, loop, models

TINY = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=160, num_test=40, shape=[8, 8, 1],
                                num_classes=3, noise=0.5, seed=4),
            rounds=2, initial=9, acquire=6, batch_size=16, max_epochs=2,
            patience=2)


def lowest_max_probability(probs):
  """[T, N, C] -> [N]: least confident by the MC-mean's top class."""
  return -acquisition.mean_probs(probs).max(-1)


class TinyMLP(nn.Module):
  """A backbone: `__call__(x, *, train, mc) -> (logits, features)`, with
  its last layer a Dense named "classifier"."""
  num_classes: int
  width: int = 12

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    h = nn.relu(nn.Dense(self.width)(x.reshape(x.shape[0], -1)))
    h = nn.Dropout(0.2, deterministic=not (train or mc))(h)
    return nn.Dense(self.num_classes, name="classifier")(h), h


def make_two_layer(num_classes: int, *, width: int = 10) -> archopt.Method:
  """A fixed-architecture method: its network and a summary to report."""
  return archopt.fixed(TinyMLP(num_classes, width=width),
                       {"depth": 2, "active_filters": [width, width],
                        "filters": width})


@pytest.fixture
def registered():
  acquisition.register("test_lowest_max",
                       acquisition.from_score(lowest_max_probability))
  models.register("test_tiny_mlp", TinyMLP)
  archopt.register("test_two_layer", make_two_layer)
  yield
  acquisition.ACQUISITIONS.unregister("test_lowest_max")
  models.BACKBONES.unregister("test_tiny_mlp")
  archopt.METHODS.unregister("test_two_layer")


def _run(tmp_path, name, **settings):
  lines = []
  records = loop.run(loop.Settings.of(**TINY, **settings),
                     str(tmp_path / name), progress=False, log=lines.append)
  assert [r["labeled"] for r in records] == [9, 15]
  assert len(set(records[0]["acquired"])) == 6
  return records, lines


def test_new_acquisition_runs_and_picks_the_least_confident(tmp_path,
                                                            registered):
  records, _ = _run(tmp_path, "acq", acquisition="test_lowest_max",
                    backbone_kwargs=dict(depth=1, width=4))
  assert records[0]["architecture"] is None
  with pytest.raises(ValueError, match="test_lowest_max"):
    acquisition.get("test_lowest_mx")


def test_new_backbone_runs(tmp_path, registered):
  records, _ = _run(tmp_path, "backbone", backbone="test_tiny_mlp",
                    backbone_kwargs=dict(width=7), acquisition="bald")
  assert 0.0 <= records[-1]["test_accuracy"] <= 1.0


def test_new_method_runs_and_describes_itself(tmp_path, registered):
  records, lines = _run(tmp_path, "method", method="test_two_layer",
                        method_kwargs=dict(width=5), acquisition="margin")
  assert records[1]["architecture"]["active_filters"] == [5, 5]
  assert "      architecture: depth 2.00; active filters per layer [5 5] " \
         "of 5" in lines
  # A fixed method has no architecture to optimise: its modes are refused.
  with pytest.raises(ValueError, match="needs an architecture"):
    loop.run(loop.Settings.of(**TINY, method="test_two_layer", mode="spo"),
             str(tmp_path / "spo"), progress=False)


def test_registered_names_reach_the_registries(registered):
  assert "test_two_layer" in archopt.names()
  assert "test_tiny_mlp" in models.names()
  np.testing.assert_allclose(
      lowest_max_probability(jnp.array([[[0.2, 0.8], [0.5, 0.5]]])),
      [-0.8, -0.5])
