"""Backbones: Linen modules, `__call__(x, *, train, mc) -> (logits, features)`.

Contract: the last layer is a Dense named "classifier" whose input is
`features`; BADGE's gradient embedding and pretraining rely on that name.

`BACKBONES` maps a name to a constructor `(num_classes, **kwargs) -> Module`.
Models are applied with the rng streams `rngs_for(key)` (`models/rngs.py`).
"""

from collections.abc import Callable

import flax.linen as nn

from jaxdal.models.cnn import CNN, classifier_dropout
from jaxdal.models.mlp import MLP
from jaxdal.models.resnet import ResNet, ResNet18, ResNet34, ResNet50
from jaxdal.models.rngs import rngs_for
from jaxdal.models.transformer import (
    TextClassifier,
    bert,
    distilbert,
    load_pretrained,
    minilm,
    random_encoder,
    roberta,
)
from jaxdal.models.vgg import VGG, VGG11, VGG16, VGG19
from jaxdal.registry import Registry, check_arguments

BACKBONES: Registry[Callable[..., nn.Module]] = Registry("backbone")
BACKBONES.register("cnn", CNN)
BACKBONES.register("mlp", MLP)
BACKBONES.register("resnet18", ResNet18)
BACKBONES.register("resnet34", ResNet34)
BACKBONES.register("resnet50", ResNet50)
BACKBONES.register("vgg11", VGG11)
BACKBONES.register("vgg16", VGG16)
BACKBONES.register("vgg19", VGG19)
# Text encoders over packed tokens [B, 3, L] (models/transformer.py).
BACKBONES.register("transformer", random_encoder)
BACKBONES.register("minilm", minilm)
BACKBONES.register("bert", bert)
BACKBONES.register("distilbert", distilbert)
BACKBONES.register("roberta", roberta)


def names() -> list[str]:
  """Registered backbone names, sorted."""
  return BACKBONES.names()


def get(name: str) -> Callable[..., nn.Module]:
  """The constructor called `name`; ValueError listing valid names if none."""
  return BACKBONES.get(name)


def register(name: str, constructor: Callable[..., nn.Module], *,
             replace: bool = False) -> None:
  """Adds a backbone constructor `(num_classes, **kwargs) -> Module`;
  the same one again is a no-op, a different one under a taken name needs
  `replace=True`."""
  BACKBONES.register(name, constructor, replace=replace)


def build(name: str, num_classes: int, **kwargs) -> nn.Module:
  """Instantiates backbone `name` for `num_classes` classes; arguments
  are checked against its signature (`registry.check_arguments`)."""
  constructor = get(name)
  check_arguments("backbone", name, constructor, kwargs)
  return constructor(num_classes=num_classes, **kwargs)


def tokenizer_of(model: nn.Module) -> str | None:
  """Where the tokenizer of a text backbone's vocabulary comes from (a
  folder, hub id or "minilm"); None for backbones of other inputs."""
  return getattr(model, "tokenizer", None)


__all__ = ["BACKBONES", "CNN", "MLP", "VGG", "ResNet", "TextClassifier",
           "build", "classifier_dropout", "get", "load_pretrained", "names",
           "register", "rngs_for", "tokenizer_of"]
