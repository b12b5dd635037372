"""What every architecture-optimisation method (and fixed baseline) gives
the loop: a small bundle of pure pieces."""

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdal import train as train_lib


class Bundle(NamedTuple):
  """A method instantiated for a task.

  Attributes:
    model: Linen module, `__call__(x, *, train, mc) -> (logits, features)`.
    loss: `(params, model_state, x, y, weights, key, n_train) ->
      (loss, aux)`: data term + KL / N (`aux` holds "logits",
      "model_state", "kl").
    optimizer: `(learning_rate, train_arch) -> GradientTransformation`
      with an injectable "learning_rate" (the loop anneals it).
      `train_arch=False` freezes the architecture parameters.
    architecture: `variables -> dict` (JSON-able): the inferred
      architecture, e.g. active filters per layer, depth, genotype.
    searchable: False for fixed baselines, which have no modes.
    search: for discrete searches (PDARTS), `(x_weights, y_weights,
      x_arch, y_arch, key, progress) -> dict`: the JSON-able architecture
      found on the given data; None when the architecture is trained with
      the weights (BBDropout, Depth-Dropout).
    adopt: with `search`, `found -> Bundle`: the fixed bundle of a found
      architecture (this bundle's own model is the method's default).
  """
  model: nn.Module
  loss: Callable
  optimizer: Callable
  architecture: Callable
  searchable: bool = True
  search: Callable | None = None
  adopt: Callable | None = None


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


def weighted_ce(logits, y, weights):
  """Mean cross-entropy over real rows; logits `[..., B, C]`, y `[B]`."""
  ce = optax.softmax_cross_entropy_with_integer_labels(
      logits, jnp.broadcast_to(y, logits.shape[:-1]))
  w = jnp.broadcast_to(weights, ce.shape)
  return (ce * w).sum() / jnp.maximum(w.sum(), 1.0)


def fixed_bundle(model: nn.Module, summary: dict | None, *,
                 optimizer: str = "adam", momentum: float = 0.9,
                 weight_decay: float = 0.0) -> Bundle:
  """A network with a fixed architecture: cross-entropy, one optimiser.

  `summary` is what `architecture` reports (None for plain backbones).
  """
  def make_tx(learning_rate, train_arch=True):
    del train_arch
    return train_lib.make_optimizer(optimizer, learning_rate=learning_rate,
                                    momentum=momentum,
                                    weight_decay=weight_decay)

  def loss(params, model_state, x, y, weights, key, n_train):
    value, aux = train_lib.cross_entropy_loss(model)(
        params, model_state, x, y, weights, key, n_train)
    return value, {**aux, "kl": jnp.zeros(())}

  return Bundle(model=model, loss=loss, optimizer=make_tx,
                architecture=lambda variables: (
                    None if summary is None else dict(summary)),
                searchable=False)
