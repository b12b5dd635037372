"""A multilayer perceptron: the paper's toy networks, and a baseline for
images (flattened)."""

from collections.abc import Sequence

import flax.linen as nn
import jax

from jaxdal.models.cnn import classifier_dropout

__all__ = ["ACTIVATIONS", "MLP"]

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jax.numpy.tanh}


class MLP(nn.Module):
  """`hidden` layers; features = the last hidden layer's output.

  The defaults suit images (two ReLU layers of 512 and 256 units, dropout
  0.3 before the classifier, as the CNNs); the toy passes its own tiny
  tanh networks, e.g. `hidden=(4, 2), activation="tanh"`.

  Attributes:
    num_classes: C.
    hidden: widths of the hidden layers.
    activation: "relu" or "tanh".
    dropout_rate: dropout before the classifier.
  """
  num_classes: int
  hidden: Sequence[int] = (512, 256)
  activation: str = "relu"
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"unknown activation {self.activation!r}; valid: "
                       f"{', '.join(ACTIVATIONS)}")
    act = ACTIVATIONS[self.activation]
    h = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden):
      h = act(nn.Dense(width, name=f"hidden_{i}")(h))
    features = h
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features
