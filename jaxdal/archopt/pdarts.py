"""PDARTS (Chen et al., ICCV 2019): progressive differentiable architecture
search, the building blocks.

Search cells mix 8 candidate operations per edge with softmax weights of
architecture parameters (`alphas_normal`, `alphas_reduce`, shared by all
normal / all reduction cells); stages drop the weakest operations
(8 -> 5 -> 3 -> 1 per edge) and finally keep two incoming edges per node.
Spec: reference/architecture-optimisation-spec.md §4 (the official
`chenxin061/pdarts` behaviour). Channels-last (NHWC) throughout.
"""

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal.archopt.base import Bundle, fixed_bundle
from jaxdal.models.cnn import classifier_dropout
from jaxdal.models.conv import matmul_conv

PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
              "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NONE, SKIP = 0, 3
STEPS = 4  # intermediate nodes per cell
NUM_EDGES = sum(2 + i for i in range(STEPS))  # 14
NUM_TO_KEEP = (5, 3, 1)
NUM_TO_DROP = (3, 2, 2)


# Bias-free convolutions; 1x1s and the stem run as matmuls on XLA:CPU.
_conv = functools.partial(nn.Conv, use_bias=False,
                          conv_general_dilated=matmul_conv)


def _bn(train: bool, affine: bool = False) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, use_scale=affine, use_bias=affine)


class ReLUConvBN(nn.Module):
  channels: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = _conv(self.channels, (1, 1))(nn.relu(x))
    return _bn(train, self.affine)(x)


class FactorizedReduce(nn.Module):
  """Halves H and W: two stride-2 1x1 convolutions, one shifted by a pixel,
  concatenated (`channels` even)."""
  channels: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = nn.relu(x)
    half = self.channels // 2
    a = _conv(half, (1, 1), strides=2)(x)
    b = _conv(self.channels - half, (1, 1), strides=2)(x[:, 1:, 1:, :])
    return _bn(train, self.affine)(jnp.concatenate([a, b], axis=-1))


def _relu_dw_pw_bn(x, channels: int, kernel: int, stride: int,
                   dilation: int, affine: bool, *, train: bool):
  """ReLU -> depthwise kxk (stride, dilation) -> 1x1 conv -> BN (call in a
  compact module)."""
  pad = dilation * (kernel - 1) // 2
  x = _conv(x.shape[-1], (kernel, kernel), strides=stride,
            padding=((pad, pad), (pad, pad)), kernel_dilation=dilation,
            feature_group_count=x.shape[-1])(nn.relu(x))
  return _bn(train, affine)(_conv(channels, (1, 1))(x))


class _Separable(nn.Module):
  channels: int
  kernel: int
  stride: int
  affine: bool = False


class SepConv(_Separable):
  """The separable convolution applied twice (the second with stride 1)."""

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = _relu_dw_pw_bn(x, self.channels, self.kernel, self.stride, 1,
                       self.affine, train=train)
    return _relu_dw_pw_bn(x, self.channels, self.kernel, 1, 1, self.affine,
                          train=train)


class DilConv(_Separable):
  """One dilated (x2) separable convolution."""

  @nn.compact
  def __call__(self, x, *, train: bool):
    return _relu_dw_pw_bn(x, self.channels, self.kernel, self.stride, 2,
                          self.affine, train=train)


class Operation(nn.Module):
  """Candidate operation `PRIMITIVES[index]`: `[N, H, W, C] -> [N, H/s,
  W/s, C]`. In training an identity skip is followed by inverted dropout
  at `skip_rate` (a call argument, so its schedule never recompiles).
  `affine` BatchNorms are used by derived (evaluation) networks."""
  index: int
  channels: int
  stride: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool, skip_rate=0.0):
    s, name = self.stride, PRIMITIVES[self.index]
    if name == "none":
      return jnp.zeros_like(x[:, ::s, ::s, :])
    if name in ("max_pool_3x3", "avg_pool_3x3"):
      pool = nn.max_pool if name == "max_pool_3x3" else nn.avg_pool
      kwargs = {} if name == "max_pool_3x3" else {"count_include_pad": False}
      x = pool(x, (3, 3), strides=(s, s), padding=((1, 1), (1, 1)), **kwargs)
      return _bn(train, self.affine)(x)
    if name == "skip_connect":
      if s == 2:
        return FactorizedReduce(self.channels, self.affine)(x, train=train)
      constant_zero = isinstance(skip_rate, (int, float)) and skip_rate == 0
      if train and not constant_zero:
        keep = 1.0 - skip_rate
        mask = jax.random.bernoulli(self.make_rng("dropout"), keep, x.shape)
        x = jnp.where(mask, x / jnp.maximum(keep, 1e-6), 0.0)
      return x
    kernel = 3 if name.endswith("3x3") else 5
    if name.startswith("sep"):
      return SepConv(self.channels, kernel, s, self.affine)(x, train=train)
    return DilConv(self.channels, kernel, s, self.affine)(x, train=train)


class MixedOp(nn.Module):
  """`sum_o w_o op_o(x)` over the operations switched on for this edge."""
  channels: int
  stride: int
  ops: Sequence[int]

  @nn.compact
  def __call__(self, x, weights, *, train: bool, skip_rate=0.0):
    out = 0.0
    for w, index in zip(weights, self.ops, strict=True):
      out = out + w * Operation(index, self.channels, self.stride)(
          x, train=train, skip_rate=skip_rate)
    return out


def edge_inputs() -> list[tuple[int, int]]:
  """`(node, input state)` of the 14 edges, enumerated node by node."""
  return [(i, j) for i in range(STEPS) for j in range(2 + i)]


class Cell(nn.Module):
  """A search cell: 4 nodes, node i sums mixed ops over its 2 + i inputs;
  output = the 4 nodes concatenated (4C channels)."""
  channels: int
  reduction: bool
  reduction_prev: bool
  switches: Sequence[Sequence[int]]  # per edge, the operation indices on

  @nn.compact
  def __call__(self, s0, s1, weights, *, train: bool, skip_rate=0.0):
    if self.reduction_prev:
      s0 = FactorizedReduce(self.channels)(s0, train=train)
    else:
      s0 = ReLUConvBN(self.channels)(s0, train=train)
    s1 = ReLUConvBN(self.channels)(s1, train=train)
    states = [s0, s1]
    edge = 0
    for i in range(STEPS):
      total = 0.0
      for j in range(2 + i):
        stride = 2 if self.reduction and j < 2 else 1
        total = total + MixedOp(self.channels, stride,
                                tuple(self.switches[edge]))(
                                    states[j], weights[edge], train=train,
                                    skip_rate=skip_rate)
        edge += 1
      states.append(total)
    return jnp.concatenate(states[-STEPS:], axis=-1)


def reduction_cells(layers: int) -> tuple[int, int]:
  return (layers // 3, 2 * layers // 3)


def cell_plan(channels: int, layers: int) -> list[tuple[int, bool, bool]]:
  """`(C, reduction, previous was reduction)` per cell; C doubles at the
  reduction cells (L//3 and 2L//3)."""
  plan, c, prev = [], channels, False
  for i in range(layers):
    reduction = i in reduction_cells(layers)
    c = 2 * c if reduction else c
    plan.append((c, reduction, prev))
    prev = reduction
  return plan


def stem(channels: int, x, *, train: bool):
  """3x3 convolution to 3C channels and BatchNorm (call in a compact
  module)."""
  x = _conv(3 * channels, (3, 3), padding=((1, 1), (1, 1)))(x)
  return _bn(train, affine=True)(x)


class SearchNetwork(nn.Module):
  """Stem (3x3 conv, 3C, BN) -> `layers` cells (reductions at L//3 and
  2L//3 double C) -> global average pool (features) -> classifier."""
  num_classes: int
  channels: int = 16
  layers: int = 5
  switches_normal: Sequence[Sequence[int]] = tuple(
      tuple(range(8)) for _ in range(NUM_EDGES))
  switches_reduce: Sequence[Sequence[int]] = tuple(
      tuple(range(8)) for _ in range(NUM_EDGES))

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False,
               skip_rate=0.0, masks=None):
    """`masks`: optional bool `([14, n_normal], [14, n_reduce])`; an
    operation masked off gets softmax weight exactly 0 (its alpha logit is
    -inf), which equals a network built without it."""
    del mc
    n_normal = len(self.switches_normal[0])
    n_reduce = len(self.switches_reduce[0])
    init = nn.initializers.normal(1e-3)
    alphas_normal = self.param("alphas_normal", init, (NUM_EDGES, n_normal))
    alphas_reduce = self.param("alphas_reduce", init, (NUM_EDGES, n_reduce))
    if masks is not None:
      alphas_normal = jnp.where(masks[0], alphas_normal, -jnp.inf)
      alphas_reduce = jnp.where(masks[1], alphas_reduce, -jnp.inf)
    w_normal = jax.nn.softmax(alphas_normal, axis=-1)
    w_reduce = jax.nn.softmax(alphas_reduce, axis=-1)
    s0 = s1 = stem(self.channels, x, train=train)
    for c, reduction, reduction_prev in cell_plan(self.channels,
                                                  self.layers):
      cell = Cell(c, reduction, reduction_prev,
                  self.switches_reduce if reduction else self.switches_normal)
      # Stride-2 skips are never dropped (they are FactorizedReduce).
      s0, s1 = s1, cell(s0, s1, w_reduce if reduction else w_normal,
                        train=train, skip_rate=0.0 if reduction else skip_rate)
    features = jnp.mean(s1, axis=(1, 2))
    return nn.Dense(self.num_classes, name="classifier")(features), features


def skip_dropout_rate(drop_rate: float, epoch: int, epochs: int,
                      eps_no_arch: int) -> float:
  """The search-time dropout after identity skips, at `epoch`."""
  if epoch < eps_no_arch:
    return drop_rate * (epochs - epoch - 1) / epochs
  return drop_rate * float(np.exp(-(epoch - eps_no_arch) * 0.2))


def _smallest(values: np.ndarray, k: int) -> list[int]:
  """Positions of the k smallest values, by repeated argmin (ties: lowest)."""
  values = np.asarray(values, float).copy()
  out = []
  for _ in range(k):
    i = int(np.argmin(values))
    out.append(i)
    values[i] = np.inf
  return out


def drop_operations(switches: Sequence[Sequence[int]], alphas: np.ndarray,
                    stage: int) -> list[list[int]]:
  """Operations kept on each edge after `stage` (0, 1 or 2).

  Stages 0 and 1 drop the `NUM_TO_DROP[stage]` operations of smallest
  softmax weight; the last stage drops `none` first (if on), then the
  smallest of the rest, leaving each edge its best real operation.
  """
  out = []
  for ops, a in zip(switches, np.asarray(alphas), strict=True):
    prob = np.exp(a - a.max())
    prob /= prob.sum()
    ops = list(ops)
    drop = NUM_TO_DROP[stage]
    if stage == 2 and NONE in ops:
      prob = prob.copy()
      prob[ops.index(NONE)] = -np.inf  # dropped first
    positions = _smallest(prob, drop)
    out.append([op for i, op in enumerate(ops) if i not in positions])
  return out


class Genotype(NamedTuple):
  """The derived cells: `(operation name, input index)` x 2 per node."""
  normal: list[tuple[str, int]]
  normal_concat: list[int]
  reduce: list[tuple[str, int]]
  reduce_concat: list[int]


def _softmax_rows(a) -> np.ndarray:
  a = np.asarray(a, float)
  e = np.exp(a - a.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def _best_edges(prob: np.ndarray, switches) -> list[int]:
  """Edges 0 and 1 plus, for nodes 1..3, the 2 with the strongest op."""
  strength = []
  for e, ops in enumerate(switches):
    p = prob[e].copy()
    if NONE in ops:
      p[ops.index(NONE)] = 0.0
    strength.append(p.max())
  keep, start = [0, 1], 2
  for node in range(1, STEPS):
    end = start + node + 2
    order = sorted(range(start, end), key=lambda e: (-strength[e], e))
    keep += sorted(order[:2])
    start = end
  return keep


def _keep_one(switches, prob) -> list[int]:
  """Per edge, the best operation other than `none`."""
  best = []
  for ops, p in zip(switches, prob, strict=True):
    p = p.copy()
    if NONE in ops:
      p[ops.index(NONE)] = -np.inf
    best.append(ops[int(np.argmax(p))])
  return best


def _cell(best_ops, keep) -> list[tuple[str, int]]:
  inputs = edge_inputs()
  return [(PRIMITIVES[best_ops[e]], inputs[e][1]) for e in sorted(keep)]


def derive_genotype(alphas_normal, alphas_reduce, switches_normal,
                    switches_reduce, *, max_skip: int = 2) -> Genotype:
  """The final genotype from the last stage's alphas (3 ops per edge).

  Each edge keeps its best non-`none` operation, each node its 2 strongest
  incoming edges; then, in the normal cell only, the skip-connect with the
  smallest probability is zeroed and the choice redone until at most
  `max_skip` skip-connects remain.
  """
  p_normal = _softmax_rows(alphas_normal)
  p_reduce = _softmax_rows(alphas_reduce)
  best_r = _keep_one(switches_reduce, p_reduce)
  reduce_cell = _cell(best_r, _best_edges(p_reduce, switches_reduce))

  def choose(prob):
    best = _keep_one(switches_normal, prob)
    keep = _best_edges(prob, switches_normal)
    return best, keep

  best_n, keep_n = choose(p_normal)
  while sum(best_n[e] == SKIP for e in keep_n) > max_skip:
    skip_edges = [e for e in keep_n if best_n[e] == SKIP]
    probs = [p_normal[e][list(switches_normal[e]).index(SKIP)]
             for e in skip_edges]
    weakest = skip_edges[int(np.argmin(probs))]
    p_normal = p_normal.copy()
    p_normal[weakest][list(switches_normal[weakest]).index(SKIP)] = 0.0
    best_n, keep_n = choose(p_normal)
  return Genotype(normal=_cell(best_n, keep_n), normal_concat=[2, 3, 4, 5],
                  reduce=reduce_cell, reduce_concat=[2, 3, 4, 5])


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


class DerivedCell(nn.Module):
  """A cell compiled from a genotype: node i = op1(h_a) + op2(h_b)."""
  channels: int
  reduction: bool
  reduction_prev: bool
  ops: Sequence[tuple[str, int]]

  @nn.compact
  def __call__(self, s0, s1, *, train: bool):
    if self.reduction_prev:
      s0 = FactorizedReduce(self.channels, affine=True)(s0, train=train)
    else:
      s0 = ReLUConvBN(self.channels, affine=True)(s0, train=train)
    s1 = ReLUConvBN(self.channels, affine=True)(s1, train=train)
    states = [s0, s1]
    for node in range(STEPS):
      total = 0.0
      for name, j in self.ops[2 * node:2 * node + 2]:
        stride = 2 if self.reduction and j < 2 else 1
        total = total + Operation(PRIMITIVES.index(name), self.channels,
                                  stride, affine=True)(states[j], train=train)
      states.append(total)
    return jnp.concatenate(states[-STEPS:], axis=-1)


class DerivedNetwork(nn.Module):
  """The evaluation network of a genotype (no auxiliary head, no
  drop-path): stem, `layers` derived cells with reductions at L//3 and
  2L//3, global average pooling (features), classifier."""
  num_classes: int
  genotype: Genotype
  channels: int = 16
  layers: int = 8
  dropout_rate: float = 0.3

  @nn.compact
  def __call__(self, x, *, train: bool = False, mc: bool = False):
    s0 = s1 = stem(self.channels, x, train=train)
    for c, reduction, reduction_prev in cell_plan(self.channels,
                                                  self.layers):
      ops = self.genotype.reduce if reduction else self.genotype.normal
      s0, s1 = s1, DerivedCell(c, reduction, reduction_prev,
                               tuple(map(tuple, ops)))(s0, s1, train=train)
    features = jnp.mean(s1, axis=(1, 2))
    h = classifier_dropout(self.dropout_rate, features, train=train, mc=mc)
    return nn.Dense(self.num_classes, name="classifier")(h), features


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


def switch_mask(switches: Sequence[Sequence[int]]) -> np.ndarray:
  """bool `[14, 8]`: which of the 8 operations each edge still has on."""
  mask = np.zeros((len(switches), len(PRIMITIVES)), bool)
  for e, ops in enumerate(switches):
    mask[e, list(ops)] = True
  return mask


def alphas_on(alphas: np.ndarray, switches: Sequence[Sequence[int]]
              ) -> np.ndarray:
  """`[14, 8]` alphas of a masked network -> `[14, n_on]`, the columns of
  the operations switched on (what the official network would hold)."""
  alphas = np.asarray(alphas)
  return np.stack([alphas[e, list(ops)] for e, ops in enumerate(switches)])


def _cosine_lr(config: SearchConfig):
  def lr_at(count):
    epoch = count // config.steps_per_epoch
    return 0.5 * config.weight_lr * (1 + jnp.cos(jnp.pi * epoch /
                                                config.epochs))
  return lr_at


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


# The genotype PDARTS found on CIFAR-10 (Chen et al. 2019; `genotypes.PDARTS`
# of the official code): the architecture of `--method pdarts` before any
# search, and with `--notrain_arch`.
PUBLISHED = Genotype(
    normal=[("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0),
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3),
            ("sep_conv_3x3", 0), ("dil_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0),
            ("dil_conv_5x5", 2), ("max_pool_3x3", 0), ("dil_conv_3x3", 1),
            ("dil_conv_3x3", 1), ("dil_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5])


def genotype_to_dict(genotype: Genotype) -> dict:
  """JSON-able `{"normal": [[op, input], ...] x 8, "reduce": ...}`."""
  return {"normal": [[op, int(j)] for op, j in genotype.normal],
          "reduce": [[op, int(j)] for op, j in genotype.reduce]}


def genotype_from_dict(d: dict) -> Genotype:
  """Inverse of `genotype_to_dict`; ValueError on an unknown operation or
  a malformed cell."""
  cells = {}
  for name in ("normal", "reduce"):
    cell = [(str(op), int(j)) for op, j in d[name]]
    bad = [op for op, _ in cell if op not in PRIMITIVES[1:]]
    if len(cell) != 2 * STEPS or bad:
      raise ValueError(f"bad {name} cell {d[name]!r}: need {2 * STEPS} "
                       f"(operation, input) pairs with operations among "
                       f"{', '.join(PRIMITIVES[1:])}")
    cells[name] = cell
  return Genotype(normal=cells["normal"], normal_concat=[2, 3, 4, 5],
                  reduce=cells["reduce"], reduce_concat=[2, 3, 4, 5])


def make(num_classes: int, *, channels: int = 16, layers: int = 8,
         dropout_rate: float = 0.3, genotype: dict | None = None,
         search_config: dict | None = None) -> Bundle:
  """PDARTS as an active-learning method.

  The network is a `DerivedNetwork` (`channels`, `layers` cells) of a
  genotype: `genotype` (a `genotype_to_dict` dict) or the published
  CIFAR-10 one until a search replaces it. `search_config` holds
  `SearchConfig` fields (default: the official search). The loop calls
  `bundle.search` on its data when the mode asks for it (every round in
  joint mode; once in SPO/UPO) and trains `bundle.adopt(found)`, a fixed
  network.
  """
  config = SearchConfig.from_dict(search_config or {})
  start = PUBLISHED if genotype is None else genotype_from_dict(genotype)

  def derived(genotype: Genotype, source: str) -> Bundle:
    net = DerivedNetwork(num_classes, genotype, channels=channels,
                         layers=layers, dropout_rate=dropout_rate)
    return fixed_bundle(net, {"genotype": genotype_to_dict(genotype),
                              "cells": layers, "source": source})

  def run_search(x_weights, y_weights, x_arch, y_arch, key,
                 progress=False) -> dict:
    genotype, info = search(x_weights, y_weights, x_arch, y_arch, key,
                               num_classes=num_classes, config=config,
                               progress=progress)
    return {"genotype": genotype_to_dict(genotype),
            **{k: v for k, v in info.items() if k.endswith("accuracy")}}

  def adopt(found: dict) -> Bundle:
    return derived(genotype_from_dict(found["genotype"]), "search")

  return derived(start, "given" if genotype else "published")._replace(
      searchable=True, search=run_search, adopt=adopt)

