"""VGG-11/16/19 (configurations A, D, E) with BatchNorm, then FC 4096,
FC 4096, FC 1000 and the classifier (the paper's Appendix B).

Max-pooling stops once the map is 1x1 (so 28x28 inputs work too) and the
map is averaged to a 512 vector before the fully connected layers; for
32x32 inputs that is exactly the standard network. The features are the
input of the classifier (1000-d); dropout precedes the classifier.
"""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxdal.models.cnn import classifier_dropout
from jaxdal.models.conv import matmul_conv

__all__ = ["CONFIGS", "VGG", "VGG11", "VGG16", "VGG19"]

CONFIGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512,
          512, "M", 512, 512, 512, 512, "M"),
}


class VGG(nn.Module):
  """`(logits [B, C], features [B, fc[-1]])`."""
  num_classes: int
  config: str | Sequence = "A"
  fc: Sequence[int] = (4096, 4096, 1000)
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    layers = CONFIGS[self.config] if isinstance(self.config, str) \
        else self.config
    h = x
    for v in layers:
      if v == "M":
        if h.shape[1] >= 2 and h.shape[2] >= 2:
          h = nn.max_pool(h, (2, 2), strides=(2, 2))
      else:
        h = nn.Conv(v, (3, 3), padding="SAME",
                    conv_general_dilated=matmul_conv)(h)
        h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9,
                                 epsilon=1e-5)(h))
    h = jnp.mean(h, axis=(1, 2))
    for width in self.fc:
      h = nn.relu(nn.Dense(width)(h))
    features = h
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features


VGG11 = functools.partial(VGG, config="A")
VGG16 = functools.partial(VGG, config="D")
VGG19 = functools.partial(VGG, config="E")
