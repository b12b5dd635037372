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

__all__ = ["im2col_conv", "matmul_conv", "per_seed_convolutions", "use_im2col"]

_NHWC = ("NHWC", "HWIO", "NHWC")
_PER_SEED = contextvars.ContextVar("per_seed_convolutions", default=False)


@contextlib.contextmanager
def per_seed_convolutions():
  """While tracing inside this context, `matmul_conv` batches its
  convolutions (and their gradients) under `jax.vmap` as a loop of
  ordinary convolutions, one per vmapped slice, instead of one grouped
  convolution with a batched kernel (slow on XLA:CPU). Only plain
  convolutions on the CPU backend are looped; accelerators keep vmap's
  batched convolution. For training seeds together: each seed's
  convolutions are then the ones it computes alone."""
  token = _PER_SEED.set(True)
  try:
    yield
  finally:
    _PER_SEED.reset(token)


def _looped(fn):
  """`fn(*arrays)` whose `jax.vmap` runs `fn` once per slice of the mapped
  axis and stacks the results."""
  looped = jax.custom_batching.custom_vmap(fn)

  @looped.def_vmap
  def rule(axis_size, in_batched, *args):
    outs = [fn(*(a[i] if batched else a
                 for a, batched in zip(args, in_batched, strict=True)))
            for i in range(axis_size)]
    return jnp.stack(outs), True

  return looped


def _per_seed_conv(conv):
  """`conv(x, w)` with a custom VJP whose forward and both gradients are
  `_looped`, so vmap never batches a kernel."""
  def input_grad(x, w, g):
    return jax.vjp(lambda x_: conv(x_, w), x)[1](g)[0]

  def kernel_grad(x, w, g):
    return jax.vjp(lambda w_: conv(x, w_), w)[1](g)[0]

  forward = _looped(conv)
  input_grad, kernel_grad = _looped(input_grad), _looped(kernel_grad)

  @jax.custom_vjp
  def f(x, w):
    return forward(x, w)

  def f_fwd(x, w):
    return forward(x, w), (x, w)

  def f_bwd(residuals, g):
    x, w = residuals
    return input_grad(x, w, g), kernel_grad(x, w, g)

  f.defvjp(f_fwd, f_bwd)
  return f


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
  if use_im2col(lhs.shape[3], tuple(rhs.shape[:2]), out_pixels):
    def conv(x, w):
      return im2col_conv(x, w, window_strides, padding)
  else:
    def conv(x, w):
      return lax.conv_general_dilated(
          x, w, window_strides, padding, dimension_numbers=dimension_numbers,
          precision=precision, preferred_element_type=preferred_element_type)
  if _PER_SEED.get():
    return _per_seed_conv(conv)(lhs, rhs)
  return conv(lhs, rhs)
