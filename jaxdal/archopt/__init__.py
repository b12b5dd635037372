"""Architecture optimisation: variational architecture posteriors (and,
for comparison, fixed CNNs). `METHODS` maps a name to
`make(num_classes, **kwargs) -> Bundle`."""

from collections.abc import Callable

from jaxdal.archopt import bbdropout, depth_dropout, distributions, pdarts
from jaxdal.archopt.base import Bundle, fixed_bundle
from jaxdal.models.cnn import CNN


def _fixed_cnn(depth: int) -> Callable[..., Bundle]:
  def make(num_classes: int, *, width: int = 64, norm: str = "batch",
           dropout_rate: float = 0.3) -> Bundle:
    model = CNN(num_classes=num_classes, depth=depth, width=width,
                dropout_rate=dropout_rate, norm=norm)
    return fixed_bundle(model, {"depth": depth,
                                "active_filters": [width] * depth,
                                "filters": width})

  make.__doc__ = (f"The fixed {depth}-layer CNN (Depth-Dropout's network "
                  f"with depth {depth} and no masks).")
  return make


METHODS: dict[str, Callable[..., Bundle]] = {
    "bbdropout": bbdropout.make,
    "depth_dropout": depth_dropout.make,
    "pdarts": pdarts.make,
    "cnn1": _fixed_cnn(1),
    "cnn5": _fixed_cnn(5),
    "cnn9": _fixed_cnn(9),
}

MODES = ("joint", "spo", "upo")


def names() -> list[str]:
  """Registered method names, sorted."""
  return sorted(METHODS)


def get(name: str) -> Callable[..., Bundle]:
  """The factory called `name`; ValueError listing valid names if none."""
  try:
    return METHODS[name]
  except KeyError:
    raise ValueError(
        f"unknown method {name!r}; valid: {', '.join(names())}") from None


def build(name: str, num_classes: int, **kwargs) -> Bundle:
  """Instantiates method `name` for `num_classes` classes."""
  try:
    return get(name)(num_classes, **kwargs)
  except TypeError as e:
    raise ValueError(f"bad arguments {kwargs} for method {name!r}: {e}") \
        from None


__all__ = ["METHODS", "MODES", "Bundle", "bbdropout", "build",
           "depth_dropout", "distributions", "get", "names", "pdarts"]
