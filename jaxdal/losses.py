"""Losses of the training step, as pure functions of logits and labels, and
the plain classification loss in the method-loss signature."""

from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp
import optax

from jaxdal.models.rngs import rngs_for

__all__ = ["cross_entropy_loss", "weighted_ce"]


def weighted_ce(logits, y, weights):
  """Mean cross-entropy over real rows.

  Args:
    logits: `[..., B, C]` (leading sample axes broadcast against `y`).
    y: `[B]` int labels.
    weights: `[B]` (0 for padding rows) or broadcastable to `[..., B]`.

  Returns:
    `[]` the weighted mean.
  """
  ce = optax.softmax_cross_entropy_with_integer_labels(
      logits, jnp.broadcast_to(y, logits.shape[:-1]))
  w = jnp.broadcast_to(weights, ce.shape)
  return (ce * w).sum() / jnp.maximum(w.sum(), 1.0)


def cross_entropy_loss(model: nn.Module) -> Callable:
  """The plain classification loss, as a method loss function.

  Returns `loss_fn(params, model_state, x, y, weights, key, n_train) ->
  (loss, aux)` with `aux = {"logits", "model_state", "kl"}`; `weights` are
  0 for padding rows, `n_train` is unused here (KL terms of architecture
  methods divide by it) and `kl` is 0.
  """
  def loss_fn(params, model_state, x, y, weights, key, n_train):
    del n_train
    (logits, _), new_state = model.apply(
        {"params": params, **model_state}, x, train=True, rngs=rngs_for(key),
        mutable=list(model_state))
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
    loss = (ce * weights).sum() / jnp.maximum(weights.sum(), 1.0)
    return loss, {"logits": logits, "model_state": dict(new_state),
                  "kl": jnp.zeros(())}

  return loss_fn
