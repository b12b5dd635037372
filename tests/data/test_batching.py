"""Fixed-shape batching."""

import jax
import numpy as np
import pytest

from jaxdal import data


def test_padded_chunks_cycle_and_mask():
  chunks, mask = data.padded_chunks(np.array([7, 8, 9, 10, 11]), 3)
  np.testing.assert_array_equal(chunks, [[7, 8, 9], [10, 11, 7]])
  np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 1, 0]])


def test_padded_chunks_errors():
  with pytest.raises(ValueError, match="empty"):
    data.padded_chunks(np.array([], int), 4)
  with pytest.raises(ValueError, match="batch size"):
    data.padded_chunks(np.arange(3), 0)


def test_epoch_batches_is_a_keyed_permutation():
  idx = np.array([3, 10, 11, 40, 41, 42, 90])
  b1, m1 = data.epoch_batches(jax.random.key(0), idx, 4, 100)
  b2, _ = data.epoch_batches(jax.random.key(0), idx, 4, 100)
  b3, _ = data.epoch_batches(jax.random.key(1), idx, 4, 100)
  np.testing.assert_array_equal(b1, b2)
  assert not np.array_equal(b1, b3)
  np.testing.assert_array_equal(np.sort(b1[m1]), idx)
  assert b1.shape == (2, 4)
