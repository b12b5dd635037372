"""The only bridge from models to arrays: probabilities `[T, N, C]` and
features `[N, D]`, computed in fixed-size chunks, each jit-compiled once.

MC dropout keeps BatchNorm in inference mode (running statistics) and turns
dropout on with one mask per sample shared across the batch; sample t uses
`fold_in(key, t)` in every chunk, so scores depend neither on the chunk size
nor on the order of the pool.

A chunk (`chunk` rows, one compiled call, the unit of device memory and
host transfer) is computed in micro-batches of `micro_rows` rows with
`lax.map` on CPU: a 1,024-row chunk of a ResNet's 28x28x64 activations is
200 MB, far beyond the caches, and ran 1.4x (ResNet-18) to 2.2x (the CNN)
slower than 32-row steps (benchmarks/RESULTS.md, "Inference"). Rows are
independent in inference mode, so the outputs are bit-identical; models
that draw randomness per example (Depth-Dropout's `example_masks`) keep
whole chunks, since their draws depend on the batch shape.
"""

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxdal import sharding
from jaxdal.data.batching import padded_chunks
from jaxdal.models.rngs import rngs_for

__all__ = ["CACHE_BYTES", "Predictor", "acquisition_inputs",
           "default_cache_bytes", "features", "features_for", "grad_embedding",
           "in_micro_batches", "make_predictor", "make_predictor_for",
           "micro_rows", "predict_probs", "probs_and_features", "row_footprint"]

# Bytes a micro-batch's largest intermediate may hold: a few times a core's
# L2 cache (2 MiB here); 8-64 rows of the image backbones.
CACHE_BYTES = 8 << 20
_RANDOM_PRIMITIVES = ("random_bits", "threefry2x32")


def _sub_jaxprs(eqn):
  for value in eqn.params.values():
    for v in value if isinstance(value, (tuple, list)) else (value,):
      if hasattr(v, "eqns"):
        yield v
      elif hasattr(v, "jaxpr") and hasattr(v.jaxpr, "eqns"):
        yield v.jaxpr


def _output_sizes(jaxpr) -> list[tuple[str, int]]:
  """`(primitive, bytes)` of every equation's outputs, nested ones too."""
  out = []
  for eqn in jaxpr.eqns:
    size = sum(math.prod(v.aval.shape) * v.aval.dtype.itemsize
               for v in eqn.outvars if hasattr(v.aval, "shape")
               and hasattr(v.aval.dtype, "itemsize"))
    out.append((eqn.primitive.name, size))
    for sub in _sub_jaxprs(eqn):
      out.extend(_output_sizes(sub))
  return out


def row_footprint(fn: Callable, row: jax.ShapeDtypeStruct
                  ) -> tuple[int, bool]:
  """What one more row costs `fn(x [B, ...])`: the bytes its largest
  intermediate grows by, and whether it draws randomness per row.

  Traces `fn` (no compilation) at B = 2 and B = 4 (not 1, where
  broadcasts vanish and the programs differ); an equation whose outputs
  grow by 2b bytes holds b bytes per row.

  Args:
    fn: a function of a batch `[B, ...]`.
    row: shape and dtype of one row (without the batch axis).

  Returns:
    `(bytes per row, per-row random draws)`.
  """
  sizes = [_output_sizes(jax.make_jaxpr(fn)(
      jax.ShapeDtypeStruct((b, *row.shape), row.dtype)).jaxpr)
      for b in (2, 4)]
  if len(sizes[0]) != len(sizes[1]):  # shape-dependent program: no claim
    return 0, True
  grow = [(name, (b - a) // 2)
          for (name, a), (_, b) in zip(*sizes, strict=True)]
  return (max([g for _, g in grow] + [0]),
          any(name in _RANDOM_PRIMITIVES and g > 0 for name, g in grow))


def micro_rows(chunk: int, row_bytes: int, cache_bytes: int) -> int:
  """Rows per micro-batch: the largest divisor of `chunk` whose rows'
  largest intermediate fits `cache_bytes` (at least 1).

  >>> micro_rows(1024, 300_000, 8 << 20)   # ResNet-18 at 28x28: 16 rows
  16
  """
  fit = max(1, cache_bytes // max(row_bytes, 1))
  return max(d for d in range(1, chunk + 1) if chunk % d == 0 and d <= fit)


def in_micro_batches(fn: Callable, x: jax.Array, batch_axes, *,
                     cache_bytes: int | None):
  """`fn(x)` for a batch `x [B, ...]` of independent rows, computed in
  micro-batches sized by `micro_rows` with `lax.map` (bit-identical);
  `fn(x)` itself when `cache_bytes` is None or `fn` draws per row.

  Args:
    fn: batch -> array or tuple of arrays.
    x: `[B, ...]` rows.
    batch_axes: the batch axis of each output (an int, or a tuple like
      `fn`'s outputs), e.g. 1 for `[T, B, C]`.
    cache_bytes: see `micro_rows`.
  """
  b = x.shape[0]
  if cache_bytes is None:
    return fn(x)
  row_bytes, random_rows = row_footprint(
      fn, jax.ShapeDtypeStruct(x.shape[1:], x.dtype))
  micro = micro_rows(b, row_bytes, cache_bytes)
  if random_rows or micro == b:
    return fn(x)
  out = lax.map(fn, x.reshape(b // micro, micro, *x.shape[1:]))

  def join(leaf, axis):  # [steps, ..., micro (at axis + 1), ...] -> B
    leaf = jnp.moveaxis(leaf, 0, axis)
    return leaf.reshape(*leaf.shape[:axis], b, *leaf.shape[axis + 2:])

  if isinstance(out, tuple):
    return tuple(join(o, a) for o, a in zip(out, batch_axes, strict=True))
  return join(out, batch_axes)


def _probs_chunk(variables, x_all, idx, key, *, model: nn.Module,
                 mc_samples: int, cache_bytes: int | None):
  def probs(x):
    if mc_samples == 0:
      logits, _ = model.apply(variables, x, train=False, rngs=rngs_for(key))
      return jax.nn.softmax(logits)[None]

    def one_sample(t):
      logits, _ = model.apply(variables, x, train=False, mc=True,
                              rngs=rngs_for(jax.random.fold_in(key, t)))
      return jax.nn.softmax(logits)

    return jax.vmap(one_sample)(jnp.arange(mc_samples))

  return in_micro_batches(probs, x_all[idx], 1,
                          cache_bytes=cache_bytes)


def _features_chunk(variables, x_all, idx, key, *, model: nn.Module,
                    cache_bytes: int | None):
  def features(x):
    return model.apply(variables, x, train=False, rngs=rngs_for(key))[1]

  return in_micro_batches(features, x_all[idx], 0,
                          cache_bytes=cache_bytes)


def _both_chunk(variables, x_all, idx, key, *, model: nn.Module,
                cache_bytes: int | None):
  def both(x):
    logits, features = model.apply(variables, x, train=False,
                                   rngs=rngs_for(key))
    return jax.nn.softmax(logits)[None], features

  return in_micro_batches(both, x_all[idx], (1, 0),
                          cache_bytes=cache_bytes)


def default_cache_bytes() -> int | None:
  """`CACHE_BYTES` on one CPU device; None (whole chunks) on accelerators,
  whose throughput grows with the batch, and under a device mesh, where
  each device gets its share of a chunk."""
  if jax.default_backend() != "cpu" or sharding.size() > 1:
    return None
  return CACHE_BYTES


class Predictor(NamedTuple):
  """Jitted chunk functions of one model, built once per run."""
  probs_chunk: Callable
  features_chunk: Callable
  chunk: int
  both_chunk: Callable


_AUTO = "auto"


def make_predictor(model: nn.Module, *, mc_samples: int = 0,
                   chunk: int = 1024,
                   cache_bytes: int | None | str = _AUTO) -> Predictor:
  """Builds the jitted chunk functions.

  Args:
    model: a backbone returning `(logits, features)`.
    mc_samples: T; 0 means one deterministic pass (dropout off), T >= 1
      means T MC-dropout samples.
    chunk: rows per compiled call (device memory and host transfers).
    cache_bytes: what one micro-batch's largest intermediate may hold
      (`in_micro_batches`); None computes whole chunks; "auto":
      `default_cache_bytes()`.
  """
  if mc_samples < 0:
    raise ValueError(f"mc_samples must be >= 0, got {mc_samples}")
  if cache_bytes == _AUTO:
    cache_bytes = default_cache_bytes()
  return Predictor(
      probs_chunk=jax.jit(functools.partial(
          _probs_chunk, model=model, mc_samples=mc_samples,
          cache_bytes=cache_bytes)),
      features_chunk=jax.jit(functools.partial(
          _features_chunk, model=model, cache_bytes=cache_bytes)),
      chunk=chunk,
      both_chunk=jax.jit(functools.partial(
          _both_chunk, model=model, cache_bytes=cache_bytes)),
  )


def _chunks(indices: np.ndarray, chunk: int) -> list:
  """`indices` in fixed-size chunks, split along the device mesh's `data`
  axis when one is active (the chunk then rounded up to a multiple of
  the device count)."""
  chunks, _ = padded_chunks(indices, sharding.round_up(chunk))
  if sharding.active() is None:
    return list(chunks)
  return [sharding.rows(c) for c in chunks]


def _run_chunks(fn, indices: np.ndarray, chunk: int, axis: int):
  out = jnp.concatenate([fn(c) for c in _chunks(indices, chunk)], axis=axis)
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
  outs = [predictor.both_chunk(variables, x_all, c, key)
          for c in _chunks(indices, predictor.chunk)]
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
  if _one_pass(acquisition):
    inputs["probs"], inputs["features"] = probs_and_features(
        predictor, variables, x_all, key, indices)
  elif acquisition.uses_probs:
    inputs["probs"] = predict_probs(predictor, variables, x_all, key,
                                    indices)
  if acquisition.uses_features and inputs["features"] is None:
    inputs["features"] = features(predictor, variables, x_all, indices)
  return jax.block_until_ready(inputs)


def _one_pass(acquisition) -> bool:
  """Whether `acquisition_inputs` makes one pass of probabilities and
  features for `acquisition` (`probs_and_features`)."""
  return (acquisition.uses_probs and acquisition.uses_features
          and not acquisition.uses_mc)


def features_for(acquisition, predictor: Predictor, variables,
                 x_all: jax.Array, indices: np.ndarray) -> jax.Array:
  """Penultimate features `[P, D]` of `x_all[indices]` (`features`, with
  its fixed key), through the compiled program `acquisition`'s own pass
  uses: BADGE's pass of probabilities and features serves, so a second
  program (seconds of compilation for a large backbone) is never built.
  Both programs give the same features (checked bit for bit in
  tests/test_predict.py)."""
  if not _one_pass(acquisition):
    return features(predictor, variables, x_all, indices)
  return probs_and_features(predictor, variables, x_all, jax.random.key(0),
                            indices)[1]


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
