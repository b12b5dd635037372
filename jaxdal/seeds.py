"""Several seeds of one configuration trained together: the train states are
stacked on a leading seed axis `[S, ...]` and one `jax.vmap`-ed step moves
them all (`together`, a `train.Stepper` for `train.fit_group`).

Each seed keeps its own batches, keys and stopping rule; a seed that has
stopped is frozen (`where(active, new, old)`) while the others go on, so
every seed gets what `train.fit` gives it alone, up to floating-point
rounding of the batched operations.
"""

import functools
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxdal import losses
from jaxdal import train as train_lib
from jaxdal.models.conv import per_seed_convolutions

__all__ = ["stack", "together", "unstack"]


def stack(trees: Sequence) -> object:
  """`S` pytrees of equal structure -> one pytree with leaves `[S, ...]`."""
  return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def unstack(tree, n: int) -> list:
  """Inverse of `stack`: the `n` pytrees along the leading axis."""
  return [jax.tree.map(lambda leaf, i=i: leaf[i], tree) for i in range(n)]


def together(model: nn.Module, tx: optax.GradientTransformation,
             loss_fn: Callable | None = None, *,
             augment: bool = False) -> train_lib.Stepper:
  """The `Stepper` of S stacked states: `train.make_trainer`'s steps,
  vmapped over a leading seed axis and jitted once.

  Convolutions run once per seed inside the vmapped step
  (`models.conv.per_seed_convolutions`): vmap would otherwise turn a
  convolution with a batched kernel into a grouped convolution, several
  times slower on XLA:CPU.
  """
  loss_fn = losses.cross_entropy_loss(model) if loss_fn is None else loss_fn
  step = functools.partial(train_lib.train_step, loss_fn=loss_fn, tx=tx,
                           augment=augment)

  def step_if_active(state, x_all, y_all, idx, mask, root, step_index,
                     n_train, active):
    key = jax.random.fold_in(root, step_index)
    new, out = step(state, x_all, y_all, idx, mask, key, n_train)
    new = jax.tree.map(lambda n, o: jnp.where(active, n, o), new, state)
    return new, (out["correct"], out["count"], out["loss"])

  def seeds_step(*args):
    with per_seed_convolutions():
      return jax.vmap(step_if_active,
                      in_axes=(0, None, None, 0, 0, 0, None, 0, 0))(*args)

  def seeds_eval(*args):
    with per_seed_convolutions():
      return jax.vmap(functools.partial(train_lib.eval_step, model=model),
                      in_axes=(0, None, None, 0, 0, None))(*args)

  seeds_step, seeds_eval = jax.jit(seeds_step), jax.jit(seeds_eval)

  def prepare(roots, n_train):
    return jnp.stack(roots), jnp.full((len(roots),), n_train, jnp.float32)

  def begin_epoch(stacked, lr, active):
    if lr is None:  # a plain optimiser keeps its own rate
      return stacked, jnp.asarray(active)
    # Stopped seeds keep their last learning rate, as `fit` leaves it.
    current = stacked.opt_state.hyperparams["learning_rate"]
    live = jnp.asarray(active)
    return train_lib.set_learning_rate(
        stacked, jnp.where(live, jnp.float32(lr), current)), live

  def train(stacked, x_all, y_all, idx, mask, roots, step_index, n_train,
            live):
    return seeds_step(stacked, x_all, y_all, jnp.asarray(idx),
                      jnp.asarray(mask), roots, jnp.int32(step_index),
                      n_train, live)

  return train_lib.Stepper(
      gather=stack, scatter=unstack, prepare=prepare,
      begin_epoch=begin_epoch, train=train,
      evaluate=lambda stacked, x, y, idx, mask, key: seeds_eval(
          stacked, x, y, jnp.asarray(idx), jnp.asarray(mask), key))
