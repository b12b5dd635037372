"""Selection over host (and memory-mapped) pools, one block on the device:
the in-memory selectors' picks, a NumPy reference, pruning that changes
nothing but the rows read."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq
from jaxdal.acquisition import scores, selection, streamed
from tests.acquisition.test_coreset import _numpy_kcenter


def _clustered(n, d, clusters, spread, seed=0):
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(clusters, d)) * 10
  return (centres[rng.integers(0, clusters, n)]
          + spread * rng.normal(size=(n, d))).astype(np.float32)


def _masks(n, seed=1):
  rng = np.random.default_rng(seed)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, 15, replace=False)] = True
  available = ~labeled
  available[rng.choice(n, 40, replace=False)] = False
  return labeled, available


@pytest.fixture
def memmapped(tmp_path):
  def save(x):
    np.save(tmp_path / "f.npy", x)
    return np.load(tmp_path / "f.npy", mmap_mode="r")
  return save


def _radius(x, centres):
  """Largest distance from a row to its nearest centre (float64)."""
  x = x.astype(np.float64)
  near = np.min([((x - x[c]) ** 2).sum(1) for c in centres], axis=0)
  return float(np.sqrt(near.max()))


@pytest.mark.parametrize("spread", [0.05, 1.0, 30.0])
def test_kcenter_equals_in_memory_and_numpy_pruned_or_not(spread, memmapped):
  x = _clustered(1200, 8, 12, spread)
  labeled, available = _masks(len(x))
  in_memory = acq.kcenter_greedy(None, 40, jnp.asarray(available),
                                 features=jnp.asarray(x),
                                 labeled=jnp.asarray(labeled)).tolist()
  picks, reads = {}, {}
  for prune in (False, True):
    got, info = streamed.kcenter_greedy(
        None, 40, available, features=memmapped(x), labeled=labeled,
        chunk=128, prune=prune, sample=600, return_info=True)
    picks[prune], reads[prune] = got.tolist(), info["rows_read"]
  assert picks[True] == picks[False]  # pruning never changes a pick
  assert reads[False] == 40 * len(x) and reads[True] <= reads[False]
  if spread >= 1:
    assert picks[False] == in_memory == _numpy_kcenter(x, labeled, 40,
                                                       available)
  else:
    # Tight clusters: distances far below |x|^2, where float32's
    # |x|^2 + |c|^2 - 2 x.c rounds differently with the block shapes, so
    # near-ties may break either way; the coverage is the same.
    centres = [*np.flatnonzero(labeled)]
    assert _radius(x, centres + picks[False]) == pytest.approx(
        _radius(x, centres + in_memory), rel=1e-3)


def test_auto_prunes_tight_clusters_only():
  # The decision comes from the data; the picks never depend on it.
  labeled, available = _masks(4000)
  for spread, wanted in ((0.01, True), (30.0, False)):
    x = _clustered(4000, 8, 20, spread, seed=2)
    picks, info = streamed.kcenter_greedy(None, 200, available,
                                          features=x, labeled=labeled,
                                          chunk=256, sample=2000,
                                          return_info=True)
    assert info["pruned"] is wanted, spread
    other = streamed.kcenter_greedy(None, 200, available, features=x,
                                    labeled=labeled, chunk=256,
                                    prune=not wanted)
    np.testing.assert_array_equal(picks, other)


def test_kcenter_tie_goes_to_the_lowest_index_across_blocks():
  f = np.array([[0., 0.], [1., 0.], [5., 0.], [5., 5.], [0., 6.], [2., 2.],
                [0., 1.]], np.float32)
  for chunk in (1, 2, 3, 7):
    assert streamed.kcenter_greedy(
        None, 6, features=f, labeled=np.arange(7) == 6, chunk=chunk,
        prune=False).tolist() == [3, 2, 4, 5, 1, 0]


def test_badge_in_one_block_is_the_in_memory_draw(memmapped):
  x = _clustered(900, 6, 5, 1.0)
  probs = np.asarray(jax.nn.softmax(3 * jax.random.normal(
      jax.random.key(0), (900, 4))))
  _, available = _masks(900)
  key = jax.random.key(5)
  want = acq.badge(key, 25, jnp.asarray(available),
                   probs=jnp.asarray(probs), features=jnp.asarray(x))
  got = streamed.badge(key, 25, available, probs=probs,
                       features=memmapped(x), chunk=1024)
  np.testing.assert_array_equal(got, want)


def _numpy_badge_blocks(probs, x, k, key, available, chunk):
  """k-means++ on the materialised embedding (float64), drawing each pick
  by Gumbel-max with the block keys `fold_in(fold_in(key, i), b)` over
  ceil(N / chunk) blocks of equal size."""
  p = probs.astype(np.float64)
  r = p - np.eye(p.shape[1])[p.argmax(1)]
  g = (r[:, :, None] * x.astype(np.float64)[:, None, :]).reshape(len(x), -1)
  chosen = [int(np.argmax(np.where(available, (g * g).sum(1), -np.inf)))]
  d = ((g - g[chosen[0]]) ** 2).sum(1)
  open_ = available.copy()
  open_[chosen[0]] = False
  for i in range(1, k):
    w = np.where(open_, d, 0.0)
    best, at = -np.inf, -1
    size = -(-len(x) // -(-len(x) // chunk))  # balanced blocks
    for b, s in enumerate(range(0, len(x), size)):
      wb = w[s:s + size]
      noise = np.asarray(jax.random.gumbel(
          jax.random.fold_in(jax.random.fold_in(key, i), b), wb.shape))
      with np.errstate(divide="ignore"):
        v = np.log(wb) + noise
      if v.max() > best:
        best, at = v.max(), s + int(v.argmax())
    chosen.append(at)
    open_[at] = False
    d = np.minimum(d, ((g - g[at]) ** 2).sum(1))
  return chosen


def test_badge_in_blocks_equals_numpy_reference():
  x = _clustered(500, 5, 4, 1.0, seed=3)
  probs = np.asarray(jax.nn.softmax(2 * jax.random.normal(
      jax.random.key(1), (500, 3))))
  _, available = _masks(500)
  key = jax.random.key(9)
  got = streamed.badge(key, 12, available, probs=probs, features=x,
                       chunk=128)
  assert got.tolist() == _numpy_badge_blocks(probs, x, 12, key, available,
                                             128)
  assert len(set(got.tolist())) == 12 and available[got].all()


def test_bald_scores_by_block_equal_in_memory(memmapped, tmp_path):
  probs = np.asarray(jax.nn.softmax(jax.random.normal(
      jax.random.key(2), (6, 1000, 5)), axis=-1))
  np.save(tmp_path / "p.npy", probs)
  on_disk = np.load(tmp_path / "p.npy", mmap_mode="r")
  got = streamed.scores(scores.bald, on_disk, chunk=96)
  want = np.asarray(scores.bald(jnp.asarray(probs)))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  _, available = _masks(1000)
  np.testing.assert_array_equal(
      streamed.top_k(None, 50, available, scores=got),
      selection.top_k(None, 50, jnp.asarray(available),
                      scores=jnp.asarray(got)))


def test_bad_input_is_one_line():
  x = np.zeros((10, 2), np.float32)
  with pytest.raises(ValueError, match="prune must be one of 'auto', True, "
                     "False; got 'yes'"):
    streamed.kcenter_greedy(None, 2, features=x, labeled=np.zeros(10, bool),
                            prune="yes")
  with pytest.raises(ValueError, match="acquisition size k=11 exceeds"):
    streamed.kcenter_greedy(None, 11, features=x, labeled=np.zeros(10, bool))
  with pytest.raises(ValueError, match=r"labeled must be a bool mask \[N\] "
                     r"\(N=10, as features\); got shape \(9,\)"):
    streamed.kcenter_greedy(None, 2, features=x, labeled=np.zeros(9, bool))
