"""Backbones: Linen modules, `__call__(x, *, train, mc) -> (logits, features)`.

Contract: the last layer is a Dense named "classifier" whose input is
`features`; BADGE's gradient embedding and pretraining rely on that name.

`BACKBONES` maps a name to a constructor `(num_classes, **kwargs) -> Module`.
"""

from collections.abc import Callable

import flax.linen as nn

from jaxdal.models.cnn import CNN, classifier_dropout
from jaxdal.models.mlp import MLP
from jaxdal.models.resnet import ResNet, ResNet18, ResNet34, ResNet50
from jaxdal.models.vgg import VGG, VGG11, VGG16, VGG19

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "cnn": CNN,
    "mlp": MLP,
    "resnet18": ResNet18,
    "resnet34": ResNet34,
    "resnet50": ResNet50,
    "vgg11": VGG11,
    "vgg16": VGG16,
    "vgg19": VGG19,
}


def names() -> list[str]:
  """Registered backbone names, sorted."""
  return sorted(BACKBONES)


def get(name: str) -> Callable[..., nn.Module]:
  """The constructor called `name`; ValueError listing valid names if none."""
  try:
    return BACKBONES[name]
  except KeyError:
    raise ValueError(
        f"unknown backbone {name!r}; valid: {', '.join(names())}") from None


def register(name: str, constructor: Callable[..., nn.Module]) -> None:
  """Adds a backbone constructor; refuses to replace an existing entry."""
  if name in BACKBONES:
    raise ValueError(f"backbone {name!r} is already registered")
  BACKBONES[name] = constructor


def build(name: str, num_classes: int, **kwargs) -> nn.Module:
  """Instantiates backbone `name` for `num_classes` classes."""
  return get(name)(num_classes=num_classes, **kwargs)


__all__ = ["BACKBONES", "CNN", "MLP", "VGG", "ResNet", "build",
           "classifier_dropout", "get", "names", "register"]
