"""PDARTS candidate operations (the official `operations.py` and the mixed
operation of `model_search.py`). Channels-last (NHWC) throughout."""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdal.models.conv import matmul_conv

__all__ = ["DilConv", "FactorizedReduce", "MixedOp", "NONE", "Operation",
           "PRIMITIVES", "ReLUConvBN", "SKIP", "SepConv"]

PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
              "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NONE, SKIP = 0, 3  # positions of `none` and `skip_connect` in PRIMITIVES


# Bias-free convolutions; 1x1s and the stem run as matmuls on XLA:CPU.
_conv = functools.partial(nn.Conv, use_bias=False,
                          conv_general_dilated=matmul_conv)


def _bn(train: bool, affine: bool = False) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, use_scale=affine, use_bias=affine)


class ReLUConvBN(nn.Module):
  channels: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = _conv(self.channels, (1, 1))(nn.relu(x))
    return _bn(train, self.affine)(x)


class FactorizedReduce(nn.Module):
  """Halves H and W: two stride-2 1x1 convolutions, one shifted by a pixel,
  concatenated (`channels` even)."""
  channels: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = nn.relu(x)
    half = self.channels // 2
    a = _conv(half, (1, 1), strides=2)(x)
    b = _conv(self.channels - half, (1, 1), strides=2)(x[:, 1:, 1:, :])
    return _bn(train, self.affine)(jnp.concatenate([a, b], axis=-1))


def _relu_dw_pw_bn(x, channels: int, kernel: int, stride: int,
                   dilation: int, affine: bool, *, train: bool):
  """ReLU -> depthwise kxk (stride, dilation) -> 1x1 conv -> BN (call in a
  compact module)."""
  pad = dilation * (kernel - 1) // 2
  x = _conv(x.shape[-1], (kernel, kernel), strides=stride,
            padding=((pad, pad), (pad, pad)), kernel_dilation=dilation,
            feature_group_count=x.shape[-1])(nn.relu(x))
  return _bn(train, affine)(_conv(channels, (1, 1))(x))


class _Separable(nn.Module):
  channels: int
  kernel: int
  stride: int
  affine: bool = False


class SepConv(_Separable):
  """The separable convolution applied twice (the second with stride 1)."""

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = _relu_dw_pw_bn(x, self.channels, self.kernel, self.stride, 1,
                       self.affine, train=train)
    return _relu_dw_pw_bn(x, self.channels, self.kernel, 1, 1, self.affine,
                          train=train)


class DilConv(_Separable):
  """One dilated (x2) separable convolution."""

  @nn.compact
  def __call__(self, x, *, train: bool):
    return _relu_dw_pw_bn(x, self.channels, self.kernel, self.stride, 2,
                          self.affine, train=train)


class Operation(nn.Module):
  """Candidate operation `PRIMITIVES[index]`: `[N, H, W, C] -> [N, H/s,
  W/s, C]`. In training an identity skip is followed by inverted dropout
  at `skip_rate` (a call argument, so its schedule never recompiles).
  `affine` BatchNorms are used by derived (evaluation) networks."""
  index: int
  channels: int
  stride: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool, skip_rate=0.0):
    s, name = self.stride, PRIMITIVES[self.index]
    if name == "none":
      return jnp.zeros_like(x[:, ::s, ::s, :])
    if name in ("max_pool_3x3", "avg_pool_3x3"):
      pool = nn.max_pool if name == "max_pool_3x3" else nn.avg_pool
      kwargs = {} if name == "max_pool_3x3" else {"count_include_pad": False}
      x = pool(x, (3, 3), strides=(s, s), padding=((1, 1), (1, 1)), **kwargs)
      return _bn(train, self.affine)(x)
    if name == "skip_connect":
      if s == 2:
        return FactorizedReduce(self.channels, self.affine)(x, train=train)
      constant_zero = isinstance(skip_rate, (int, float)) and skip_rate == 0
      if train and not constant_zero:
        keep = 1.0 - skip_rate
        mask = jax.random.bernoulli(self.make_rng("dropout"), keep, x.shape)
        x = jnp.where(mask, x / jnp.maximum(keep, 1e-6), 0.0)
      return x
    kernel = 3 if name.endswith("3x3") else 5
    if name.startswith("sep"):
      return SepConv(self.channels, kernel, s, self.affine)(x, train=train)
    return DilConv(self.channels, kernel, s, self.affine)(x, train=train)


class MixedOp(nn.Module):
  """`sum_o w_o op_o(x)` over the operations switched on for this edge."""
  channels: int
  stride: int
  ops: Sequence[int]

  @nn.compact
  def __call__(self, x, weights, *, train: bool, skip_rate=0.0):
    out = 0.0
    for w, index in zip(weights, self.ops, strict=True):
      out = out + w * Operation(index, self.channels, self.stride)(
          x, train=train, skip_rate=skip_rate)
    return out
