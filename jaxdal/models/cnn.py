"""A plain residual CNN of configurable depth and width.

Layout (the Depth-Dropout CNN of the architecture spec, with fixed depth and
no masks): a 5x5 stem convolution with 2x2 average pooling, `depth - 1`
residual 3x3 blocks, global average pooling, a residual MLP block whose output
is the feature vector, dropout, and the linear classifier.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


def _norm(kind: str, train: bool) -> nn.Module:
  if kind == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=0.9)
  if kind == "group":
    return nn.GroupNorm(num_groups=1)
  raise ValueError(f"unknown norm {kind!r}; valid: batch, group")


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
    act = lambda h: nn.leaky_relu(h, 0.01)
    h = nn.Conv(self.width, (5, 5), padding=((1, 1), (1, 1)),
                use_bias=False)(x)
    h = _norm(self.norm, train)(act(h))
    h = nn.avg_pool(h, (2, 2), strides=(2, 2))
    for _ in range(self.depth - 1):
      branch = nn.Conv(self.width, (3, 3), padding="SAME", use_bias=False)(h)
      h = h + _norm(self.norm, train)(act(branch))
    h = jnp.mean(h, axis=(1, 2))
    features = h + _norm(self.norm, train)(act(nn.Dense(self.width)(h)))
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features
