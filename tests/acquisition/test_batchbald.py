"""BatchBALD: golden scores (anchors (d) 2), the sampled estimator, and
agreement with BALD for a batch of one."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import acquisition as acq
from tests.acquisition.test_scores import _bald_golden_input


def test_golden_scores():
  probs = jnp.asarray(_bald_golden_input(), jnp.float32)
  idx, scores = acq.batchbald(jax.random.key(0), 4, jnp.ones(4, bool),
                              probs=probs, return_scores=True)
  assert sorted(idx.tolist()) == [0, 1, 2, 3]
  np.testing.assert_allclose(scores, [0.030716, 0.059620, 0.086911,
                                      0.112753], atol=1e-5)


def test_batch_of_one_is_bald():
  rng = np.random.default_rng(0)
  probs = jnp.asarray(rng.dirichlet(np.ones(5) * 0.5, size=(8, 40)),
                      jnp.float32)
  available = jnp.asarray(rng.random(40) < 0.7)
  idx, scores = acq.batchbald(jax.random.key(0), 1, available, probs=probs,
                              return_scores=True)
  bald = acq.bald(probs)
  assert int(idx[0]) == int(acq.top_k(None, 1, available, scores=bald)[0])
  np.testing.assert_allclose(scores[0], bald[idx[0]], atol=1e-5)


def test_sampled_joint_entropy_is_unbiased():
  # C = 10: exact up to 3 chosen points with M = 1000 configurations;
  # the 5th score is estimated from samples. Reference: the same run with
  # M = 10^5, exact for every score of a batch of 5.
  rng = np.random.default_rng(1)
  probs = jnp.asarray(rng.dirichlet(np.ones(10) * 0.3, size=(6, 9)),
                      jnp.float32)
  available = jnp.ones(9, bool)
  exact_idx, exact = acq.batchbald(jax.random.key(0), 5, available,
                                   probs=probs, num_samples=100_000,
                                   chunk=3, return_scores=True)
  estimates = []
  for seed in range(12):
    idx, scores = acq.batchbald(jax.random.key(seed), 5, available,
                                probs=probs, num_samples=1000,
                                return_scores=True)
    np.testing.assert_array_equal(idx[:4], exact_idx[:4])
    np.testing.assert_allclose(scores[:4], exact[:4], rtol=1e-4)
    estimates.append(float(scores[4]))
  assert abs(np.mean(estimates) - float(exact[4])) < 0.05 * float(exact[4])
