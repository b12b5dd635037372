"""ResNet-18/34/50 with a CIFAR stem (3x3 convolution, no max-pool).

Basic blocks 2-2-2-2 (18) and 3-4-6-3 (34), bottlenecks 3-4-6-3 (50),
widths 64-128-256-512; global average pooling gives the features (512, or
2048 for ResNet-50), then dropout (so MC-dropout BALD is not degenerate)
and the classifier. Works for any input size >= 8 and any channel count.
"""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdal.models.cnn import classifier_dropout
from jaxdal.models.conv import matmul_conv

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ResNet18", "ResNet34",
           "ResNet50"]

_conv = functools.partial(nn.Conv, use_bias=False, padding="SAME",
                          conv_general_dilated=matmul_conv)


def _bn(train: bool):
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5)


class BasicBlock(nn.Module):
  width: int
  stride: int = 1

  @nn.compact
  def __call__(self, x, *, train: bool):
    out = _conv(self.width, (3, 3), strides=self.stride)(x)
    out = nn.relu(_bn(train)(out))
    out = _bn(train)(_conv(self.width, (3, 3))(out))
    if self.stride != 1 or x.shape[-1] != self.width:
      x = _bn(train)(_conv(self.width, (1, 1), strides=self.stride)(x))
    return nn.relu(out + x)


class Bottleneck(nn.Module):
  width: int
  stride: int = 1
  expansion: int = 4

  @nn.compact
  def __call__(self, x, *, train: bool):
    out = nn.relu(_bn(train)(_conv(self.width, (1, 1))(x)))
    out = _conv(self.width, (3, 3), strides=self.stride)(out)
    out = nn.relu(_bn(train)(out))
    out = _bn(train)(_conv(self.width * self.expansion, (1, 1))(out))
    if self.stride != 1 or x.shape[-1] != self.width * self.expansion:
      x = _bn(train)(_conv(self.width * self.expansion, (1, 1),
                           strides=self.stride)(x))
    return nn.relu(out + x)


class ResNet(nn.Module):
  """`(logits [B, C], features [B, D])`, D = last width x expansion."""
  num_classes: int
  stage_sizes: Sequence[int] = (2, 2, 2, 2)
  widths: Sequence[int] = (64, 128, 256, 512)
  bottleneck: bool = False
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    block = Bottleneck if self.bottleneck else BasicBlock
    h = nn.relu(_bn(train)(_conv(self.widths[0], (3, 3))(x)))
    for stage, (n, width) in enumerate(zip(self.stage_sizes, self.widths,
                                           strict=True)):
      for i in range(n):
        stride = 2 if stage > 0 and i == 0 else 1
        h = block(width, stride)(h, train=train)
    features = jnp.mean(h, axis=(1, 2))
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2))
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3))
ResNet50 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3),
                             bottleneck=True)
