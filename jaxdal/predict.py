"""The only bridge from models to arrays: probabilities `[T, N, C]` and
features `[N, D]`, computed in fixed-size chunks, each jit-compiled once.

MC dropout keeps BatchNorm in inference mode (running statistics) and turns
dropout on with one mask per sample shared across the batch; sample t uses
`fold_in(key, t)` in every chunk, so scores depend neither on the chunk size
nor on the order of the pool.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.data.batching import padded_chunks
from jaxdal.models.rngs import rngs_for


def _probs_chunk(variables, x_all, idx, key, *, model: nn.Module,
                 mc_samples: int):
  x = x_all[idx]
  if mc_samples == 0:
    logits, _ = model.apply(variables, x, train=False, rngs=rngs_for(key))
    return jax.nn.softmax(logits)[None]

  def one_sample(t):
    logits, _ = model.apply(variables, x, train=False, mc=True,
                            rngs=rngs_for(jax.random.fold_in(key, t)))
    return jax.nn.softmax(logits)

  return jax.vmap(one_sample)(jnp.arange(mc_samples))


def _features_chunk(variables, x_all, idx, key, *, model: nn.Module):
  _, features = model.apply(variables, x_all[idx], train=False,
                            rngs=rngs_for(key))
  return features


def _both_chunk(variables, x_all, idx, key, *, model: nn.Module):
  logits, features = model.apply(variables, x_all[idx], train=False,
                                 rngs=rngs_for(key))
  return jax.nn.softmax(logits)[None], features


class Predictor(NamedTuple):
  """Jitted chunk functions of one model, built once per run."""
  probs_chunk: Callable
  features_chunk: Callable
  chunk: int
  both_chunk: Callable


def make_predictor(model: nn.Module, *, mc_samples: int = 0,
                   chunk: int = 1024) -> Predictor:
  """Builds the jitted chunk functions.

  Args:
    model: a backbone returning `(logits, features)`.
    mc_samples: T; 0 means one deterministic pass (dropout off), T >= 1
      means T MC-dropout samples.
    chunk: rows per compiled call.
  """
  if mc_samples < 0:
    raise ValueError(f"mc_samples must be >= 0, got {mc_samples}")
  return Predictor(
      probs_chunk=jax.jit(functools.partial(_probs_chunk, model=model,
                                            mc_samples=mc_samples)),
      features_chunk=jax.jit(functools.partial(_features_chunk, model=model)),
      chunk=chunk,
      both_chunk=jax.jit(functools.partial(_both_chunk, model=model)),
  )


def _run_chunks(fn, indices: np.ndarray, chunk: int, axis: int):
  chunks, masks = padded_chunks(indices, chunk)
  out = jnp.concatenate([fn(c) for c in chunks], axis=axis)
  return jax.lax.slice_in_dim(out, 0, len(indices), axis=axis)


def predict_probs(predictor: Predictor, variables, x_all: jax.Array,
                  key: jax.Array, indices: np.ndarray | None = None):
  """Class probabilities of `x_all[indices]`.

  Args:
    predictor: from `make_predictor`.
    variables: `{"params": ..., "batch_stats": ...}` of the model.
    x_all: `[N, ...]` inputs.
    key: MC-dropout key (unused when `mc_samples == 0`).
    indices: int `[P]` rows to predict (default: all N).

  Returns:
    `[T, P, C]` float32 probabilities (T = 1 when deterministic).
  """
  indices = np.arange(x_all.shape[0]) if indices is None else indices
  return _run_chunks(lambda c: predictor.probs_chunk(variables, x_all, c, key),
                     indices, predictor.chunk, axis=1)


def features(predictor: Predictor, variables, x_all: jax.Array,
             indices: np.ndarray | None = None,
             key: jax.Array | None = None):
  """Penultimate features `[P, D]` of `x_all[indices]` in inference mode.

  `key` (default: a fixed key) drives models whose inference is sampled.
  """
  indices = np.arange(x_all.shape[0]) if indices is None else indices
  key = jax.random.key(0) if key is None else key
  return _run_chunks(
      lambda c: predictor.features_chunk(variables, x_all, c, key),
      indices, predictor.chunk, axis=0)


def probs_and_features(predictor: Predictor, variables, x_all: jax.Array,
                       key: jax.Array, indices: np.ndarray | None = None):
  """Deterministic probabilities `[1, P, C]` and features `[P, D]` from one
  inference pass (what BADGE needs), instead of two.

  `key` drives models whose inference is sampled.
  """
  indices = np.arange(x_all.shape[0]) if indices is None else indices
  chunks, _ = padded_chunks(indices, predictor.chunk)
  outs = [predictor.both_chunk(variables, x_all, c, key) for c in chunks]
  n = len(indices)
  probs = jnp.concatenate([p for p, _ in outs], axis=1)[:, :n]
  feats = jnp.concatenate([f for _, f in outs], axis=0)[:n]
  return probs, feats


def make_predictor_for(model: nn.Module, acquisition, *, mc_samples: int,
                       chunk: int = 1024) -> Predictor:
  """The predictor an acquisition needs: `mc_samples` MC-dropout samples if
  it uses them (`acquisition.uses_mc`), else one deterministic pass."""
  return make_predictor(model, chunk=chunk,
                        mc_samples=mc_samples if acquisition.uses_mc else 0)


def acquisition_inputs(acquisition, predictor: Predictor, variables,
                       x_all: jax.Array, key: jax.Array,
                       indices: np.ndarray) -> dict:
  """What `acquisition.select` consumes, computed from the model.

  Reads the acquisition's flags (`uses_probs`, `uses_mc`, `uses_features`)
  and runs the fewest passes: deterministic probabilities and features
  from one pass when both are wanted (BADGE), MC samples when asked for.

  Args:
    acquisition: a `jaxdal.acquisition.Acquisition`.
    predictor: from `make_predictor_for(model, acquisition, ...)`.
    variables: the model's variables.
    x_all: `[N, ...]` inputs.
    key: the prediction key (MC dropout, sampled inference).
    indices: int `[P]` rows to score.

  Returns:
    `{"probs": [T, P, C] or None, "features": [P, D] or None}`, computed.
  """
  inputs = {"probs": None, "features": None}
  if (acquisition.uses_probs and acquisition.uses_features
      and not acquisition.uses_mc):
    inputs["probs"], inputs["features"] = probs_and_features(
        predictor, variables, x_all, key, indices)
  elif acquisition.uses_probs:
    inputs["probs"] = predict_probs(predictor, variables, x_all, key,
                                    indices)
  if acquisition.uses_features and inputs["features"] is None:
    inputs["features"] = features(predictor, variables, x_all, indices)
  return jax.block_until_ready(inputs)


def grad_embedding(apply_fn: Callable, variables, x: jax.Array, *,
                   params: tuple[str, ...] = ("classifier", "kernel")):
  """Per-example loss gradients at the predicted ("hallucinated") label.

  For each example, the gradient of `-log softmax(logits)[argmax logits]`
  with respect to the parameter subtree at path `params`, flattened; one
  `jax.vmap(jax.grad(...))` over examples.

  Args:
    apply_fn: `model.apply`.
    variables: `{"params": ..., other collections}`.
    x: `[N, ...]` inputs (all at once; chunk outside for large pools).
    params: path of the subtree inside `variables["params"]`.

  Returns:
    `[N, P]` gradients, P = size of the subtree. For the classifier kernel
    (`[D, C]` in Linen) this is BADGE's embedding with the axes in (d, c)
    order.
  """
  def subtree(tree):
    for name in params:
      tree = tree[name]
    return tree

  def replace(tree, value, path):
    if not path:
      return value
    return {**tree, path[0]: replace(tree[path[0]], value, path[1:])}

  def loss(leaf, xi):
    p = replace(variables["params"], leaf, params)
    logits, _ = apply_fn({**variables, "params": p}, xi[None], train=False,
                         rngs=rngs_for(jax.random.key(0)))
    logp = jax.nn.log_softmax(logits[0])
    return -logp[jnp.argmax(logits[0])]

  target = subtree(variables["params"])
  grads = jax.vmap(jax.grad(loss), in_axes=(None, 0))(target, x)
  return jax.vmap(lambda g: jnp.concatenate(
      [leaf.reshape(-1) for leaf in jax.tree.leaves(g)]))(grads)
