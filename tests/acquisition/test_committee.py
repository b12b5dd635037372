"""Query by committee (vote entropy, consensus KL) and CLUE against
scikit-activeml 1.0.1.

The references (tests/data/make_skactiveml_qbc_references.py) are its
`_query_by_committee.vote_entropy` / `average_kl_divergence` on the
stored `[T, N, C]` probabilities, and its `Clue` with a seeded, recorded
`KMeans`: jaxdal's `clue_from_centres` (`key=None`: ties to the lowest
index) gets the same centres and must pick the same rows.
"""

import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq

# The package's `clue` attribute is the function; the module by name.
clue_lib = importlib.import_module("jaxdal.acquisition.clue")

REFS = os.path.join(os.path.dirname(__file__), "..", "data",
                    "skactiveml_qbc_references.npz")


@pytest.fixture(scope="module")
def refs():
  with np.load(REFS) as f:
    return dict(f)


def test_vote_entropy_matches_skactiveml(refs):
  got = acq.vote_entropy(refs["probs"])
  np.testing.assert_allclose(got, refs["vote_entropy"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("eps,ref", [(None, "kl_eps1e-12"),
                                     (1e-7, "kl_eps1e-07")])
def test_consensus_kl_matches_skactiveml(refs, eps, ref):
  got = acq.consensus_kl(refs["probs"], eps=eps)
  np.testing.assert_allclose(got, refs[ref], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,ref", [("vote_entropy", "vote_entropy"),
                                      ("consensus_kl", "KL_divergence")])
def test_committee_entries_pick_as_skactiveml(refs, name, ref):
  probs = jnp.asarray(refs["probs"])
  available = jnp.ones(probs.shape[1], bool)
  want = refs[f"qbc_{ref}_picks"]
  got = acq.get(name).select(jax.random.key(0), len(want), available,
                             probs=probs)
  np.testing.assert_array_equal(got, want)


def test_committee_analytic_values():
  # acquisition-breadth.md 12: votes [0, 1] -> log 2; identical -> 0.
  two = jnp.eye(2)[jnp.array([0, 1])][:, None, :]
  np.testing.assert_allclose(acq.vote_entropy(two), [np.log(2)], rtol=1e-6)
  np.testing.assert_allclose(acq.consensus_kl(two), [np.log(2)], rtol=1e-6)
  same = jnp.tile(jnp.array([[[0.2, 0.5, 0.3]]]), (4, 3, 1))
  np.testing.assert_array_equal(acq.vote_entropy(same), np.zeros(3))
  np.testing.assert_allclose(acq.consensus_kl(same), np.zeros(3), atol=1e-7)
  # Four members voting 0, 0, 1, 2: -(1/2 log 1/2 + 2 * 1/4 log 1/4).
  votes = jnp.eye(3)[jnp.array([0, 0, 1, 2])][:, None, :]
  np.testing.assert_allclose(acq.vote_entropy(votes),
                             [1.5 * np.log(2)], rtol=1e-6)


def test_consensus_kl_is_bald(refs):
  # (1/T) sum_t KL(p_t || p_bar) = H[p_bar] - (1/T) sum_t H[p_t].
  np.testing.assert_allclose(acq.consensus_kl(refs["probs"]),
                             acq.bald(refs["probs"]), atol=2e-6)


def test_committee_jit_and_errors(refs):
  probs = jnp.asarray(refs["probs"])
  for fn in (acq.vote_entropy, acq.consensus_kl):
    np.testing.assert_allclose(jax.jit(fn)(probs), fn(probs), atol=1e-7)
    with pytest.raises(ValueError, match=r"\[T, N, C\]"):
      fn(probs[0])
  with pytest.raises(ValueError, match="eps"):
    acq.consensus_kl(probs, eps=2.0)


def test_clue_weights_match_skactiveml(refs):
  got = acq.clue_weights(refs["clue_probs"], refs["clue_available"])
  np.testing.assert_allclose(got, refs["clue_weights"], rtol=1e-5,
                             atol=1e-6)


def test_clue_from_centres_matches_skactiveml(refs):
  picks, scores = acq.clue_from_centres(
      None, refs["clue_available"], features=refs["clue_features"],
      centres=refs["clue_centres"].astype(np.float32), return_scores=True)
  np.testing.assert_array_equal(picks, refs["clue_picks"])
  got, ref = np.asarray(scores, np.float64), refs["clue_scores"]
  np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
  finite = np.isfinite(ref)
  np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-5, atol=1e-5)


def test_weighted_lloyd_keeps_scikit_learns_centres(refs):
  # scikit-learn ran to convergence (tol=0): its centres are the weighted
  # means of their own clusters, so a weighted Lloyd step keeps them.
  x = jnp.asarray(refs["clue_features"])
  c = jnp.asarray(refs["clue_centres"], jnp.float32)
  got = clue_lib._lloyd(x, jnp.asarray(refs["clue_weights"], jnp.float32),
                        c, 1)
  np.testing.assert_allclose(got, c, atol=1e-4)


def _blobs():
  rng = np.random.default_rng(3)
  centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
  x = np.concatenate([c + rng.normal(size=(15, 2)) for c in centres])
  probs = rng.dirichlet(np.ones(3), size=(4, 45))
  return jnp.asarray(x, jnp.float32), jnp.asarray(probs, jnp.float32)


def test_clue_one_row_per_blob():
  x, probs = _blobs()
  got = np.asarray(acq.clue(jax.random.key(0), 3, probs=probs, features=x))
  assert sorted(got // 15) == [0, 1, 2]


def test_clue_dominant_weight_and_whole_pool():
  # acquisition-breadth.md 10: one uncertain row among certain ones, k=1.
  x, _ = _blobs()
  probs = jnp.tile(jnp.eye(3)[0], (45, 1)).at[17].set(1.0 / 3)
  for s in range(3):
    got = acq.clue(jax.random.key(s), 1, probs=probs, features=x)
    assert got.tolist() == [17]
  available = jnp.arange(45) % 4 != 0
  got = acq.clue(jax.random.key(0), int(available.sum()), available,
                 probs=probs, features=x)
  np.testing.assert_array_equal(np.sort(got), np.flatnonzero(available))


def test_clue_respects_available_and_labeled():
  x, probs = _blobs()
  labeled = jnp.arange(45) < 15
  got = np.asarray(acq.clue(jax.random.key(1), 4, probs=probs, features=x,
                            labeled=labeled))
  assert (got >= 15).all() and len(set(got.tolist())) == 4
  entry = acq.get("clue")
  assert entry.uses_features and entry.uses_probs and entry.uses_key
  for name in ("vote_entropy", "consensus_kl"):
    assert acq.get(name).uses_mc


def test_clue_errors():
  x, probs = _blobs()
  with pytest.raises(ValueError, match="probs"):
    acq.clue(jax.random.key(0), 2, probs=probs[:, :10], features=x)
  with pytest.raises(ValueError, match="centres"):
    acq.clue_from_centres(None, features=x, centres=jnp.zeros((2, 3)))
  with pytest.raises(ValueError, match="weights"):
    acq.weighted_kmeans(jax.random.key(0), 2, features=x,
                        weights=jnp.ones(3))
