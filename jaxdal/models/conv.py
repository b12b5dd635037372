"""Convolution as one matrix multiply (im2col) where XLA:CPU is slow.

XLA:CPU's convolution emitter is slow on some layer shapes of image
backbones: a 3x3, 512 -> 512 convolution on a 2x2 map trains 70x slower
than the same product as a matmul, 1x1 strided shortcuts 4x, few-channel
stems 2-5x. Gathering the k*k shifted windows into `[N, H', W', k*k*C]` and
multiplying by the kernel reshaped to `[k*k*C, C']` goes through the fast
GEMM instead; for mid-sized maps with many channels the emitter wins and is
kept (`use_im2col`, measured in benchmarks/RESULTS.md). Pass
`conv_general_dilated=matmul_conv` to `flax.linen.Conv`: parameters are
unchanged, and on other backends (or for grouped / dilated convolutions)
it is `lax.conv_general_dilated` itself.
"""

import contextlib
import contextvars

import jax
import jax.numpy as jnp
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")
_PREFER_IM2COL = contextvars.ContextVar("prefer_im2col", default=False)


@contextlib.contextmanager
def prefer_im2col():
  """While tracing inside this context, every plain CPU convolution runs as
  im2col. For `jax.vmap` over parameters: a batched kernel turns
  `lax.conv_general_dilated` into a grouped convolution (slow on XLA:CPU),
  while im2col becomes a batched matmul."""
  token = _PREFER_IM2COL.set(True)
  try:
    yield
  finally:
    _PREFER_IM2COL.reset(token)


def im2col_conv(lhs: jax.Array, rhs: jax.Array, strides, padding
                ) -> jax.Array:
  """`[N, H, W, C] * [kh, kw, C, O] -> [N, H', W', O]`: explicit padding
  `((top, bottom), (left, right))`, any strides, as one matmul."""
  (top, bottom), (left, right) = padding
  sh, sw = strides
  kh, kw, c, o = rhs.shape
  x = jnp.pad(lhs, ((0, 0), (top, bottom), (left, right), (0, 0)))
  n, h, w, _ = x.shape
  ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
  windows = [lax.slice(x, (0, i, j, 0),
                       (n, i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1, c),
                       (1, sh, sw, 1))
             for i in range(kh) for j in range(kw)]
  cols = windows[0] if len(windows) == 1 else jnp.concatenate(windows, -1)
  out = cols.reshape(n * ho * wo, kh * kw * c) @ rhs.reshape(kh * kw * c, o)
  return out.reshape(n, ho, wo, o)


def use_im2col(in_channels: int, kernel: tuple[int, int],
               out_pixels: int) -> bool:
  """Where im2col beats XLA:CPU's convolution: 1x1 kernels, stems with at
  most 16 input channels, maps of at most 16 output pixels."""
  return kernel == (1, 1) or in_channels <= 16 or out_pixels <= 16


def matmul_conv(lhs, rhs, window_strides, padding, lhs_dilation=None,
                rhs_dilation=None, dimension_numbers=None,
                feature_group_count=1, batch_group_count=1, precision=None,
                preferred_element_type=None):
  """`lax.conv_general_dilated`'s signature; `im2col_conv` for plain NHWC
  convolutions on the CPU backend, `lax.conv_general_dilated` otherwise."""
  plain = (jax.default_backend() == "cpu" and lhs.ndim == 4
           and feature_group_count == 1 and batch_group_count == 1
           and all(d == 1 for d in (lhs_dilation or (1, 1)))
           and all(d == 1 for d in (rhs_dilation or (1, 1)))
           and dimension_numbers == lax.conv_dimension_numbers(
               lhs.shape, rhs.shape, _NHWC))
  if not plain:
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count,
        batch_group_count=batch_group_count, precision=precision,
        preferred_element_type=preferred_element_type)
  if isinstance(padding, str):
    padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2],
                                  window_strides, padding)
  padding = tuple(map(tuple, padding))
  out_pixels = 1
  for size, k, s, (lo, hi) in zip(lhs.shape[1:3], rhs.shape[:2],
                                  window_strides, padding, strict=True):
    out_pixels *= (size + lo + hi - k) // s + 1
  if not (_PREFER_IM2COL.get()
          or use_im2col(lhs.shape[3], tuple(rhs.shape[:2]), out_pixels)):
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding,
        dimension_numbers=dimension_numbers, precision=precision,
        preferred_element_type=preferred_element_type)
  return im2col_conv(lhs, rhs, window_strides, padding)
