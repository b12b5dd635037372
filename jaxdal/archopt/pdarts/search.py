"""The PDARTS search (the official `train_search.py`, first order): three
stages of growing supernets, each training weights and architecture
parameters, then dropping the weakest operations."""

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal import optim
from jaxdal.archopt.pdarts.genotype import (
    Genotype,
    derive_genotype,
    drop_operations,
)
from jaxdal.archopt.pdarts.ops import PRIMITIVES
from jaxdal.archopt.pdarts.supernet import (
    NUM_EDGES,
    SearchNetwork,
    alphas_on,
    skip_dropout_rate,
    switch_mask,
)

__all__ = ["ARCH_PARAMS", "SearchConfig", "search", "search_optimizers"]

ARCH_PARAMS = ("alphas_normal", "alphas_reduce")


def search_optimizers(*, weight_lr: float = 0.025,
                      arch_lr: float = 6e-4):
  """`(weights_tx, alphas_tx)`: SGD (momentum 0.9, wd 3e-4, clip 5) for the
  weights, Adam (0.5, 0.999; L2 1e-3; clip 5) for the alphas; each leaves
  the other group untouched."""
  def labels(params):
    return {k: ("arch" if k in ARCH_PARAMS else "weights") for k in params}

  weights_tx = optax.multi_transform({
      "weights": optax.chain(optax.clip_by_global_norm(5.0),
                             optax.add_decayed_weights(3e-4),
                             optax.sgd(weight_lr, momentum=0.9)),
      "arch": optax.set_to_zero()}, labels)
  alphas_tx = optax.multi_transform({
      "arch": optax.chain(optax.clip_by_global_norm(5.0),
                          optax.add_decayed_weights(1e-3),
                          optax.adam(arch_lr, b1=0.5, b2=0.999)),
      "weights": optax.set_to_zero()}, labels)
  return weights_tx, alphas_tx


class SearchConfig(NamedTuple):
  """The search's knobs (official values by default; `reduced()` for CPU).

  `masked=True` keeps all 8 operations in every stage's network and masks
  the dropped ones (weight exactly 0): the same function as the official
  per-stage networks, with shapes that depend only on the cell count, so
  each stage compiles once per process, however often (every active
  learning round) the search runs; it computes every operation, so the
  official structural form (`masked=False`) is lighter on large inputs.
  """
  channels: int = 16
  layers: int = 5
  add_layers: tuple[int, int, int] = (0, 6, 12)
  epochs: int = 25
  eps_no_arch: int = 10
  batch_size: int = 64
  steps_per_epoch: int = 50
  drop_rate: tuple[float, float, float] = (0.1, 0.4, 0.7)
  weight_lr: float = 0.025
  arch_lr: float = 6e-4
  max_skip: int = 2
  masked: bool = False

  @classmethod
  def reduced(cls) -> "SearchConfig":
    """The spec's 2-core CPU configuration (§4.10)."""
    return cls(channels=4, layers=3, add_layers=(0, 1, 2), epochs=3,
               eps_no_arch=1, batch_size=8, steps_per_epoch=3, masked=True)

  @classmethod
  def from_dict(cls, values: dict) -> "SearchConfig":
    """From JSON-like values (lists become tuples); ValueError naming an
    unknown key and the valid ones."""
    unknown = sorted(set(values) - set(cls._fields))
    if unknown:
      raise ValueError(f"unknown search setting(s) {', '.join(unknown)}; "
                       f"valid: {', '.join(cls._fields)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v
                  for k, v in values.items()})


def _cosine_lr(config: SearchConfig) -> Callable:
  """The weights' learning rate of an optimiser step count: per-epoch
  cosine annealing over the stage's epochs."""
  return lambda count: optim.cosine_lr(
      config.weight_lr, count // config.steps_per_epoch, config.epochs)


class _StageFns(NamedTuple):
  weights_tx: optax.GradientTransformation
  alphas_tx: optax.GradientTransformation
  grads: Callable  # (params, batch_stats, x, y, key, rate, masks)
  update_weights: Callable  # (grads, opt_state, params)
  update_alphas: Callable


@functools.lru_cache(maxsize=32)
def _stage_fns(net: SearchNetwork, config: SearchConfig) -> _StageFns:
  """The jitted pieces of a stage's steps, cached so a repeated search
  (next round, same shapes) reuses them. One gradient function serves the
  architecture step (validation batch) and the weight step (training
  batch): the supernet's forward and backward compile once per stage."""
  weights_tx, alphas_tx = search_optimizers(weight_lr=_cosine_lr(config),
                                            arch_lr=config.arch_lr)

  def grads(params, batch_stats, x, y, key, rate, masks):
    def loss(p):
      (logits, _), new = net.apply(
          {"params": p, "batch_stats": batch_stats}, x, train=True,
          skip_rate=rate, masks=masks, rngs={"dropout": key},
          mutable=["batch_stats"])
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
      return ce.mean(), new["batch_stats"]
    (_, batch_stats), g = jax.value_and_grad(loss, has_aux=True)(params)
    return g, batch_stats

  def updater(tx):
    def update(g, opt_state, params):
      updates, opt_state = tx.update(g, opt_state, params)
      return optax.apply_updates(params, updates), opt_state
    return jax.jit(update)

  return _StageFns(weights_tx, alphas_tx, jax.jit(grads), updater(weights_tx),
                   updater(alphas_tx))


@functools.lru_cache(maxsize=32)
def _stage_eval(net: SearchNetwork):
  return jax.jit(lambda v, x, masks: net.apply(v, x, masks=masks)[0])


def search(x_train, y_train, x_val, y_val, key, *, num_classes: int,
           config: SearchConfig | None = None,
           progress: bool = False) -> tuple[Genotype, dict]:
  """The three-stage PDARTS search, first order.

  Stage sp builds a fresh network of `layers + add_layers[sp]` cells with
  the operations still switched on, trains it `epochs` epochs; from epoch
  `eps_no_arch` on, each step first moves the alphas on a validation batch
  (Adam), then the weights on a training batch (SGD, per-epoch cosine
  learning rate). Between stages the weakest operations are dropped; the
  last stage's alphas give the genotype. Stage sp, epoch e, step t use
  keys `fold_in(fold_in(fold_in(key, sp), e), t)`.

  Args:
    x_train, y_train: weight-training data `[N, ...]`, `[N]`.
    x_val, y_val: architecture data.
    key: PRNG key.
    num_classes: C.
    config: `SearchConfig` (default: the official values).
    progress: print one line per stage.

  Returns:
    `(genotype, {"switches_normal", "switches_reduce",
    "stage<i>_val_accuracy"})`.
  """
  config = SearchConfig() if config is None else config
  x_train, y_train = jnp.asarray(x_train), jnp.asarray(y_train)
  x_val, y_val = jnp.asarray(x_val), jnp.asarray(y_val)
  full = [list(range(len(PRIMITIVES))) for _ in range(NUM_EDGES)]
  sw_normal, sw_reduce = full, [list(ops) for ops in full]
  info = {}
  for stage in range(3):
    k_stage = jax.random.fold_in(key, stage)
    built_n, built_r = ((full, full) if config.masked
                        else (sw_normal, sw_reduce))
    net = SearchNetwork(num_classes, config.channels,
                        config.layers + config.add_layers[stage],
                        tuple(map(tuple, built_n)), tuple(map(tuple, built_r)))
    masks = ((jnp.asarray(switch_mask(sw_normal)),
              jnp.asarray(switch_mask(sw_reduce))) if config.masked else None)
    variables = net.init({"params": jax.random.fold_in(k_stage, 10_000),
                          "dropout": k_stage}, x_train[:1])
    fns = _stage_fns(net, config)
    params, batch_stats = variables["params"], variables["batch_stats"]
    w_state, a_state = fns.weights_tx.init(params), fns.alphas_tx.init(params)
    for epoch in range(config.epochs):
      rate = jnp.float32(skip_dropout_rate(config.drop_rate[stage], epoch,
                                           config.epochs, config.eps_no_arch))
      k_epoch = jax.random.fold_in(k_stage, epoch)
      for t in range(config.steps_per_epoch):
        k = jax.random.fold_in(k_epoch, t)
        k_val, k_train, k_arch, k_weights = jax.random.split(k, 4)
        if epoch >= config.eps_no_arch:
          vi = jax.random.randint(k_val, (config.batch_size,), 0,
                                  x_val.shape[0])
          g, batch_stats = fns.grads(params, batch_stats, x_val[vi],
                                     y_val[vi], k_arch, rate, masks)
          params, a_state = fns.update_alphas(g, a_state, params)
        ti = jax.random.randint(k_train, (config.batch_size,), 0,
                                x_train.shape[0])
        g, batch_stats = fns.grads(params, batch_stats, x_train[ti],
                                   y_train[ti], k_weights, rate, masks)
        params, w_state = fns.update_weights(g, w_state, params)
    logits = _stage_eval(net)({"params": params, "batch_stats": batch_stats},
                              x_val[:512], masks)
    info[f"stage{stage}_val_accuracy"] = float(
        (logits.argmax(-1) == y_val[:512]).mean())
    if progress:
      print(f"pdarts stage {stage}: {net.layers} cells, ops per edge "
            f"{len(sw_normal[0])}, val accuracy "
            f"{info[f'stage{stage}_val_accuracy']:.3f}")
    a_n = np.asarray(params["alphas_normal"])
    a_r = np.asarray(params["alphas_reduce"])
    if config.masked:
      a_n, a_r = alphas_on(a_n, sw_normal), alphas_on(a_r, sw_reduce)
    if stage < 2:
      sw_normal = drop_operations(sw_normal, a_n, stage)
      sw_reduce = drop_operations(sw_reduce, a_r, stage)
  genotype = derive_genotype(a_n, a_r, sw_normal, sw_reduce,
                             max_skip=config.max_skip)
  info.update(switches_normal=sw_normal, switches_reduce=sw_reduce)
  return genotype, info
