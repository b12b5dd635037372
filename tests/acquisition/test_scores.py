"""Scores against golden values (acquisition-anchors.md (d)) and NumPy."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import xlogy

from jaxdal import acquisition as acq


def _np_entropy(p):
  return -xlogy(p, p).sum(-1)


def _bald_golden_input():
  """acquisition-anchors.md (d) 1: K=20, C=4, four class-rotated points."""
  p1 = np.array([0.7, 0.1, 0.1, 0.1])
  p2 = np.array([0.3, 0.3, 0.2, 0.2])
  m = np.linspace(0, 1, 20)[:, None]
  base = (1 - m) * p1 + m * p2  # [K, C]
  points = [np.roll(base, shift, axis=-1) for shift in range(4)]
  return np.stack(points, axis=1)  # [K, N=4, C]


def test_bald_golden_value():
  probs = _bald_golden_input()
  scores = acq.bald(jnp.asarray(probs, jnp.float32))
  np.testing.assert_allclose(scores, 0.030716, atol=2e-6)
  np.testing.assert_allclose(acq.entropy(jnp.asarray(probs)), 1.2376,
                             atol=1e-4)


def test_entropy_golden_and_conventions():
  p = jnp.array([[0.5, 0.3, 0.2]])
  np.testing.assert_allclose(acq.entropy(p), [1.029653], atol=1e-6)
  np.testing.assert_allclose(acq.least_confidence(p), [0.5], atol=1e-7)
  np.testing.assert_allclose(acq.margin(p), [-0.2], atol=1e-7)


def test_uniform_entropy_is_log_c():
  c = 7
  np.testing.assert_allclose(acq.entropy(jnp.full((3, c), 1 / c)),
                             np.log(c), rtol=1e-6)


def test_exact_zeros_are_finite():
  p = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
  np.testing.assert_array_equal(acq.entropy(p), [0.0, 0.0])
  mc = jnp.stack([p, p[::-1]])
  assert np.isfinite(np.asarray(acq.bald(mc))).all()


def test_bald_zero_when_samples_agree():
  rng = np.random.default_rng(0)
  p = rng.dirichlet(np.ones(5), size=8)
  mc = jnp.asarray(np.repeat(p[None], 6, axis=0), jnp.float32)
  np.testing.assert_allclose(acq.bald(mc), 0.0, atol=1e-6)


def test_scores_match_numpy_on_random_data():
  rng = np.random.default_rng(1)
  mc = rng.dirichlet(np.ones(10), size=(5, 50))  # [T, N, C]
  mean = mc.mean(0)
  top2 = np.sort(mean, -1)[:, -2:]
  expected = {
      "entropy": _np_entropy(mean),
      "least_confidence": 1 - mean.max(-1),
      "margin": top2[:, 0] - top2[:, 1],
      "bald": _np_entropy(mean) - _np_entropy(mc).mean(0),
  }
  x = jnp.asarray(mc, jnp.float32)
  for name, want in expected.items():
    got = getattr(acq, name)(x)
    np.testing.assert_allclose(got, want, atol=2e-6, err_msg=name)


def test_all_conventions_rank_alike():
  rng = np.random.default_rng(2)
  p = jnp.asarray(rng.dirichlet(np.ones(2), size=30), jnp.float32)
  # With two classes LC, margin and entropy are monotone in max p.
  orders = [np.argsort(-np.asarray(f(p)), kind="stable")
            for f in (acq.entropy, acq.least_confidence, acq.margin)]
  np.testing.assert_array_equal(orders[0], orders[1])
  np.testing.assert_array_equal(orders[0], orders[2])


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match=r"\[T, N, C\]"):
    acq.bald(jnp.ones((3, 4)))
  with pytest.raises(ValueError, match="shape"):
    acq.entropy(jnp.ones((2, 3, 4, 5)))
