"""A model's fresh variables: `model.init` as one compiled program per
model (op by op it compiles every operation), optionally compiled in a
background thread while a run opens (`warm_init`). The values equal the
op-by-op init's.
"""

import contextlib
import threading

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxdal.models.rngs import rngs_for

__all__ = ["init_variables", "warm_init"]

# id(model) -> (model, its jitted init, the thread compiling it or None):
# compiled once per model; the newest few kept (a search adopts a network
# per architecture).
_JITTED_INITS: dict = {}
_KEPT_INITS = 8


def init_variables(model: nn.Module, key: jax.Array,
                   input_shape: tuple[int, ...]) -> dict:
  """`model.init` with the rng streams of `key` for one example of
  `input_shape`, as one compiled program per model: op by op, an init
  compiles each operation (4.1 s for the quick CNN here, 1.3 s jitted;
  the values are the same). A model with an `init` of its own (a text
  encoder reading its checkpoint, an adapted module) is initialised as it
  asks, op by op."""
  x = jnp.zeros((1, *input_shape), jnp.float32)
  if type(model).init is not nn.Module.init:
    return dict(model.init({"params": key, **rngs_for(key)}, x))
  _, init, warming = _jitted_init(model)
  if warming is not None:
    warming.join()  # its compile serves this call
  return dict(init(key, x))


def _jitted_init(model: nn.Module):
  """`(model, jitted init, warming thread or None)`, cached per model."""
  entry = _JITTED_INITS.pop(id(model), None)
  if entry is None or entry[0] is not model:
    entry = (model, jax.jit(
        lambda k, x: model.init({"params": k, **rngs_for(k)}, x)), None)
  _JITTED_INITS[id(model)] = entry  # the newest last
  while len(_JITTED_INITS) > _KEPT_INITS:
    del _JITTED_INITS[next(iter(_JITTED_INITS))]
  return entry


def warm_init(model: nn.Module, input_shape: tuple[int, ...]) -> None:
  """Compiles `model`'s init (`init_variables`) in a background thread,
  while a run loads its pool and prepares its workdir; the first
  `init_variables` of `model` waits for it. Same program, same values."""
  if type(model).init is not nn.Module.init:
    return
  _, init, warming = _jitted_init(model)
  if warming is not None:
    return
  x = jnp.zeros((1, *input_shape), jnp.float32)

  def compile_it():
    # A failure surfaces in the caller's own call, which compiles again.
    with contextlib.suppress(Exception):
      jax.block_until_ready(init(jax.random.key(0), x))

  # Not a daemon: a process that stops early (a bad flag) waits for the
  # compile to end instead of aborting inside XLA at exit.
  thread = threading.Thread(target=compile_it, daemon=False)
  _JITTED_INITS[id(model)] = (model, init, thread)
  thread.start()
