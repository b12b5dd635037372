"""top_k, random and the budget check."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq


def test_top_k_ties_go_to_lowest_index():
  scores = jnp.array([0.5, 0.9, 0.9, 0.1, 0.9])
  got = acq.top_k(None, 3, jnp.ones(5, bool), scores=scores)
  np.testing.assert_array_equal(got, [1, 2, 4])
  assert got.dtype == jnp.int32


def test_top_k_skips_unavailable():
  scores = jnp.array([5.0, 4.0, 3.0, 2.0])
  available = jnp.array([False, True, False, True])
  np.testing.assert_array_equal(
      acq.top_k(None, 2, available, scores=scores), [1, 3])


def test_top_k_matches_numpy_stable_sort():
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 5, 200).astype(np.float32)  # many ties
  available = rng.random(200) < 0.6
  masked = np.where(available, scores, -np.inf)
  want = np.argsort(-masked, kind="stable")[:40]
  np.testing.assert_array_equal(
      acq.top_k(None, 40, jnp.asarray(available),
                scores=jnp.asarray(scores)), want)


def test_random_is_keyed_and_respects_mask():
  available = jnp.arange(100) % 3 == 0
  key = jax.random.key(0)
  a = acq.random(key, 10, available)
  b = acq.random(key, 10, available)
  c = acq.random(jax.random.key(1), 10, available)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert np.asarray(available)[np.asarray(a)].all()
  assert len(set(np.asarray(a).tolist())) == 10


def test_random_is_uniform_over_available():
  available = jnp.array([True, False, True, True, False])
  counts = np.zeros(5)
  for i in range(600):
    counts[np.asarray(acq.random(jax.random.key(i), 1, available))] += 1
  assert counts[1] == counts[4] == 0
  np.testing.assert_allclose(counts[[0, 2, 3]] / 600, 1 / 3, atol=0.07)


@pytest.mark.parametrize("k", [0, -3, 6])
def test_budget_errors_name_the_value(k):
  with pytest.raises(ValueError, match=str(k)):
    acq.check_budget(k, jnp.array([True] * 5 + [False]))


def test_whole_pool_budget_is_fine():
  acq.check_budget(5, jnp.array([True] * 5 + [False]))
