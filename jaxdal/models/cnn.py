"""A plain residual CNN of configurable depth and width.

Layout (the Depth-Dropout CNN of the architecture spec, with fixed depth and
no masks): a 5x5 stem convolution with 2x2 average pooling, `depth - 1`
residual 3x3 blocks, global average pooling, a residual MLP block whose output
is the feature vector, dropout, and the linear classifier.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdal.models.conv import matmul_conv

__all__ = ["CNN", "ResidualBody", "apply_norm", "classifier_dropout", "leaky",
           "make_norm"]


def make_norm(kind: str, name: str | None = None) -> nn.Module:
  """BatchNorm (torch's momentum 0.1, eps 1e-5) or GroupNorm(1, C)."""
  if kind == "batch":
    return nn.BatchNorm(momentum=0.9, epsilon=1e-5, name=name)
  if kind == "group":
    return nn.GroupNorm(num_groups=1, epsilon=1e-5, name=name)
  raise ValueError(f"unknown norm {kind!r}; valid: batch, group")


def apply_norm(norm: nn.Module, x, *, train: bool):
  if isinstance(norm, nn.BatchNorm):
    return norm(x, use_running_average=not train)
  return norm(x)


def leaky(h):
  return nn.leaky_relu(h, 0.01)


def classifier_dropout(rate: float, x: jax.Array, *, train: bool,
                       mc: bool) -> jax.Array:
  """Dropout before the classifier.

  In training every example gets its own mask; in MC mode (`mc=True`,
  `train=False`) one mask is shared by the whole batch, so a sample's mask
  depends only on its key, never on chunk size or pool order.
  """
  if not (train or mc) or rate == 0.0:
    return x
  broadcast = () if train else (0,)
  return nn.Dropout(rate, broadcast_dims=broadcast, deterministic=False)(x)


def _channel_mask(masks, layer: int):
  """Layer `layer`'s channel mask of `masks` `[M, K]` (one for the batch)
  or `[B, M, K]` (one per example), shaped to multiply `[B, H, W, M]`."""
  m = masks[..., layer]
  return m if m.ndim == 1 else m[:, None, None, :]


class ResidualBody(nn.Module):
  """Everything of the residual CNN up to the feature vector.

  Layer 0: 5x5 convolution (padding 1) -> LeakyReLU -> norm -> 2x2 average
  pool. Layer l > 0: `h + active_l * (norm(LeakyReLU(conv3x3(h))) * z_l)`.
  Then global average pooling and the residual head block
  `g + norm(LeakyReLU(dense(g)))`, whose output is the feature vector.
  `masks` `[width, depth]` (or `[B, width, depth]`, one per example) and
  `threshold` are Depth-Dropout's (None: all
  ones, all layers); the layers are built once, so several structure
  samples share them.
  """
  width: int
  depth: int
  norm: str = "batch"

  def setup(self):
    self.convs = [nn.Conv(self.width, (5, 5), padding=((1, 1), (1, 1)),
                          use_bias=False, conv_general_dilated=matmul_conv)
                  ] + [
        nn.Conv(self.width, (3, 3), padding="SAME", use_bias=False,
                conv_general_dilated=matmul_conv)
        for _ in range(self.depth - 1)]
    self.norms = [make_norm(self.norm) for _ in range(self.depth)]
    self.mlp = nn.Dense(self.width)
    self.mlp_norm = make_norm(self.norm)

  def __call__(self, x, *, train: bool = False, masks=None, threshold=None):
    h = apply_norm(self.norms[0], leaky(self.convs[0](x)), train=train)
    h = nn.avg_pool(h, (2, 2), strides=(2, 2))
    if masks is not None:
      h = h * _channel_mask(masks, 0)
    for layer in range(1, self.depth):
      out = apply_norm(self.norms[layer], leaky(self.convs[layer](h)),
                       train=train)
      if masks is not None:
        out = out * _channel_mask(masks, layer)
      if threshold is not None:
        out = out * jnp.asarray(layer < threshold, out.dtype)
      h = h + out
    g = jnp.mean(h, axis=(1, 2))
    return g + apply_norm(self.mlp_norm, leaky(self.mlp(g)), train=train)


class CNN(nn.Module):
  """Residual CNN returning `(logits [B, C], features [B, width])`.

  Attributes:
    num_classes: C.
    depth: number of convolutional layers (>= 1).
    width: channels of every convolution, and the feature dimension D.
    dropout_rate: dropout before the classifier.
    norm: "batch" (BatchNorm, running stats outside training) or "group".
  """
  num_classes: int
  depth: int = 3
  width: int = 32
  dropout_rate: float = 0.3
  norm: str = "batch"

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    if self.depth < 1:
      raise ValueError(f"depth must be >= 1, got {self.depth}")
    features = ResidualBody(self.width, self.depth, self.norm,
                            name="body")(x, train=train)
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features
