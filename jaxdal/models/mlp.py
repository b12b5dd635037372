"""A multilayer perceptron for vector inputs (the paper's toy study)."""

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdal.models.cnn import classifier_dropout


class MLP(nn.Module):
  """`hidden` tanh layers; features = the last hidden layer's output.

  Attributes:
    num_classes: C.
    hidden: widths of the hidden layers, e.g. (4, 2).
    dropout_rate: dropout before the classifier.
  """
  num_classes: int
  hidden: Sequence[int] = (4, 2)
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    h = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden):
      h = jnp.tanh(nn.Dense(width, name=f"hidden_{i}")(h))
    features = h
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features
