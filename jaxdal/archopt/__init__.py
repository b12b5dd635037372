"""Architecture optimisation: variational architecture posteriors, a
discrete search (PDARTS) and, for comparison, fixed CNNs.

`METHODS` is a `Registry` of `MethodSpec(make, describe, draw)`; `build`
instantiates one as a `Method` (one network) or a `SearchMethod`.
"""

from collections.abc import Callable

from jaxdal.archopt import (
    bbdropout,
    depth_dropout,
    mask_figure,
    pdarts,
)
from jaxdal.archopt.base import (
    Method,
    MethodSpec,
    SearchMethod,
    default_network,
    describe_filters,
    fixed,
    two_group_optimizer,
)
from jaxdal.lazy import lazy_module
from jaxdal.models.cnn import CNN
from jaxdal.registry import Registry, check_arguments

# distrax (and TensorFlow Probability under it) loads on first use.
distributions = lazy_module("jaxdal.archopt.distributions")


def _fixed_cnn(depth: int) -> Callable[..., Method]:
  def make(num_classes: int, *, width: int = 64, norm: str = "batch",
           dropout_rate: float = 0.3) -> Method:
    model = CNN(num_classes=num_classes, depth=depth, width=width,
                dropout_rate=dropout_rate, norm=norm)
    return fixed(model, {"depth": depth, "active_filters": [width] * depth,
                         "filters": width})

  make.__doc__ = (f"The fixed {depth}-layer CNN (Depth-Dropout's network "
                  f"with depth {depth} and no masks).")
  return make


def _check(entry) -> None:
  if not isinstance(entry, MethodSpec):
    raise TypeError(f"register needs a MethodSpec, got "
                    f"{type(entry).__name__}")


METHODS: Registry[MethodSpec] = Registry("method", _check)
METHODS.register("bbdropout", MethodSpec(bbdropout.make,
                                         draw=mask_figure.draw))
METHODS.register("depth_dropout", MethodSpec(depth_dropout.make,
                                             draw=mask_figure.draw))
METHODS.register("pdarts", pdarts.SPEC)
for _depth in (1, 5, 9):
  METHODS.register(f"cnn{_depth}", MethodSpec(_fixed_cnn(_depth)))

MODES = ("joint", "spo", "upo")


def register(name: str, make: Callable, *,
             describe: Callable[[dict | None], str] = describe_filters,
             draw: Callable | None = None,
             replace: bool = False) -> MethodSpec:
  """Registers a method: `make(num_classes, **kwargs) -> Method |
  SearchMethod`, with how to describe and draw its summaries. The same
  again is a no-op; a different one under a taken name needs
  `replace=True`."""
  return METHODS.register(name, MethodSpec(make, describe, draw),
                          replace=replace)


def names() -> list[str]:
  """Registered method names, sorted."""
  return METHODS.names()


def get(name: str) -> MethodSpec:
  """The `MethodSpec` called `name`; ValueError listing valid names."""
  return METHODS.get(name)


def build(name: str, num_classes: int, **kwargs) -> Method | SearchMethod:
  """Instantiates method `name` for `num_classes` classes."""
  make = METHODS.get(name).make
  check_arguments("method", name, make, kwargs)
  try:
    return make(num_classes, **kwargs)
  except TypeError as e:
    raise ValueError(f"bad arguments {kwargs} for method {name!r}: {e}") \
        from None


__all__ = ["METHODS", "MODES", "Method", "MethodSpec", "SearchMethod",
           "bbdropout", "build", "default_network", "depth_dropout",
           "describe_filters",
           "distributions", "fixed", "get", "names", "pdarts", "register",
           "two_group_optimizer"]
