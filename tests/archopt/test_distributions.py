"""Distributions and KL terms against analytic values, quadrature and
Monte Carlo (architecture-optimisation-spec.md §6, tests 1-17)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from jaxdal.archopt import distributions as dists

PAIRS = [(0.3133, 1.0), (1.3133, 1.0), (2.0, 3.0), (0.5, 0.5)]


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def _kuma_samples(a, b, n=200_000, seed=0):
  return np.asarray(dists.Kumaraswamy(a, b).sample(seed=jax.random.key(seed),
                                               sample_shape=n), np.float64)


@pytest.mark.parametrize("a,b", PAIRS)
def test_kumaraswamy_moments_by_monte_carlo(a, b):
  x = _kuma_samples(a, b)
  for n in (1, 2):
    want = b * special.beta(1 + n / a, b)
    se = np.std(x ** n) / np.sqrt(len(x))
    assert abs(np.mean(x ** n) - want) < 5 * se + 1e-6


@pytest.mark.parametrize("a,b", PAIRS)
def test_kumaraswamy_cdf_and_uniform_forms(a, b):
  x = _kuma_samples(a, b, n=20_000)
  assert stats.kstest(x, lambda v: 1 - (1 - v ** a) ** b).pvalue > 0.01
  dist = dists.Kumaraswamy(a, b)
  u1, u2 = (jax.random.uniform(jax.random.key(s), (20_000,), minval=1e-6,
                               maxval=1 - 1e-6) for s in (21, 22))
  x_u = np.asarray(dist.sample_from_uniform(u1))
  x_1mu = np.asarray(dist.sample_from_uniform(1 - u2))
  assert stats.ks_2samp(x_u, x_1mu).pvalue > 0.01


@pytest.mark.parametrize("a,b", [(0.3133, 1.0), (2.0, 3.0), (0.5, 0.5),
                                 (5.0, 0.7)])
def test_kumaraswamy_against_quadrature(a, b, x64):
  dist = dists.Kumaraswamy(jnp.float64(a), jnp.float64(b))

  def pdf(x):
    return a * b * x ** (a - 1) * (1 - x ** a) ** (b - 1)

  def inv_cdf(u):
    return (1 - (1 - u) ** (1 / b)) ** (1 / a)

  # u-space integrals avoid the endpoint singularities of the pdf.
  mean = integrate.quad(inv_cdf, 0, 1, epsabs=1e-12)[0]
  mean_log = integrate.quad(lambda u: np.log(inv_cdf(u)), 0, 1,
                            epsabs=1e-12, limit=200)[0]
  ent = integrate.quad(lambda u: -np.log(pdf(inv_cdf(u))), 0, 1,
                       epsabs=1e-12, limit=200)[0]
  np.testing.assert_allclose(float(dist.mean()), mean, atol=1e-6)
  np.testing.assert_allclose(float(dist.mean_log()), mean_log, atol=1e-8)
  np.testing.assert_allclose(float(dist.entropy()), ent, atol=1e-8)


def test_entropy_golden(x64):
  np.testing.assert_allclose(float(dists.Kumaraswamy(2.0, 3.0).entropy()),
                             -0.2084261, atol=1e-7)


@pytest.mark.parametrize("a,want", [(0.31326, 0.2385), (1.31326, 0.5677),
                                    (2.12693, 0.6802)])
def test_expected_pi(a, want):
  assert abs(float(dists.Kumaraswamy(a, 1.0).mean()) - want) < 1e-4


@pytest.mark.parametrize("tau,p", list(itertools.product([0.1, 0.5, 1.0],
                                                    [0.05, 0.5, 0.9])))
def test_relaxed_bernoulli_exceeds_half_with_probability_p(tau, p):
  z = dists.RelaxedBernoulli(p, tau).sample(seed=jax.random.key(1),
                                        sample_shape=100_000)
  frac = float((z > 0.5).mean())
  assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / 100_000)


def test_relaxed_bernoulli_near_zero_temperature_is_binary():
  z = np.asarray(dists.RelaxedBernoulli(0.3, 1e-3).sample(
      seed=jax.random.key(2), sample_shape=50_000))
  assert np.mean(np.minimum(z, 1 - z) < 1e-3) >= 0.99
  assert abs(z.mean() - 0.3) < 5 * np.sqrt(0.21 / 50_000)


def test_relaxed_bernoulli_extremes_are_finite():
  p = jnp.array([0.0, 1e-12, 1 - 1e-12, 1.0])
  z = dists.RelaxedBernoulli(p, 0.1).sample(seed=jax.random.key(3),
                                            sample_shape=1000)
  assert np.isfinite(np.asarray(z)).all()
  assert float(z.min()) >= 0.0 and float(z.max()) <= 1.0


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_relaxed_bernoulli_gradients(tau):
  def f(logit):
    z = dists.RelaxedBernoulli(jax.nn.sigmoid(logit), tau).sample(
        seed=jax.random.key(4), sample_shape=64)
    return z.mean()

  g = jax.grad(f)(0.3)
  assert np.isfinite(float(g)) and abs(float(g)) > 0


def test_beta_sampling_gradient_matches_analytic():
  a, b = 2.0, 3.0
  key = jax.random.key(5)

  def mean_nu(a):
    return jax.random.beta(key, a, b, (200_000,)).mean()

  g = float(jax.grad(mean_nu)(a))
  assert abs(g - b / (a + b) ** 2) < 0.05 * b / (a + b) ** 2


def _kl_kuma_beta_numeric(a, b, alpha, beta):
  def integrand(u):
    x = (1 - (1 - u) ** (1 / b)) ** (1 / a)
    log_q = np.log(a * b) + (a - 1) * np.log(x) + (b - 1) * np.log1p(-x ** a)
    log_p = ((alpha - 1) * np.log(x) + (beta - 1) * np.log1p(-x)
             - special.betaln(alpha, beta))
    return log_q - log_p

  return integrate.quad(integrand, 0, 1, epsabs=1e-12, limit=400)[0]


@pytest.mark.parametrize("a,b,alpha", list(itertools.product(
    [0.3133, 1.0, 1.3133, 2.127, 5.0], [0.5, 1.0, 3.0], [1e-4, 0.5, 1.0])))
def test_bb_kl_closed_form_against_quadrature(a, b, alpha, x64):
  got = float(dists.kl_bbdropout(jnp.float64(a), jnp.float64(b), alpha))
  assert abs(got - _kl_kuma_beta_numeric(a, b, alpha, 1.0)) < 1e-4


def test_bb_kl_golden(x64):
  # a = softplus(-1) = 0.31326 and softplus(+1), b = 1 (spec §2.7).
  a_code, a_text = jax.nn.softplus(-1.0), jax.nn.softplus(1.0)
  assert abs(float(dists.kl_bbdropout(a_code, 1.0, 1e-4)) - 7.0499) < 1e-4
  assert abs(float(dists.kl_bbdropout(a_text, 1.0, 1e-4)) - 8.4829) < 1e-4
  # The 4-digit a of the spec's table: 7.050065.
  assert abs(float(dists.kl_bbdropout(0.3133, 1.0, 1e-4)) - 7.050065) < 1e-5


@pytest.mark.parametrize("a,b,alpha,beta", list(itertools.product(
    [0.5, 1.0, 2.0, 5.0], [0.5, 1.0, 2.0, 5.0], [0.5, 1.0, 2.0],
    [1.0, 2.0, 10.0])))
def test_series_kl_with_tail_against_quadrature(a, b, alpha, beta, x64):
  want = _kl_kuma_beta_numeric(a, b, alpha, beta)
  got = float(dists.kl_kumaraswamy_beta(jnp.float64(a), jnp.float64(b), alpha,
                                    beta, n_terms=1000, tail=True))
  assert abs(got - want) < 1e-3
  got100 = float(dists.kl_kumaraswamy_beta(jnp.float64(a), jnp.float64(b),
                                           alpha, beta, n_terms=100,
                                           tail=True))
  assert abs(got100 - want) < 0.03
  assert got >= -1e-9


def test_series_with_beta_one_is_the_closed_form(x64):
  for n_terms in (1, 10, 100):
    np.testing.assert_allclose(
        dists.kl_kumaraswamy_beta(jnp.float64(0.7), jnp.float64(2.0), 0.3, 1.0,
                              n_terms=n_terms),
        dists.kl_bbdropout(jnp.float64(0.7), jnp.float64(2.0), 0.3), atol=1e-8)


def test_truncated_series_underestimates(x64):
  got = float(dists.kl_kumaraswamy_beta(jnp.float64(1.11), jnp.float64(1.01),
                                    1.0, 10.0, n_terms=10))
  assert abs(got - 6.3507) < 1e-3
  assert got <= _kl_kuma_beta_numeric(1.11, 1.01, 1.0, 10.0)


def test_uniform_kl_is_zero():
  assert abs(float(dists.kl_kumaraswamy_beta(1.0, 1.0, 1.0, 1.0))) < 1e-6


def test_beta_beta_kl_values(x64):
  assert abs(float(dists.kl_beta_beta(1.11, 1.01, 1.0, 10.0)) - 7.22665) < 1e-4
  assert abs(float(dists.kl_beta_beta(2.0, 3.0, 2.0, 3.0))) < 1e-12
  assert abs(float(dists.kl_beta_beta(1.11, 10.01, 1.1, 10.0)) - 5.75e-5) < 2e-6


def test_kl_gradients_finite():
  def f(uc):
    a, b = jax.nn.softplus(uc[0]), jax.nn.softplus(uc[1])
    return (dists.kl_bbdropout(a, b, 1e-4) + dists.kl_beta_beta(a, b, 1.0, 10.0)
            + dists.kl_kumaraswamy_beta(a, b, 1.1, 2.0))

  g = jax.grad(f)(jnp.array([-1.0, 0.5413]))
  assert np.isfinite(np.asarray(g)).all()
