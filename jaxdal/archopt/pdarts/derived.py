"""The PDARTS evaluation network of a genotype (the official `model.py`,
without the auxiliary head and drop-path)."""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdal.archopt.pdarts.genotype import Genotype
from jaxdal.archopt.pdarts.ops import (
    PRIMITIVES,
    FactorizedReduce,
    Operation,
    ReLUConvBN,
)
from jaxdal.archopt.pdarts.supernet import STEPS, cell_plan, stem
from jaxdal.models.cnn import classifier_dropout

__all__ = ["DerivedCell", "DerivedNetwork"]


class DerivedCell(nn.Module):
  """A cell compiled from a genotype: node i = op1(h_a) + op2(h_b)."""
  channels: int
  reduction: bool
  reduction_prev: bool
  ops: Sequence[tuple[str, int]]

  @nn.compact
  def __call__(self, s0, s1, *, train: bool):
    if self.reduction_prev:
      s0 = FactorizedReduce(self.channels, affine=True)(s0, train=train)
    else:
      s0 = ReLUConvBN(self.channels, affine=True)(s0, train=train)
    s1 = ReLUConvBN(self.channels, affine=True)(s1, train=train)
    states = [s0, s1]
    for node in range(STEPS):
      total = 0.0
      for name, j in self.ops[2 * node:2 * node + 2]:
        stride = 2 if self.reduction and j < 2 else 1
        total = total + Operation(PRIMITIVES.index(name), self.channels,
                                  stride, affine=True)(states[j], train=train)
      states.append(total)
    return jnp.concatenate(states[-STEPS:], axis=-1)


class DerivedNetwork(nn.Module):
  """The evaluation network of a genotype (no auxiliary head, no
  drop-path): stem, `layers` derived cells with reductions at L//3 and
  2L//3, global average pooling (features), classifier."""
  num_classes: int
  genotype: Genotype
  channels: int = 16
  layers: int = 8
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    s0 = s1 = stem(self.channels, x, train=train)
    for c, reduction, reduction_prev in cell_plan(self.channels,
                                                  self.layers):
      ops = self.genotype.reduce if reduction else self.genotype.normal
      s0, s1 = s1, DerivedCell(c, reduction, reduction_prev,
                               tuple(map(tuple, ops)))(s0, s1, train=train)
    features = jnp.mean(s1, axis=(1, 2))
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features
