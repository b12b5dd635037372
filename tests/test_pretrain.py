"""DeepCluster pretraining: k-means, whitening, purity, fixed shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition, archopt, models, pretrain


def test_kmeans_recovers_separated_blobs():
  rng = np.random.default_rng(0)
  centres = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
  labels = np.repeat(np.arange(3), 40)
  x = centres[labels] + rng.normal(scale=0.5, size=(120, 2))
  found, assign = acquisition.kmeans(jnp.asarray(x, jnp.float32), 3,
                                  jax.random.key(0))
  assert pretrain.purity(np.asarray(assign), labels) == 1.0
  np.testing.assert_allclose(np.sort(np.asarray(found), axis=0),
                             np.sort(centres, axis=0), atol=0.3)


def test_whitening_gives_unit_rows_and_identity_covariance_direction():
  rng = np.random.default_rng(1)
  f = rng.normal(size=(500, 4)) @ np.diag([10.0, 1.0, 0.1, 3.0])
  w = np.asarray(pretrain.whiten(jnp.asarray(f, jnp.float32)))
  np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, rtol=1e-5)
  # Before the row normalisation the covariance is the identity, so the
  # normalised rows spread evenly: every axis carries ~1/4 of the energy.
  np.testing.assert_allclose((w ** 2).mean(0), 0.25, atol=0.05)


def test_purity():
  assert pretrain.purity(np.array([0, 0, 1, 1]), np.array([3, 3, 2, 5])) == 0.75


@pytest.fixture(scope="module")
def pretrained(mnist5k):
  x = jnp.asarray(mnist5k.x_train[:2000])
  return pretrain.deepcluster(
      lambda c: archopt.fixed(models.build("cnn", c, depth=2, width=16)),
      x,
      jax.random.key(0), num_clusters=10, epochs=3, steps_per_epoch=20,
      progress=False)


def test_pseudo_labels_are_far_above_chance(pretrained, mnist5k):
  assert pretrain.purity(pretrained.assignments[-1],
                         mnist5k.y_train[:2000]) > 0.35


def test_alternation_has_fixed_shapes(pretrained):
  assert len(pretrained.assignments) == 3
  assert pretrained.compilations[0] > 0
  assert pretrained.compilations[1:] == [0, 0]


def test_transfer_keeps_a_fresh_classifier(pretrained):
  model = models.build("cnn", 10, depth=2, width=16)
  fresh = dict(model.init(jax.random.key(5), jnp.zeros((1, 28, 28, 1))))
  moved = pretrain.transfer_body(pretrained.variables, fresh)
  np.testing.assert_array_equal(moved["params"]["classifier"]["kernel"],
                                fresh["params"]["classifier"]["kernel"])
  np.testing.assert_array_equal(
      moved["params"]["body"]["convs_0"]["kernel"],
      pretrained.variables["params"]["body"]["convs_0"]["kernel"])
  assert set(moved) == set(fresh)
