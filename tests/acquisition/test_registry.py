"""One contract test over every registry entry, and the import boundary."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq
from tests.conftest import modules_loaded_by

N, C, D, T, K = 60, 4, 8, 5, 7


@pytest.fixture(scope="module")
def inputs():
  rng = np.random.default_rng(0)
  probs = jnp.asarray(rng.dirichlet(np.ones(C), size=(T, N)), jnp.float32)
  features = jnp.asarray(rng.normal(size=(N, D)), jnp.float32)
  labeled = jnp.asarray(rng.random(N) < 0.2)
  available = ~labeled & jnp.asarray(rng.random(N) < 0.8)
  return dict(probs=probs, features=features, labeled=labeled), available


@pytest.mark.parametrize("name", acq.names())
def test_contract(name, inputs):
  kwargs, available = inputs
  entry = acq.get(name)
  key = jax.random.key(0)
  eager = np.asarray(entry.select(key, K, available, **kwargs))
  jitted_fn = jax.jit(entry.select, static_argnums=1)
  jitted = np.asarray(jitted_fn(key, K, available, **kwargs))
  assert eager.shape == (K,) and eager.dtype == np.int32
  assert len(set(eager.tolist())) == K
  assert np.asarray(available)[eager].all()
  np.testing.assert_array_equal(eager, jitted)
  np.testing.assert_array_equal(
      jitted, np.asarray(jitted_fn(key, K, available, **kwargs)))
  # Same shapes, new key: no new trace.
  before = jitted_fn._cache_size()
  jitted_fn(jax.random.key(1), K, available, **kwargs)
  assert jitted_fn._cache_size() == before
  others = [np.asarray(entry.select(jax.random.key(s), K, available, **kwargs))
            for s in range(5, 9)]
  if name in ("random", "badge"):
    assert any(not np.array_equal(eager, o) for o in others)
  elif not entry.uses_key:
    for o in others:
      np.testing.assert_array_equal(eager, o)


def test_unknown_name_lists_valid_ones():
  with pytest.raises(ValueError) as e:
    acq.get("entropi")
  assert "entropi" in str(e.value) and "entropy" in str(e.value)


def test_register_adds_and_refuses_duplicates():
  def select(key, k, available, *, probs, features=None, labeled=None):
    return acq.top_k(key, k, available, scores=-probs.mean(0)[:, 0])

  def other(key, k, available, *, probs, features=None, labeled=None):
    return acq.top_k(key, k, available, scores=probs.mean(0)[:, 0])

  entry = acq.Acquisition(select=select)
  assert acq.register("_test_lowest_class0", entry) is entry
  try:
    assert "_test_lowest_class0" in acq.names()
    # The same entry again (a notebook cell run twice): a no-op.
    assert acq.register("_test_lowest_class0", entry) is entry
    assert acq.register("_test_lowest_class0",
                        acq.Acquisition(select=select)) is entry
    with pytest.raises(ValueError, match="already registered.*"
                       "pass replace=True"):
      acq.register("_test_lowest_class0", acq.Acquisition(select=other))
    replaced = acq.register("_test_lowest_class0",
                            acq.Acquisition(select=other), replace=True)
    assert acq.get("_test_lowest_class0") is replaced
  finally:
    acq.ACQUISITIONS.unregister("_test_lowest_class0")


def test_the_same_score_registers_twice():
  # from_score wraps one score into one entry, so a cell that registers a
  # score can run again.
  def score(probs):
    return -acq.mean_probs(probs).max(-1)

  first = acq.register("_test_score", acq.from_score(score))
  try:
    assert acq.register("_test_score", acq.from_score(score)) is first
  finally:
    acq.ACQUISITIONS.unregister("_test_score")


def test_acquisition_imports_no_flax_optax_orbax():
  assert modules_loaded_by("import jaxdal.acquisition",
                           ("flax", "optax", "orbax")) == []


@pytest.mark.parametrize("name", acq.names())
def test_whole_pool_and_over_budget(name, inputs):
  # anchors (d) 12: budget == |pool| returns the pool, budget > |pool| raises.
  kwargs, available = inputs
  entry = acq.get(name)
  n_avail = int(available.sum())
  got = np.asarray(entry.select(jax.random.key(0), n_avail, available,
                                **kwargs))
  np.testing.assert_array_equal(np.sort(got),
                                np.flatnonzero(np.asarray(available)))
  with pytest.raises(ValueError, match="exceeds"):
    entry.select(jax.random.key(0), n_avail + 1, available, **kwargs)
