"""models/conv.py: im2col convolution equals lax.conv_general_dilated."""

import flax.linen as nn
import jax
import numpy as np
import pytest
from jax import lax

from jaxdal.models import conv


@pytest.mark.parametrize("shape,kernel,strides,padding", [
    ((2, 9, 9, 3), (3, 3), (1, 1), "SAME"),
    ((2, 8, 8, 2), (5, 5), (1, 1), ((1, 1), (1, 1))),
    ((2, 8, 8, 20), (3, 3), (2, 2), "SAME"),
    ((2, 8, 8, 20), (1, 1), (2, 2), "VALID"),
    ((2, 2, 2, 24), (3, 3), (1, 1), "SAME"),
    ((2, 7, 7, 4), (3, 3), (2, 2), ((1, 1), (1, 1))),
])
def test_im2col_equals_lax_with_gradients(shape, kernel, strides, padding):
  x = jax.random.normal(jax.random.key(0), shape)
  w = jax.random.normal(jax.random.key(1), (*kernel, shape[-1], 6))
  dn = lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))

  def loss(fn):
    return lambda x, w: (fn(x, w, strides, padding, dimension_numbers=dn)
                         ** 2).sum()

  pads = (padding if not isinstance(padding, str) else lax.padtype_to_pads(
      shape[1:3], kernel, strides, padding))
  # Jitted: one compilation each, not one per eager slice.
  np.testing.assert_allclose(
      jax.jit(lambda x, w: conv.im2col_conv(x, w, strides, pads))(x, w),
      lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn),
      rtol=1e-5, atol=1e-5)
  got = jax.jit(jax.grad(loss(conv.matmul_conv), argnums=(0, 1)))(x, w)
  want = jax.grad(loss(lax.conv_general_dilated), argnums=(0, 1))(x, w)
  for a, b in zip(got, want, strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_grouped_convolutions_fall_through_to_lax():
  x = jax.random.normal(jax.random.key(0), (2, 6, 6, 4))
  layer = nn.Conv(4, (3, 3), feature_group_count=4,
                  conv_general_dilated=conv.matmul_conv)
  plain = nn.Conv(4, (3, 3), feature_group_count=4)
  v = plain.init(jax.random.key(1), x)
  np.testing.assert_array_equal(layer.apply(v, x), plain.apply(v, x))


def test_im2col_is_used_where_it_is_faster():
  assert conv.use_im2col(512, (3, 3), 4)     # deep layer, 2x2 map
  assert conv.use_im2col(128, (1, 1), 64)    # 1x1 shortcut
  assert conv.use_im2col(3, (3, 3), 1024)    # stem
  assert not conv.use_im2col(64, (3, 3), 1024)


def test_per_seed_convolutions_under_vmap_equal_plain_vmap():
  # Forward and both gradients of a conv layer vmapped over (x, kernel):
  # a loop of ordinary convolutions equals XLA's grouped-convolution form.
  layer = nn.Conv(5, (3, 3), padding="SAME",
                  conv_general_dilated=conv.matmul_conv)
  x = jax.random.normal(jax.random.key(0), (3, 2, 9, 9, 24))
  params = jax.vmap(lambda k: layer.init(k, x[0]))(
      jax.random.split(jax.random.key(1), 3))

  def grads(params, x):
    return jax.grad(lambda p, x: (layer.apply(p, x) ** 3).sum(),
                    argnums=(0, 1))(params, x)

  def looped(params, x):
    with conv.per_seed_convolutions():
      return jax.vmap(grads)(params, x)

  want = jax.vmap(grads)(params, x)
  got = jax.jit(looped)(params, x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
