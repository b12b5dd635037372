"""BADGE and k-means++: golden values (anchors (d) 6-7), factorised
distances against materialised ones, and the D^2 sampling law."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq
from jaxdal.acquisition.badge import _badge
from jaxdal.acquisition.kmeans import _kmeans_pp


def test_embedding_golden_and_norm_identity():
  p, h = jnp.array([[0.7, 0.2, 0.1]]), jnp.array([[1.0, 2.0]])
  g = acq.badge_embedding(p, h)
  np.testing.assert_allclose(g[0], [-0.3, -0.6, 0.2, 0.4, 0.1, 0.2],
                             atol=1e-6)
  np.testing.assert_allclose(jnp.linalg.norm(g[0]), 0.836660, atol=1e-6)


def test_factorised_distances_equal_materialised():
  rng = np.random.default_rng(0)
  probs = jnp.asarray(rng.dirichlet(np.ones(10), size=200), jnp.float32)
  feats = jnp.asarray(rng.normal(size=(200, 64)), jnp.float32)
  g = np.asarray(acq.badge_embedding(probs, feats), np.float64)
  rows = jnp.arange(0, 200, 7)
  want = ((g[:, None] - g[np.asarray(rows)][None]) ** 2).sum(-1)
  got = np.asarray(acq.badge_sqdist(probs, feats, rows), np.float64)
  rel = np.abs(got - want).max() / np.abs(want).max()
  assert rel < 1e-5


def test_kmeans_pp_probabilities():
  x = jnp.array([[3.0], [0.0], [1.0], [2.0]])
  keys = jax.random.split(jax.random.key(0), 100_000)
  picks = jax.vmap(lambda k: _kmeans_pp(k, 2, jnp.ones(4, bool), x))(keys)
  assert (np.asarray(picks[:, 0]) == 0).all()
  freq = np.bincount(np.asarray(picks[:, 1]), minlength=4) / len(keys)
  np.testing.assert_allclose(freq, [0, 9 / 14, 4 / 14, 1 / 14], atol=0.01)


def test_all_zero_distances_fall_back_to_uniform():
  x = jnp.zeros((5, 2))
  available = jnp.array([True, True, False, True, True])
  keys = jax.random.split(jax.random.key(1), 4000)
  picks = np.asarray(jax.vmap(lambda k: _kmeans_pp(k, 2, available, x))(
      keys))
  assert (picks[:, 0] == 0).all()
  freq = np.bincount(picks[:, 1], minlength=5) / len(keys)
  np.testing.assert_allclose(freq, [0, 1 / 3, 0, 1 / 3, 1 / 3], atol=0.03)


def test_badge_second_pick_follows_numpy_d2_law():
  # Reference algorithm on the materialised embedding: first = max norm,
  # second ~ squared distance to it.
  rng = np.random.default_rng(3)
  probs = jnp.asarray(rng.dirichlet(np.ones(3), size=6), jnp.float32)
  feats = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
  available = jnp.array([True, True, True, False, True, True])
  g = np.asarray(acq.badge_embedding(probs, feats), np.float64)
  norms = np.where(np.asarray(available), (g ** 2).sum(1), -np.inf)
  first = int(np.argmax(norms))
  d2 = ((g - g[first]) ** 2).sum(1) * np.asarray(available)
  d2[first] = 0
  keys = jax.random.split(jax.random.key(2), 40_000)
  picks = np.asarray(jax.vmap(
      lambda k: _badge(k, 2, available, probs, feats))(keys))
  assert (picks[:, 0] == first).all()
  freq = np.bincount(picks[:, 1], minlength=6) / len(keys)
  np.testing.assert_allclose(freq, d2 / d2.sum(), atol=0.012)


def test_badge_never_repeats_and_respects_mask():
  rng = np.random.default_rng(4)
  probs = jnp.asarray(rng.dirichlet(np.ones(4), size=50), jnp.float32)
  feats = jnp.asarray(rng.normal(size=(50, 8)), jnp.float32)
  available = jnp.arange(50) % 2 == 0
  got = np.asarray(acq.badge(jax.random.key(0), 25, available, probs=probs,
                              features=feats))
  assert sorted(got.tolist()) == list(range(0, 50, 2))
  with pytest.raises(ValueError, match="exceeds"):
    acq.badge(jax.random.key(0), 26, available, probs=probs, features=feats)
