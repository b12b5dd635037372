"""Flip-and-crop augmentation."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.data.augment import flip_and_crop


def test_each_output_is_a_shifted_maybe_flipped_window():
  images = jax.random.normal(jax.random.key(0), (64, 8, 8, 2))
  out = np.asarray(flip_and_crop(jax.random.key(1), images, pad=2))
  assert out.shape == images.shape
  flips = 0
  for img, aug in zip(np.asarray(images), out, strict=True):
    padded = {f: np.pad(src, ((2, 2), (2, 2), (0, 0)))
              for f, src in ((0, img), (1, img[:, ::-1]))}
    matches = [(f, dy, dx) for f in (0, 1) for dy in range(5)
               for dx in range(5)
               if np.array_equal(padded[f][dy:dy + 8, dx:dx + 8], aug)]
    assert matches, "output is not a crop of the (flipped) padded image"
    flips += matches[0][0]
  assert 16 <= flips <= 48  # about half are flipped


def test_keyed():
  images = jnp.arange(2 * 6 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 6, 1)
  a = flip_and_crop(jax.random.key(3), images)
  np.testing.assert_array_equal(a, flip_and_crop(jax.random.key(3), images))
  assert not np.array_equal(a, flip_and_crop(jax.random.key(4), images))
