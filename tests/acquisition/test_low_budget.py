"""TypiClust, ProbCover, MaxHerding and k-means centroids against
scikit-activeml 1.0.1 and decile-distil 0.2.0.

The references (tests/data/make_skactiveml_references.py) ran on cluster
labels handed to them, and break ties at the first maximum; jaxdal's
functions that take given clusters (`key=None`: ties to the lowest index)
must pick the same rows with the same scores. The full entries, which
cluster with jaxdal's own k-means, are checked for properties.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq

REFS = os.path.join(os.path.dirname(__file__), "..", "data",
                    "skactiveml_references.npz")


@pytest.fixture(scope="module")
def refs():
  with np.load(REFS) as f:
    return dict(f)


def _assert_scores(got, ref):
  """The reference's utilities (NaN or -inf where it has none) against
  jaxdal's (-inf there)."""
  got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
  np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
  finite = np.isfinite(ref)
  np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case,k_nn", [("typiclust", 5),
                                       ("typiclust_k20", 20)])
def test_typiclust_matches_skactiveml(refs, case, k_nn):
  picks, scores = acq.typiclust_from_clusters(
      None, 5, features=refs["features"], labeled=refs["labeled"],
      clusters=refs["typiclust_clusters"], k_nn=k_nn, return_scores=True)
  np.testing.assert_array_equal(picks, refs[f"{case}_picks"])
  _assert_scores(scores, refs[f"{case}_scores"])


@pytest.mark.parametrize("case,normalize", [("raw", False), ("unit", True)])
def test_probcover_matches_skactiveml(refs, case, normalize):
  x = refs[f"probcover_{case}_features"]
  clusters = refs[f"probcover_{case}_clusters"]
  purity = acq.ball_purity(x, clusters, refs["probcover_deltas"],
                           normalize=normalize)
  np.testing.assert_allclose(purity, refs[f"probcover_{case}_purity"],
                             atol=1e-6)
  delta = acq.probcover_delta(None, x, n_classes=3, clusters=clusters,
                              normalize=normalize)
  np.testing.assert_allclose(delta, refs[f"probcover_{case}_delta"],
                             rtol=1e-6)
  picks, scores = acq.max_coverage(None, 6, features=x,
                                   labeled=refs["labeled"], delta=delta,
                                   normalize=normalize, return_scores=True)
  np.testing.assert_array_equal(picks, refs[f"probcover_{case}_picks"])
  _assert_scores(scores, refs[f"probcover_{case}_scores"])


@pytest.mark.parametrize("case,gamma", [("maxherding", None),
                                        ("maxherding_gamma1", 1.0),
                                        ("maxherding_unlabeled", None)])
def test_maxherding_matches_skactiveml(refs, case, gamma):
  picks, scores = acq.maxherding(None, 6, features=refs["features"],
                                 labeled=refs[f"{case}_labeled"],
                                 gamma=gamma, return_scores=True)
  np.testing.assert_array_equal(picks, refs[f"{case}_picks"])
  _assert_scores(scores, refs[f"{case}_scores"])


def test_nearest_to_centres_matches_distil(refs):
  got = acq.nearest_to_centres(~refs["labeled"], features=refs["features"],
                               centres=refs["kmeans_centres"],
                               assignment=refs["kmeans_assignment"])
  np.testing.assert_array_equal(got, refs["kmeans_picks"])


def test_typicality_of_the_reference_note():
  # acquisition-breadth.md 1: {0, 1, 2, 10}; here Euclidean with the point
  # itself: K / (sum of the K + 1 nearest distances).
  x = jnp.array([[0.0], [1.0], [2.0], [10.0]])
  got = acq.typicality(x, jnp.zeros(4, jnp.int32), k_nn=2)
  np.testing.assert_allclose(got, [2 / 3, 1.0, 2 / 3, 2 / 17], rtol=1e-5)
  # Singletons: 1; a pair: K = 1.
  got = acq.typicality(x, jnp.array([0, 0, 1, 2]), k_nn=5)
  np.testing.assert_allclose(got, [1.0, 1.0, 1.0, 1.0], rtol=1e-5)


def test_probcover_note_example():
  # acquisition-breadth.md 2: {0, 0.1, 0.2, 5}, delta 0.15, k 2 -> 1, 3.
  x = jnp.array([[0.0], [0.1], [0.2], [5.0]])
  picks, scores = acq.max_coverage(None, 2, features=x,
                                   labeled=jnp.zeros(4, bool), delta=0.15,
                                   normalize=False, return_scores=True)
  assert picks.tolist() == [1, 3]
  assert np.asarray(scores)[0].tolist() == [2, 3, 2, 1]


def test_probcover_delta_rule():
  x = jnp.array([[0.0], [0.1], [0.2], [5.0]])
  clusters = jnp.array([0, 0, 0, 1])
  # Purities 1, 1, 0.5, 0: the value before the first below alpha.
  got = acq.probcover_delta(None, x, n_classes=2, clusters=clusters,
                            deltas=[4.85, 1.0, 5.0, 6.0], normalize=False)
  assert float(got) == pytest.approx(1.0)
  # None passes: the smallest; one value: that value, no clustering.
  got = acq.probcover_delta(None, x, n_classes=2, clusters=clusters,
                            deltas=[6.0, 7.0], normalize=False)
  assert float(got) == pytest.approx(6.0)
  assert float(acq.probcover_delta(None, x, n_classes=2,
                                   deltas=[0.3])) == pytest.approx(0.3)
  with pytest.raises(ValueError, match="n_classes >= 2"):
    acq.probcover_delta(None, x, n_classes=1)


def test_kmeans_dynamic_is_kmeans_of_fewer_clusters(refs):
  x = jnp.asarray(refs["features"])
  key = jax.random.key(3)
  for n in (4, 7):
    _, got = acq.kmeans_dynamic(key, n, 7, points=x)
    _, want = acq.kmeans(x, n, key)
    np.testing.assert_array_equal(got, want)


def _blobs():
  rng = np.random.default_rng(7)
  centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
  x = np.concatenate([c + rng.normal(size=(m, 2))
                      for c, m in zip(centres, (30, 20, 12), strict=True)])
  labeled = np.zeros(len(x), bool)
  labeled[0] = True
  return (jnp.asarray(x, jnp.float32), jnp.asarray(labeled),
          np.repeat([0, 1, 2], (30, 20, 12)))


def test_typiclust_entry_takes_the_uncovered_blobs():
  x, labeled, blob = _blobs()
  # |L| + k = 3 clusters: the three blobs; the labeled one is covered.
  got = acq.typiclust(jax.random.key(0), 2, features=x, labeled=labeled)
  want = acq.typiclust_from_clusters(None, 2, features=x, labeled=labeled,
                                     clusters=jnp.asarray(blob, jnp.int32))
  np.testing.assert_array_equal(got, want)
  assert blob[np.asarray(got)].tolist() == [1, 2]  # the larger first


def test_probcover_entry_is_its_two_steps(refs):
  x, labeled = refs["probcover_raw_features"], refs["labeled"]
  key = jax.random.key(2)
  delta = acq.probcover_delta(jax.random.fold_in(key, 0), x, n_classes=3,
                              normalize=False)
  # Three well separated blobs: k-means finds the reference's clusters.
  assert float(delta) == pytest.approx(float(refs["probcover_raw_delta"]))
  want = acq.max_coverage(jax.random.fold_in(key, 1), 6, features=x,
                          labeled=labeled, delta=delta, normalize=False)
  got = acq.probcover(key, 6, features=x, labeled=labeled, n_classes=3,
                      normalize=False)
  np.testing.assert_array_equal(got, want)


def test_kmeans_centroids_one_per_blob_of_the_available_rows():
  x, _, blob = _blobs()
  available = jnp.asarray(blob != 2)  # the third blob is not offered
  got = np.asarray(acq.kmeans_centroids(jax.random.key(1), 2, available,
                                        features=x))
  assert sorted(blob[got].tolist()) == [0, 1]


def test_nearest_to_centres_refills_an_empty_cluster():
  x = jnp.array([[0.0], [1.0], [10.0]])
  got = acq.nearest_to_centres(features=x, centres=jnp.array([[0.0], [0.4]]),
                               assignment=jnp.array([0, 0, 0]))
  assert got.tolist() == [0, 1]


@pytest.mark.parametrize("name", ["typiclust", "probcover", "maxherding",
                                  "kmeans_centroids"])
def test_vmap_over_keys(refs, name):
  select = acq.get(name).select
  kwargs = dict(features=jnp.asarray(refs["features"]),
                labeled=jnp.asarray(refs["labeled"]))
  available = ~kwargs["labeled"]
  keys = jax.random.split(jax.random.key(0), 3)
  batched = jax.vmap(lambda key: select(key, 4, available, **kwargs))(keys)
  for key, row in zip(keys, np.asarray(batched), strict=True):
    np.testing.assert_array_equal(row, select(key, 4, available, **kwargs))
