"""What an architecture-optimisation method (or a fixed baseline) gives the
loop: a small bundle of pure pieces, of one of two kinds.

- `Method`: one network, built once. A fixed architecture (a backbone, the
  CNNs 1/5/9) or one whose architecture posterior trains with its weights
  (BBDropout's gates, Depth-Dropout's structure).
- `SearchMethod`: a discrete search (PDARTS) that finds an architecture on
  data and then trains the `Method` it adopts.

A registered method also says how to describe its architecture summary on
the console and how to draw it (`MethodSpec`), so the loop and the plots
never name a method-specific key.
"""

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import optax

from jaxdal import losses, optim

__all__ = ["Method", "MethodSpec", "SearchMethod", "default_network",
           "describe_filters", "fixed", "is_arch_path",
           "two_group_optimizer"]


class Method(NamedTuple):
  """One network with its loss, optimiser and architecture summary.

  Attributes:
    model: Linen module, `__call__(x, *, train, mc) -> (logits, features)`.
    loss: `(params, model_state, x, y, weights, key, n_train) ->
      (loss, aux)`: data term + KL / N (`aux` holds "logits",
      "model_state", "kl").
    optimizer: `(learning_rate, train_arch) -> GradientTransformation`
      with an injectable "learning_rate" (the loop anneals it).
      `train_arch=False` freezes the architecture parameters.
    architecture: `variables -> dict | None` (JSON-able): the inferred
      architecture, e.g. active filters per layer or depth; None when
      there is nothing to report (a plain backbone).
    optimises_architecture: True when the network has architecture
      parameters (so the modes SPO/UPO and `train_arch` mean something).
  """
  model: nn.Module
  loss: Callable
  optimizer: Callable
  architecture: Callable
  optimises_architecture: bool = False


class SearchMethod(NamedTuple):
  """A method that searches a discrete architecture, then trains it.

  Attributes:
    default: the `Method` trained before any search (and with
      `--notrain_arch`).
    search: `(x_weights, y_weights, x_arch, y_arch, key, progress) ->
      found`, a JSON-able dict of what the search found (saved in the
      workdir, so a resumed run never searches twice).
    adopt: `found -> Method`, the fixed network of a found architecture.
    identity: `found -> str`, equal for equal architectures (networks
      are built, and compiled, once per identity).
    info: `found -> dict`, what a round's record keeps of the search
      (accuracies, time), without the architecture itself.
  """
  default: Method
  search: Callable
  adopt: Callable
  identity: Callable
  info: Callable


def default_network(method: "Method | SearchMethod") -> Method:
  """The network a method trains before any search: a `SearchMethod`'s
  `default`, or the `Method` itself."""
  return method.default if isinstance(method, SearchMethod) else method


def describe_filters(arch: dict | None) -> str:
  """Console text of a depth / active-filters summary (`""` for None):
  `depth 4.33; active filters per layer [32 30 ...] of 32`."""
  if not arch:
    return ""
  parts = []
  if "depth" in arch:
    parts.append(f"depth {arch['depth']:.2f}")
  if "active_filters" in arch:
    filters = " ".join(f"{v:g}" for v in arch["active_filters"])
    parts.append(f"active filters per layer [{filters}] of "
                 f"{arch.get('filters', '?')}")
  return "; ".join(parts)


class MethodSpec(NamedTuple):
  """A registry entry: how to build a method and show its architecture.

  Attributes:
    make: `(num_classes, **kwargs) -> Method | SearchMethod`.
    describe: `summary -> str`, one console line of an `architecture`
      summary (`""` for nothing to say).
    draw: `(config, records, out) -> str | None`: a figure of the
      architecture over the rounds at `out` (a PNG path), or None when
      there is nothing to draw; None for methods without a figure.
  """
  make: Callable
  describe: Callable[[dict | None], str] = describe_filters
  draw: Callable | None = None


def is_arch_path(path, arch_names: tuple[str, ...]) -> bool:
  """True if a parameter path ends in one of `arch_names`."""
  last = path[-1]
  name = getattr(last, "key", getattr(last, "name", str(last)))
  return name in arch_names


def two_group_optimizer(*, arch_names: tuple[str, ...], base: Callable,
                        arch: Callable, train_arch: bool,
                        learning_rate: float) -> optax.GradientTransformation:
  """Separate optimisers for architecture and base parameters.

  `base(lr)` and `arch(lr)` build each group's transformation from the
  injected learning rate; with `train_arch=False` the architecture group
  gets zero updates.
  """
  def build(learning_rate):
    def labels(params):
      return jax.tree_util.tree_map_with_path(
          lambda p, _: "arch" if is_arch_path(p, arch_names) else "base",
          params)

    arch_tx = arch(learning_rate) if train_arch else optax.set_to_zero()
    return optax.multi_transform({"base": base(learning_rate),
                                  "arch": arch_tx}, labels)

  return optax.inject_hyperparams(build)(learning_rate=learning_rate)


def fixed(model: nn.Module, summary: dict | None = None, *,
          optimizer: str = "adam", momentum: float = 0.9,
          weight_decay: float = 0.0) -> Method:
  """A network with a fixed architecture: cross-entropy, one optimiser.

  `summary` is what `architecture` reports (None for plain backbones).
  """
  def make_tx(learning_rate, train_arch=True):
    del train_arch
    return optim.make_optimizer(optimizer, learning_rate=learning_rate,
                                momentum=momentum, weight_decay=weight_decay)

  return Method(model=model, loss=losses.cross_entropy_loss(model),
                optimizer=make_tx,
                architecture=lambda variables: (
                    None if summary is None else dict(summary)))
