"""The pool state: initial split, validation, acquisition errors, history."""

import jax
import numpy as np
import pytest

from jaxdal import data

LABELS = np.arange(500) % 5


@pytest.fixture
def pool():
  return data.init_pool(jax.random.key(0), LABELS, initial=23,
                        val_fraction=0.1)


def test_initial_set_is_class_balanced(pool):
  counts = np.bincount(LABELS[data.labeled_indices(pool)], minlength=5)
  np.testing.assert_array_equal(counts, [5, 5, 5, 4, 4])


def test_validation_split_is_held_out(pool):
  val = np.asarray(pool.validation)
  assert val.sum() == round(0.1 * (500 - 23))
  assert not (val & np.asarray(pool.candidate)).any()
  assert np.asarray(pool.candidate).sum() == 500 - val.sum()
  assert int(data.available(pool).sum()) == 500 - 23 - val.sum()


def test_same_key_same_split_other_key_differs(pool):
  again = data.init_pool(jax.random.key(0), LABELS, initial=23)
  other = data.init_pool(jax.random.key(1), LABELS, initial=23)
  np.testing.assert_array_equal(pool.labeled, again.labeled)
  assert not np.array_equal(pool.labeled, other.labeled)


def test_val_size_caps_the_validation_split():
  p = data.init_pool(jax.random.key(0), LABELS, initial=10, val_size=7)
  assert int(p.validation.sum()) == 7
  assert int(data.available(p).sum()) == 500 - 10 - 7


def test_pool_size_caps_the_pool():
  p = data.init_pool(jax.random.key(0), LABELS, initial=10, pool_size=50)
  assert int(data.available(p).sum()) == 50
  assert int(p.candidate.sum()) == 60


def test_acquire_updates_state_and_history(pool):
  free = np.flatnonzero(np.asarray(data.available(pool)))
  new = data.acquire(pool, free[:7])
  assert int(new.round) == 1
  assert int(new.labeled.sum()) == 30
  hist = data.history(new)
  np.testing.assert_array_equal(hist[0], data.labeled_indices(pool))
  np.testing.assert_array_equal(hist[1], np.sort(free[:7]))
  assert pool.labeled.sum() == 23  # the old state is untouched


def test_acquire_rejects_bad_indices(pool):
  free = np.flatnonzero(np.asarray(data.available(pool)))
  labeled = data.labeled_indices(pool)
  val = np.flatnonzero(np.asarray(pool.validation))
  with pytest.raises(ValueError, match="duplicate"):
    data.acquire(pool, np.array([free[0], free[0]]))
  with pytest.raises(ValueError, match="already labeled"):
    data.acquire(pool, labeled[:2])
  with pytest.raises(ValueError, match="out of range"):
    data.acquire(pool, np.array([500]))
  with pytest.raises(ValueError, match="not in the unlabeled pool"):
    data.acquire(pool, val[:1])


@pytest.mark.parametrize("kwargs,match", [
    (dict(initial=0), "initial"),
    (dict(initial=3), "smaller than the 5 classes"),
    (dict(initial=10, val_fraction=1.0), "val_fraction"),
])
def test_init_pool_rejects_bad_sizes(kwargs, match):
  with pytest.raises(ValueError, match=match):
    data.init_pool(jax.random.key(0), LABELS, **kwargs)


def test_class_without_enough_examples():
  labels = np.array([0] * 50 + [1] * 2)
  with pytest.raises(ValueError, match="class 1 has 2"):
    data.init_pool(jax.random.key(0), labels, initial=10)


def test_test_indices_are_evenly_spaced_and_capped():
  np.testing.assert_array_equal(data.test_indices(10), np.arange(10))
  np.testing.assert_array_equal(data.test_indices(10, 20), np.arange(10))
  np.testing.assert_array_equal(data.test_indices(10, 4), [0, 2, 5, 7])
  idx = data.test_indices(10_000, 1000)
  assert len(np.unique(idx)) == 1000 and idx.max() < 10_000
  np.testing.assert_array_equal(np.diff(idx), 10)
  with pytest.raises(ValueError, match="test_size must be positive, got 0"):
    data.test_indices(10, 0)
