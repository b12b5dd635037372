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
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal.models.cnn import classifier_dropout

PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
              "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
NONE, SKIP = 0, 3
STEPS = 4  # intermediate nodes per cell
NUM_EDGES = sum(2 + i for i in range(STEPS))  # 14
NUM_TO_KEEP = (5, 3, 1)
NUM_TO_DROP = (3, 2, 2)


def _bn(train: bool, affine: bool = False) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9,
                      epsilon=1e-5, use_scale=affine, use_bias=affine)


class ReLUConvBN(nn.Module):
  channels: int
  affine: bool = False

  @nn.compact
  def __call__(self, x, *, train: bool):
    x = nn.Conv(self.channels, (1, 1), use_bias=False)(nn.relu(x))
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
    a = nn.Conv(half, (1, 1), strides=2, use_bias=False)(x)
    b = nn.Conv(self.channels - half, (1, 1), strides=2,
                use_bias=False)(x[:, 1:, 1:, :])
    return _bn(train, self.affine)(jnp.concatenate([a, b], axis=-1))


def _relu_dw_pw_bn(x, channels: int, kernel: int, stride: int,
                   dilation: int, affine: bool, *, train: bool):
  """ReLU -> depthwise kxk (stride, dilation) -> 1x1 conv -> BN (call in a
  compact module)."""
  pad = dilation * (kernel - 1) // 2
  x = nn.Conv(x.shape[-1], (kernel, kernel), strides=stride,
              padding=((pad, pad), (pad, pad)), kernel_dilation=dilation,
              feature_group_count=x.shape[-1], use_bias=False)(nn.relu(x))
  return _bn(train, affine)(nn.Conv(channels, (1, 1), use_bias=False)(x))


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
  x = nn.Conv(3 * channels, (3, 3), padding=((1, 1), (1, 1)),
              use_bias=False)(x)
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
               skip_rate=0.0):
    del mc
    n_normal = len(self.switches_normal[0])
    n_reduce = len(self.switches_reduce[0])
    init = nn.initializers.normal(1e-3)
    alphas_normal = self.param("alphas_normal", init, (NUM_EDGES, n_normal))
    alphas_reduce = self.param("alphas_reduce", init, (NUM_EDGES, n_reduce))
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
  """The search's knobs (official values by default; `reduced()` for CPU)."""
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

  @classmethod
  def reduced(cls) -> "SearchConfig":
    """The spec's 2-core CPU configuration (§4.10)."""
    return cls(channels=4, layers=3, add_layers=(0, 1, 2), epochs=3,
               eps_no_arch=1, batch_size=8, steps_per_epoch=3)


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
    `(genotype, {"switches_normal", "switches_reduce", "val_accuracy"})`.
  """
  config = SearchConfig() if config is None else config
  x_train, y_train = jnp.asarray(x_train), jnp.asarray(y_train)
  x_val, y_val = jnp.asarray(x_val), jnp.asarray(y_val)
  sw_normal = [list(range(len(PRIMITIVES))) for _ in range(NUM_EDGES)]
  sw_reduce = [list(range(len(PRIMITIVES))) for _ in range(NUM_EDGES)]
  info = {}
  for stage in range(3):
    k_stage = jax.random.fold_in(key, stage)
    net = SearchNetwork(num_classes, config.channels,
                        config.layers + config.add_layers[stage],
                        tuple(map(tuple, sw_normal)),
                        tuple(map(tuple, sw_reduce)))
    variables = net.init({"params": jax.random.fold_in(k_stage, 10_000),
                          "dropout": k_stage}, x_train[:1])
    params, batch_stats = variables["params"], variables["batch_stats"]
    steps = config.steps_per_epoch

    def lr_at(count, steps=steps):
      epoch = count // steps
      return 0.5 * config.weight_lr * (1 + jnp.cos(jnp.pi * epoch /
                                                  config.epochs))

    weights_tx, alphas_tx = search_optimizers(weight_lr=lr_at,
                                              arch_lr=config.arch_lr)
    w_state, a_state = weights_tx.init(params), alphas_tx.init(params)

    def step(params, batch_stats, opt_state, x, y, key, rate, *, tx, net=net):
      def loss(p):
        (logits, _), new = net.apply(
            {"params": p, "batch_stats": batch_stats}, x, train=True,
            skip_rate=rate, rngs={"dropout": key}, mutable=["batch_stats"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return ce.mean(), new["batch_stats"]

      (value, batch_stats), grads = jax.value_and_grad(loss, has_aux=True)(
          params)
      updates, opt_state = tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), batch_stats, opt_state

    weight_step = jax.jit(functools.partial(step, tx=weights_tx))
    arch_step = jax.jit(functools.partial(step, tx=alphas_tx))
    for epoch in range(config.epochs):
      rate = jnp.float32(skip_dropout_rate(config.drop_rate[stage], epoch,
                                           config.epochs, config.eps_no_arch))
      k_epoch = jax.random.fold_in(k_stage, epoch)
      for t in range(steps):
        k = jax.random.fold_in(k_epoch, t)
        k_val, k_train, k_arch, k_weights = jax.random.split(k, 4)
        if epoch >= config.eps_no_arch:
          vi = jax.random.randint(k_val, (config.batch_size,), 0,
                                  x_val.shape[0])
          params, batch_stats, a_state = arch_step(
              params, batch_stats, a_state, x_val[vi], y_val[vi], k_arch,
              rate)
        ti = jax.random.randint(k_train, (config.batch_size,), 0,
                                x_train.shape[0])
        params, batch_stats, w_state = weight_step(
            params, batch_stats, w_state, x_train[ti], y_train[ti],
            k_weights, rate)
    logits, _ = net.apply({"params": params, "batch_stats": batch_stats},
                          x_val[:512])
    info[f"stage{stage}_val_accuracy"] = float(
        (logits.argmax(-1) == y_val[:512]).mean())
    if progress:
      print(f"pdarts stage {stage}: {net.layers} cells, ops per edge "
            f"{len(sw_normal[0])}, val accuracy "
            f"{info[f'stage{stage}_val_accuracy']:.3f}")
    a_n = np.asarray(params["alphas_normal"])
    a_r = np.asarray(params["alphas_reduce"])
    if stage < 2:
      sw_normal = drop_operations(sw_normal, a_n, stage)
      sw_reduce = drop_operations(sw_reduce, a_r, stage)
  genotype = derive_genotype(a_n, a_r, sw_normal, sw_reduce,
                             max_skip=config.max_skip)
  info.update(switches_normal=sw_normal, switches_reduce=sw_reduce)
  return genotype, info
