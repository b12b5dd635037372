"""Distributions of the variational architecture posteriors, distrax-style.

`Kumaraswamy` (BBDropout's q(pi)) and `RelaxedBernoulli` (binary Concrete
masks) subclass `distrax.Distribution`, with the clamps of the official
code; `kl_kumaraswamy_beta` and `kl_beta_beta` are the KL terms of the
losses. Formulas: reference/architecture-optimisation-spec.md §1.
"""

import math

import distrax
import jax
import jax.numpy as jnp
from jax.scipy.special import betaln, digamma, gammaln

__all__ = ["EULER_GAMMA", "Kumaraswamy", "RelaxedBernoulli", "kl_bbdropout",
           "kl_beta_beta", "kl_kumaraswamy_beta", "softplus_inverse"]

EULER_GAMMA = 0.5772156649015329


def softplus_inverse(y: float) -> float:
  """x with softplus(x) = y, for a constant y > 0: `log(expm1(y))`.

  Plain Python (for parameter initialisers, which may run under jit).
  """
  if y <= 0:
    raise ValueError(f"softplus_inverse needs y > 0, got {y}")
  return math.log(math.expm1(y))


class Kumaraswamy(distrax.Distribution):
  """Kumaraswamy(a, b) on (0, 1): pdf `a b x^(a-1) (1 - x^a)^(b-1)`.

  Samples are reparameterised, `x = (1 - u^(1/b))^(1/a)` with
  `u ~ U[1e-6, 1 - 1e-6]` (the official clamp), computed in log space.
  """

  def __init__(self, a, b):
    super().__init__()
    self.a = jnp.asarray(a)
    self.b = jnp.asarray(b)

  @property
  def event_shape(self):
    return ()

  @property
  def batch_shape(self):
    return jnp.broadcast_shapes(self.a.shape, self.b.shape)

  def _sample_n(self, key, n):
    shape = (n, *self.batch_shape)
    u = jax.random.uniform(key, shape, minval=1e-6, maxval=1.0 - 1e-6)
    return self.sample_from_uniform(u)

  def sample_from_uniform(self, u):
    """The reparameterised transform of uniform draws `u`."""
    log_x = jnp.log1p(-jnp.exp(jnp.log(u) / self.b)) / self.a
    return jnp.exp(log_x)

  def log_prob(self, x):
    a, b = self.a, self.b
    return (jnp.log(a) + jnp.log(b) + (a - 1) * jnp.log(x)
            + (b - 1) * jnp.log1p(-x ** a))

  def cdf(self, x):
    return 1.0 - (1.0 - x ** self.a) ** self.b

  def moment(self, n):
    """`E[x^n] = b B(1 + n/a, b)`, through lgamma."""
    a, b = self.a, self.b
    return b * jnp.exp(gammaln(1 + n / a) + gammaln(b) - gammaln(1 + n / a + b))

  def mean(self):
    return self.moment(1)

  def variance(self):
    return self.moment(2) - self.moment(1) ** 2

  def mean_log(self):
    """`E[log x] = -(gamma + psi(b) + 1/b) / a`."""
    return -(EULER_GAMMA + digamma(self.b) + 1.0 / self.b) / self.a

  def entropy(self):
    a, b = self.a, self.b
    return ((1 - 1 / b) + (1 - 1 / a) * (EULER_GAMMA + digamma(b + 1))
            - jnp.log(a * b))


class RelaxedBernoulli(distrax.Distribution):
  """Binary Concrete: `z = sigmoid((logit(p) + logit(u)) / temperature)`.

  `p` and `u` are clamped to `[eps, 1 - eps]` (float32 machine epsilon), as
  torch does, so samples stay finite for p in {0, 1}. For any temperature,
  `P(z > 0.5) = p` exactly.
  """

  def __init__(self, probs, temperature):
    super().__init__()
    self.probs = jnp.asarray(probs)
    self.temperature = temperature

  @property
  def event_shape(self):
    return ()

  @property
  def batch_shape(self):
    return self.probs.shape

  def _sample_n(self, key, n):
    eps = jnp.finfo(jnp.float32).eps
    u = jax.random.uniform(key, (n, *self.batch_shape), minval=eps,
                           maxval=1.0 - eps)
    p = jnp.clip(self.probs, eps, 1.0 - eps)
    logits = jnp.log(p) - jnp.log1p(-p)
    noise = jnp.log(u) - jnp.log1p(-u)
    return jax.nn.sigmoid((logits + noise) / self.temperature)

  def log_prob(self, z):
    eps = jnp.finfo(jnp.float32).eps
    p = jnp.clip(self.probs, eps, 1.0 - eps)
    t = self.temperature
    logits = jnp.log(p) - jnp.log1p(-p)
    z = jnp.clip(z, eps, 1.0 - eps)
    logit_z = jnp.log(z) - jnp.log1p(-z)
    # Density of the logistic variable y = logit(z) * t, mapped to z.
    y = logits - t * logit_z
    return (jnp.log(t) + y - 2 * jax.nn.softplus(y)
            - jnp.log(z) - jnp.log1p(-z))


def kl_kumaraswamy_beta(a, b, alpha, beta, *, n_terms: int = 10,
                        tail: bool = False):
  """KL(Kumaraswamy(a, b) || Beta(alpha, beta)) (Nalisnick & Smyth).

  The last term, `(beta - 1) b sum_m B(m/a, b) / (m + a b)`, is a series
  truncated at `n_terms` (10 in the official code; it underestimates the
  KL when beta > 1); `tail=True` adds `Gamma(b) a^b (M + 1/2)^-b / b` for
  the rest. With beta = 1 the series vanishes and the result is exact.
  """
  a, b = jnp.asarray(a), jnp.asarray(b)
  m = jnp.arange(1, n_terms + 1, dtype=a.dtype)
  mm = m.reshape(m.shape + (1,) * jnp.ndim(a * b))
  terms = jnp.exp(betaln(mm / a, b)) / (mm + a * b)
  series = b * terms.sum(0)
  if tail:
    series = series + b * (jnp.exp(gammaln(b)) * a ** b
                           * (n_terms + 0.5) ** (-b) / b)
  return ((a - alpha) / a * (-EULER_GAMMA - digamma(b) - 1.0 / b)
          + jnp.log(a * b) + betaln(alpha, beta) - (b - 1) / b
          + (beta - 1) * series)


def kl_bbdropout(a, b, alpha):
  """The BBDropout KL per gate: prior Beta(alpha, 1), exact closed form.

  `(1 - alpha/a)(-gamma - psi(b) - 1/b) + log(a b + 1e-10) - log alpha
  - (b - 1)/b`, as in the official code.
  """
  return ((1 - alpha / a) * (-EULER_GAMMA - digamma(b) - 1.0 / b)
          + jnp.log(a * b + 1e-10) - jnp.log(alpha) - (b - 1) / b)


def kl_beta_beta(a1, b1, a2, b2):
  """Closed-form KL(Beta(a1, b1) || Beta(a2, b2))."""
  return (betaln(a2, b2) - betaln(a1, b1) + (a1 - a2) * digamma(a1)
          + (b1 - b2) * digamma(b1) + (a2 - a1 + b2 - b1) * digamma(a1 + b1))
