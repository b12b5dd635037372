"""Image augmentation on a batch, in JAX: random horizontal flip and random
crop after 4-pixel zero padding. Keyed, so runs reproduce exactly."""

import jax
import jax.numpy as jnp

__all__ = ["flip_and_crop"]


def flip_and_crop(key: jax.Array, images: jax.Array, *,
                  pad: int = 4) -> jax.Array:
  """Augments `[B, H, W, C]` images; example i uses `fold_in(key, i)`.

  Each image is flipped left-right with probability 1/2, zero-padded by
  `pad` pixels on every side and cropped back to `H x W` at a uniformly
  random offset in `[0, 2 * pad]^2`.
  """
  b, h, w, _ = images.shape

  def one(i, image):
    k_flip, k_y, k_x = jax.random.split(jax.random.fold_in(key, i), 3)
    image = jnp.where(jax.random.bernoulli(k_flip), image[:, ::-1], image)
    padded = jnp.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    dy = jax.random.randint(k_y, (), 0, 2 * pad + 1)
    dx = jax.random.randint(k_x, (), 0, 2 * pad + 1)
    return jax.lax.dynamic_slice(padded, (dy, dx, 0),
                                 (h, w, image.shape[-1]))

  return jax.vmap(one)(jnp.arange(b), images)
