"""k-center greedy: golden orders (anchors (d) 5) and a NumPy reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq

U = np.array([[0, 0], [1, 0], [5, 0], [5, 5], [0, 6], [2, 2]], np.float32)


def _numpy_kcenter(x, labeled, k, available):
  """Transliteration of the reference furthest-first algorithm."""
  x = x.astype(np.float64)
  if labeled.any():
    d = np.sqrt(((x[:, None] - x[labeled][None]) ** 2).sum(-1)).min(1)
  else:
    d = np.full(len(x), np.inf)
  avail = available.copy()
  out = []
  for _ in range(k):
    j = int(np.argmax(np.where(avail, d, -np.inf)))
    out.append(j)
    avail[j] = False
    d = np.minimum(d, np.sqrt(((x - x[j]) ** 2).sum(-1)))
  return out


def test_golden_order_with_the_exact_tie():
  x = np.concatenate([U, [[0, 1]]])
  labeled = np.arange(7) == 6
  got = acq.kcenter_greedy(None, 6, features=jnp.asarray(x),
                           labeled=jnp.asarray(labeled))
  assert got.tolist() == [3, 2, 4, 5, 1, 0]


def test_golden_order_with_nothing_labeled():
  got = acq.kcenter_greedy(None, 4, features=jnp.asarray(U),
                           labeled=jnp.zeros(6, bool))
  assert got.tolist() == [0, 3, 4, 2]


@pytest.mark.parametrize("chunk", [3, 16, 512])
def test_matches_numpy_reference(chunk):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 16)).astype(np.float32)
  labeled = rng.random(300) < 0.1
  available = ~labeled & (rng.random(300) < 0.9)
  got = acq.kcenter_greedy(None, 40, jnp.asarray(available),
                           features=jnp.asarray(x),
                           labeled=jnp.asarray(labeled), chunk=chunk)
  assert got.tolist() == _numpy_kcenter(x, labeled, 40, available)


def test_nearest_labeled_distance_in_blocks():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(101, 7)).astype(np.float32)
  labeled = rng.random(101) < 0.3
  want = ((x[:, None] - x[labeled][None]) ** 2).sum(-1).min(1)
  got = acq.nearest_labeled_sqdist(jnp.asarray(x), jnp.asarray(labeled),
                                   chunk=8)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_whole_pool_and_too_many():
  labeled = np.zeros(6, bool)
  labeled[0] = True
  got = acq.kcenter_greedy(None, 5, features=jnp.asarray(U),
                           labeled=jnp.asarray(labeled))
  assert sorted(got.tolist()) == [1, 2, 3, 4, 5]
  with pytest.raises(ValueError, match="exceeds the 5 available"):
    acq.kcenter_greedy(None, 6, features=jnp.asarray(U),
                       labeled=jnp.asarray(labeled))


def _clustered(n, d, clusters, seed):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(clusters, d)) * 6
  x = centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, d))
  return x.astype(np.float32)


@pytest.mark.parametrize("n_labeled", [0, 30])
def test_pruning_keeps_the_picks_and_reads_less(n_labeled):
  x = _clustered(2000, 16, 8, 2)
  labeled = np.zeros(2000, bool)
  labeled[np.random.default_rng(3).choice(2000, n_labeled, replace=False)] = 1
  x, labeled = jnp.asarray(x), jnp.asarray(labeled)
  plain = acq.kcenter_greedy(None, 60, features=x, labeled=labeled)
  pruned, reads = acq.kcenter_greedy(None, 60, features=x, labeled=labeled,
                                     prune=True, prune_chunk=128,
                                     return_reads=True)
  np.testing.assert_array_equal(plain, pruned)
  assert int(reads) < 0.6 * 60 * 2000
