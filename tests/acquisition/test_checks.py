"""Inputs checked at the edge: one-line errors that name the argument, the
expected form and what came; nothing checked on tracers, so every function
still runs under jit and vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq
from jaxdal.acquisition import streamed

N, C, D, T = 12, 3, 4, 5


def _probs(shape, seed=0):
  return jax.nn.softmax(jax.random.normal(jax.random.key(seed), shape) * 3)


def _logits(shape, seed=0):
  return jax.random.normal(jax.random.key(seed), shape) * 3


def _raises(match, fn, *args, **kwargs) -> str:
  with pytest.raises(ValueError, match=match) as e:
    fn(*args, **kwargs)
  message = str(e.value)
  assert "\n" not in message, message
  return message


KEY = jax.random.key(0)
FEATURES = jax.random.normal(jax.random.key(1), (N, D))

# Every function that takes probabilities: (name, call with probs p).
PROB_TAKERS = [
    ("entropy", acq.entropy),
    ("margin", acq.margin),
    ("least_confidence", acq.least_confidence),
    ("bald", acq.bald),
    ("badge", lambda p: acq.badge(KEY, 2, probs=p, features=FEATURES)),
    ("batchbald", lambda p: acq.batchbald(KEY, 2, probs=p)),
]


@pytest.mark.parametrize("name,fn", PROB_TAKERS)
def test_logits_are_refused_with_the_fix(name, fn):
  message = _raises("look like logits", fn, _logits((T, N, C)))
  assert message.startswith(f"{name}: ")
  assert "jax.nn.softmax" in message and "[T, N, C]" in message
  assert f"shape ({T}, {N}, {C})" in message


@pytest.mark.parametrize("name,fn", PROB_TAKERS)
def test_positive_logits_are_refused_too(name, fn):
  # Non-negative but not normalised: the rows' sums give them away.
  message = _raises("look like logits", fn, jnp.abs(_logits((T, N, C))))
  assert "rows summing to" in message and "jax.nn.softmax" in message


def test_entropy_of_logits_no_longer_returns_nan():
  logits = _logits((N, C))
  _raises(r"entropy: probs must be probabilities \[N, C\] or \[T, N, C\]",
          acq.entropy, logits)
  assert np.isfinite(np.asarray(acq.entropy(jax.nn.softmax(logits)))).all()


def test_bald_on_sample_last_array_says_how_to_move_the_axis():
  p = _probs((T, N, C))
  sample_last = jnp.moveaxis(p, 0, -1)  # [N, C, T]
  message = _raises(r"\[T, N, C\] \(sample axis first\)|sample axis is last",
                    acq.bald, sample_last)
  assert "[N, C, T]" in message and "jnp.moveaxis(p, -1, 0)" in message
  np.testing.assert_allclose(acq.bald(jnp.moveaxis(sample_last, -1, 0)),
                             acq.bald(p))


def test_transposed_probabilities_are_named():
  message = _raises(r"\[C, N\]", acq.entropy, _probs((N, C)).T)
  assert "p.T" in message


def test_nan_probabilities_are_refused():
  p = _probs((N, C)).at[3, 1].set(jnp.nan)
  _raises("NaN", acq.entropy, p)


def test_low_precision_probabilities_pass():
  p = _probs((T, N, C)).astype(jnp.bfloat16)
  assert acq.entropy(p).shape == (N,)
  assert acq.bald(p).shape == (N,)


def test_probabilities_of_a_softmax_pass_within_tolerance():
  p = _probs((T, N, 10))  # ten classes: rounding adds up over more terms
  for _, fn in PROB_TAKERS:
    fn(p)


@pytest.mark.parametrize("k", [0, -1, 2.0, True, "3"])
@pytest.mark.parametrize("select", [
    lambda k: acq.top_k(None, k, scores=jnp.arange(5.0)),
    lambda k: acq.random(KEY, k, n=5),
    lambda k: acq.badge(KEY, k, probs=_probs((N, C)), features=FEATURES),
    lambda k: acq.kcenter_greedy(None, k, features=FEATURES,
                                 labeled=jnp.zeros(N, bool)),
    lambda k: acq.batchbald(KEY, k, probs=_probs((T, N, C))),
    lambda k: acq.kmeans_pp(KEY, k, points=FEATURES),
])
def test_k_must_be_a_positive_int(select, k):
  message = _raises("k must be a positive int", select, k)
  assert repr(k) in message


@pytest.mark.parametrize("fn", [
    lambda k, a: acq.top_k(None, k, a, scores=jnp.arange(6.0)),
    lambda k, a: acq.random(KEY, k, a),
    lambda k, a: streamed.top_k(None, k, np.asarray(a),
                                scores=np.arange(6.0)),
])
def test_top_k_and_random_refuse_more_than_available(fn):
  available = jnp.array([True, False, True, False, False, True])
  assert sorted(np.asarray(fn(3, available)).tolist()) == [0, 2, 5]
  _raises("acquisition size k=4 exceeds the 3 available examples", fn, 4,
          available)
  _raises("acquisition size k=7 exceeds the 6 rows of available", fn, 7,
          available)


def test_available_must_be_a_bool_mask_of_n_rows():
  scores = jnp.arange(6.0)
  message = _raises(r"top_k: available must be a bool mask \[N\] \(N=6, as "
                    r"scores\); got shape \(5,\)", acq.top_k, None, 2,
                    jnp.ones(5, bool), scores=scores)
  message = _raises("available must be a bool mask", acq.top_k, None, 2,
                    jnp.array([0, 3]), scores=scores)
  assert "int32 array of shape (2,)" in message
  assert "jnp.zeros(6, bool).at[idx].set(True)" in message
  _raises("available must be a bool mask", acq.badge, KEY, 2,
          jnp.ones((N, 1), bool), probs=_probs((N, C)), features=FEATURES)


def test_kcenter_greedy_refuses_labeled_indices():
  idx = jnp.array([0, 4, 7])
  message = _raises(r"kcenter_greedy: labeled must be a bool mask \[N\] "
                    r"\(N=12, as features\)", acq.kcenter_greedy, None, 2,
                    features=FEATURES, labeled=idx)
  assert "int32 array of shape (3,)" in message
  assert "jnp.zeros(12, bool).at[idx].set(True)" in message
  mask = jnp.zeros(N, bool).at[idx].set(True)
  got = acq.kcenter_greedy(None, 2, features=FEATURES, labeled=mask)
  assert not set(np.asarray(got).tolist()) & {0, 4, 7}
  _raises("labeled must be a bool mask", streamed.kcenter_greedy, None, 2,
          features=np.asarray(FEATURES), labeled=np.asarray(idx))


def test_features_must_match_the_rows_of_probs():
  _raises(r"badge: features must be \[N, D\] with N=12 rows, as probs; got "
          r"float32 array of shape \(11, 4\)", acq.badge, KEY, 2,
          probs=_probs((N, C)), features=FEATURES[:11])


def test_top_k_given_probabilities_says_to_score_them():
  _raises(r"scores must be one score per example \[N\].*entropy",
          acq.top_k, None, 2, scores=_probs((N, C)))


def test_a_selector_called_in_the_old_order_is_told_about_the_key():
  # badge(probs, features, k, key, available) was the old order.
  _raises(r"badge: key must be a PRNG key \(jax.random.key\(seed\)\); got "
          r"float32 array of shape \(12, 3\)", acq.badge, _probs((N, C)),
          FEATURES, probs=_probs((N, C)), features=FEATURES)


def test_streamed_selectors_check_their_blocks():
  p = np.asarray(_logits((N, C)))
  x = np.asarray(FEATURES)
  _raises("streamed.badge: probs must be probabilities.*look like logits",
          streamed.badge, KEY, 2, probs=p, features=x, chunk=4)
  _raises("streamed.scores: probs .*shape \\(5, 12, 3\\).*look like logits",
          streamed.scores, acq.bald, np.asarray(_logits((T, N, C))), chunk=4)
  sample_last = np.moveaxis(np.asarray(_probs((T, N, C))), 0, -1)
  _raises("jnp.moveaxis", streamed.scores, acq.bald, sample_last)


def test_checks_are_skipped_under_jit_and_vmap():
  # Under a trace only shapes are checked: the values are unknown.
  logits = _logits((T, N, C))
  assert jax.jit(acq.entropy)(logits).shape == (N,)
  assert jax.vmap(acq.entropy)(logits).shape == (T, N)
  top = jax.jit(acq.top_k, static_argnums=(0, 1))
  available = jnp.arange(N) < 4
  assert top(None, 3, available, scores=jnp.arange(N, dtype=jnp.float32)
             ).tolist() == [3, 2, 1]
  keys = jax.random.split(KEY, 3)
  picks = jax.vmap(lambda key: acq.random(key, 2, available))(keys)
  assert picks.shape == (3, 2) and (np.asarray(picks) < 4).all()
  badge = jax.jit(acq.badge, static_argnums=1)
  assert badge(KEY, 2, probs=_probs((N, C)), features=FEATURES).shape == (2,)


def test_a_concrete_mask_closed_over_by_jit_is_still_checked():
  # A constant of the traced function: concrete, so its budget is checked
  # on the host (a jnp sum of it would be traced under the outer jit).
  available = jnp.arange(N) < 4
  probs, key = _probs((N, C)), KEY
  pick = jax.jit(lambda: acq.badge(key, 3, available, probs=probs,
                                   features=FEATURES))
  assert sorted(np.asarray(pick()).tolist()) == sorted(
      np.asarray(acq.badge(key, 3, available, probs=probs,
                           features=FEATURES)).tolist())
  with pytest.raises(ValueError, match="k=5 exceeds the 4 available"):
    jax.jit(lambda: acq.badge(key, 5, available, probs=probs,
                              features=FEATURES))()
