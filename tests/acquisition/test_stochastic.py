"""Stochastic batch acquisition (Kirsch et al., 2023) against baal 2.1.0.

baal draws on the unseeded global NumPy RNG, so the references are the
distributions its samplers pass to `np.random.choice`
(tests/data/make_baal_references.py); the draws are checked by their
frequencies over many keys.
"""

import inspect
import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import rankdata

from jaxdal import acquisition as acq
from jaxdal.acquisition import stochastic

REFS = os.path.join(os.path.dirname(__file__), "..", "data",
                    "baal_references.npz")
BAAL_NAMES = {"power": "power", "softmax": "gibbs", "rank": "rank"}
DRAWS = 4000


@pytest.fixture(scope="module")
def refs():
  with np.load(REFS) as f:
    return dict(f)


@pytest.fixture(scope="module")
def base_scores(refs):
  p = jnp.asarray(refs["mc_probs"])
  return {"bald": np.asarray(acq.bald(p)), "entropy": np.asarray(
      acq.entropy(p))}


def _frequencies(draws: np.ndarray, n: int) -> np.ndarray:
  return np.bincount(draws.reshape(-1), minlength=n) / draws.shape[0]


def _tolerance(p: np.ndarray, n: int) -> np.ndarray:
  # Five binomial standard deviations, plus one count: with fixed keys the
  # test is deterministic, and a correct sampler passes with room.
  return 5.0 * np.sqrt(p * (1.0 - p) / n) + 1.0 / n


def test_base_scores_match_baal(refs, base_scores):
  np.testing.assert_allclose(base_scores["bald"], refs["bald"], atol=1e-5)
  np.testing.assert_allclose(base_scores["entropy"], refs["entropy"],
                             atol=1e-5)


@pytest.mark.parametrize("mode", stochastic.MODES)
@pytest.mark.parametrize("base", ["bald", "entropy"])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_distribution_matches_baal(refs, base_scores, mode, base,
                                   temperature):
  want = refs[f"dist_{BAAL_NAMES[mode]}_{base}_t{temperature:g}"]
  got = acq.stochastic_probs(jnp.asarray(base_scores[base]),
                             jnp.asarray(refs["pool_mask"]), mode=mode,
                             beta=1.0 / temperature)
  np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("mode", stochastic.MODES)
@pytest.mark.parametrize("base", ["bald", "entropy"])
def test_first_draw_frequencies_match_baal(refs, base_scores, mode, base):
  want = refs[f"dist_{BAAL_NAMES[mode]}_{base}_t1"]
  available = jnp.asarray(refs["pool_mask"])
  scores = jnp.asarray(base_scores[base])
  keys = jax.random.split(jax.random.key(0), DRAWS)
  draws = jax.vmap(lambda key: acq.stochastic_batch(
      key, 1, available, scores=scores, mode=mode))(keys)
  freq = _frequencies(np.asarray(draws), len(want))
  assert (freq[~refs["pool_mask"]] == 0).all()
  assert (np.abs(freq - want) <= _tolerance(want, DRAWS)).all(), (freq, want)


def test_draws_are_without_replacement_plackett_luce():
  # Ordered pairs (i, j) have probability p_i p_j / (1 - p_i).
  scores = jnp.array([1.0, 2.0, 3.0, 4.0])
  p = np.asarray(scores) / 10.0
  keys = jax.random.split(jax.random.key(1), DRAWS)
  draws = np.asarray(jax.vmap(lambda key: acq.stochastic_batch(
      key, 2, scores=scores))(keys))
  assert (draws[:, 0] != draws[:, 1]).all()
  for i, j in itertools.permutations(range(4), 2):
    want = p[i] * p[j] / (1.0 - p[i])
    freq = np.mean((draws[:, 0] == i) & (draws[:, 1] == j))
    assert abs(freq - want) <= _tolerance(want, DRAWS), (i, j, freq, want)


def test_golden_values():
  # acquisition-breadth.md section 4.
  np.testing.assert_allclose(
      acq.stochastic_probs(jnp.array([1.0, 3.0])), [0.25, 0.75], rtol=1e-6)
  np.testing.assert_allclose(
      acq.stochastic_probs(jnp.array([0.3, 0.7]), mode="rank"),
      [1 / 3, 2 / 3], rtol=1e-6)
  np.testing.assert_allclose(
      acq.stochastic_probs(jnp.array([0.0, np.log(3.0)]), mode="softmax"),
      [0.25, 0.75], rtol=1e-6)


@pytest.mark.parametrize("mode", stochastic.MODES)
def test_cold_limit_is_top_k(mode):
  scores = jnp.array([0.3, 0.9, 0.1, 0.8, 0.5, 0.2])
  for seed in range(5):
    got = acq.stochastic_batch(jax.random.key(seed), 3, scores=scores,
                               mode=mode, beta=1e6)
    assert got.tolist() == [1, 3, 4]


def test_ranks_are_averaged_among_the_available_rows():
  scores = np.array([3.0, 1.0, 1.0, 7.0, 1.0, -np.inf, -np.inf])
  available = np.array([True, True, True, False, True, True, False])
  ranks = rankdata(-scores[available])
  want = np.zeros(len(scores))
  want[available] = ranks ** -2.0 / np.sum(ranks ** -2.0)
  got = acq.stochastic_probs(jnp.asarray(scores), jnp.asarray(available),
                             mode="rank", beta=2.0)
  np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("mode", stochastic.MODES)
def test_unavailable_rows_are_never_drawn(mode):
  scores = jnp.array([9.0, 0.0, 5.0, 1.0, 0.5, 8.0, np.nan, 2.0])
  available = jnp.array([False, True, False, True, True, False, True, True])
  keys = jax.random.split(jax.random.key(2), 500)
  draws = np.asarray(jax.vmap(lambda key: acq.stochastic_batch(
      key, 5, available, scores=scores, mode=mode))(keys))
  for row in draws:
    assert sorted(row.tolist()) == [1, 3, 4, 6, 7]


def test_zero_weights_come_last_in_random_order():
  # power: s <= 0 or NaN has weight 0; they follow the positive rows.
  scores = jnp.array([0.0, 2.0, -1.0, 1.0, np.nan])
  keys = jax.random.split(jax.random.key(3), 600)
  draws = np.asarray(jax.vmap(lambda key: acq.stochastic_batch(
      key, 4, scores=scores))(keys))
  assert all(set(row[:2]) == {1, 3} for row in draws.tolist())
  freq = _frequencies(draws[:, 2], 5)
  np.testing.assert_allclose(freq[[0, 2, 4]], 1 / 3, atol=0.07)


def test_the_same_key_gives_the_same_batch_under_jit():
  scores = jnp.asarray(np.random.default_rng(0).random(50), jnp.float32)
  for mode in stochastic.MODES:
    eager = acq.stochastic_batch(jax.random.key(4), 7, scores=scores,
                                 mode=mode, beta=0.5)
    jitted = jax.jit(acq.stochastic_batch, static_argnums=1,
                     static_argnames="mode")(
        jax.random.key(4), 7, scores=scores, mode=mode, beta=0.5)
    np.testing.assert_array_equal(eager, jitted)
    other = acq.stochastic_batch(jax.random.key(5), 7, scores=scores,
                                 mode=mode, beta=0.5)
    assert not np.array_equal(eager, other)


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="gibbs"), "mode must be one of power, softmax, rank; got "
     "'gibbs'"),
    (dict(beta=0.0), "beta must be a finite number > 0"),
    (dict(beta=-1.0), "beta must be a finite number > 0"),
    (dict(beta=float("inf")), "beta must be a finite number > 0"),
])
def test_bad_settings_are_one_line(kwargs, match):
  with pytest.raises(ValueError, match=match):
    acq.stochastic_batch(jax.random.key(0), 1, scores=jnp.ones(3), **kwargs)
  with pytest.raises(ValueError, match=match):
    acq.stochastic_from_score(acq.entropy, kwargs.get("mode", "power"),
                              beta=kwargs.get("beta", 1.0))


def test_wrapping_a_score():
  entry = acq.stochastic_from_score(acq.margin, "softmax", beta=4)
  assert entry is acq.stochastic_from_score(acq.margin, "softmax", beta=4.0)
  assert entry.uses_key and not entry.uses_mc
  name = "_test_softmax_margin"
  try:
    assert acq.register(name, entry) is entry
    assert acq.register(name, acq.stochastic_from_score(
        acq.margin, mode="softmax", beta=4.0)) is entry
  finally:
    acq.ACQUISITIONS.unregister(name)
  probs = jnp.asarray(np.random.default_rng(1).dirichlet(np.ones(3), (1, 20)),
                      jnp.float32)
  got = entry.select(jax.random.key(0), 5, jnp.ones(20, bool), probs=probs)
  want = acq.stochastic_batch(jax.random.key(0), 5, scores=acq.margin(probs),
                              mode="softmax", beta=4.0)
  np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", stochastic.MODES)
def test_registered_entries(mode, refs):
  probs = jnp.asarray(refs["mc_probs"])
  available = jnp.asarray(refs["pool_mask"])
  for base, score, uses_mc in (("bald", acq.bald, True),
                               ("entropy", acq.entropy, False)):
    entry = acq.get(f"{mode}_{base}")
    assert entry.uses_key and entry.uses_mc == uses_mc
    got = entry.select(jax.random.key(6), 4, available, probs=probs)
    want = acq.stochastic_batch(jax.random.key(6), 4, available,
                                scores=score(probs), mode=mode)
    np.testing.assert_array_equal(got, want)


def test_stochastic_batch_takes_the_selector_argument_order():
  params = list(inspect.signature(acq.stochastic_batch).parameters.values())
  assert [p.name for p in params[:3]] == ["key", "k", "available"]
  assert params[2].default is None
  assert all(p.kind is p.KEYWORD_ONLY for p in params[3:])
