"""PyTorch's default Conv2d/Linear initialisation, checked against its
definition: weights and biases uniform on +-1/sqrt(fan_in)."""

import math

import jax
import numpy as np

from jaxdal.models import torch_init


def test_kernel_is_uniform_with_torch_bound_and_variance():
  fan_in = 3 * 3 * 32
  w = np.asarray(torch_init.kernel(jax.random.key(0), (3, 3, 32, 64)))
  bound = 1.0 / math.sqrt(fan_in)
  assert np.abs(w).max() <= bound
  assert np.abs(w).max() > 0.99 * bound  # uniform fills the interval
  # U(-b, b) has variance b^2 / 3 = 1 / (3 fan_in); 18,432 draws.
  np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.05)
  np.testing.assert_allclose(w.mean(), 0.0, atol=0.05 * bound)


def test_bias_uses_the_kernels_fan_in():
  b = np.asarray(torch_init.bias(25)(jax.random.key(1), (10_000,)))
  assert np.abs(b).max() <= 0.2 and np.abs(b).max() > 0.199
  np.testing.assert_allclose(b.var(), 0.2**2 / 3, rtol=0.05)
