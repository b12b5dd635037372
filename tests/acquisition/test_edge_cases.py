"""Every acquisition on degenerate inputs: probabilities with exact zeros,
identical rows, zero-norm features, duplicate points and a pool of one.
Each must return k distinct available indices, the same for the same key,
and its scores (where it has them) must be finite."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition as acq

N, C, D, T, K = 24, 3, 5, 4, 4


def _case(name: str):
  rng = np.random.default_rng(1)
  probs = rng.dirichlet(np.ones(C), size=(T, N)).astype(np.float32)
  features = rng.normal(size=(N, D)).astype(np.float32)
  labeled = np.zeros(N, bool)
  labeled[:3] = True
  available = ~labeled
  k = K
  if name == "one_hot_probs":  # exact zeros and ones everywhere
    probs = np.eye(C, dtype=np.float32)[rng.integers(0, C, (T, N))]
  elif name == "identical_rows":
    probs[:] = probs[0, 0]
    features[:] = features[0]
  elif name == "zero_features":
    features[:] = 0.0
  elif name == "duplicate_points":
    probs[:, 1::2] = probs[:, 0::2]
    features[1::2] = features[0::2]
  elif name == "pool_of_one":
    available = np.zeros(N, bool)
    available[7] = True
    k = 1
  return (dict(probs=jnp.asarray(probs), features=jnp.asarray(features),
               labeled=jnp.asarray(labeled)), jnp.asarray(available), k)


CASES = ("one_hot_probs", "identical_rows", "zero_features",
         "duplicate_points", "pool_of_one")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", acq.names())
def test_degenerate_inputs_give_a_valid_selection(name, case):
  kwargs, available, k = _case(case)
  select = jax.jit(acq.get(name).select, static_argnums=1)
  got = np.asarray(select(jax.random.key(0), k, available, **kwargs))
  assert got.shape == (k,)
  assert len(set(got.tolist())) == k, got
  assert np.asarray(available)[got].all(), got
  np.testing.assert_array_equal(
      got, np.asarray(select(jax.random.key(0), k, available, **kwargs)))
  if case == "pool_of_one":
    assert got.tolist() == [7]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("score", [acq.entropy, acq.least_confidence,
                                   acq.margin, acq.bald])
def test_scores_stay_finite(score, case):
  kwargs, _, _ = _case(case)
  assert np.isfinite(np.asarray(score(kwargs["probs"]))).all()


def test_identical_rows_tie_to_the_lowest_indices():
  kwargs, available, _ = _case("identical_rows")
  got = np.asarray(acq.get("entropy").select(jax.random.key(0), K, available,
                                             **kwargs))
  assert got.tolist() == [3, 4, 5, 6]
