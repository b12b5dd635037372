"""PyTorch's default initialisation of `nn.Conv2d` and `nn.Linear`, for
networks whose reference behaviour was measured with it.

Both draw the weight from `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`
(`kaiming_uniform_(a=sqrt(5))`, variance `1 / (3 fan_in)`) and the bias
from the same interval, where `fan_in` is input channels times the kernel's
spatial size. Flax's defaults (LeCun normal, variance `1 / fan_in`, zero
bias) give each residual block three times the variance, which compounds
over a deep residual stack without normalisation.
"""

import math

import jax
import jax.numpy as jnp
from flax.linen import initializers

__all__ = ["bias", "kernel"]

# U(-sqrt(3 s / fan_in), +...) with s = 1/3: the bound 1/sqrt(fan_in).
kernel = initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def bias(fan_in: int):
  """`U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, as torch draws conv/linear
  biases."""
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init
