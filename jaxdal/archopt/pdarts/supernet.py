"""The PDARTS search network (the official `model_search.py`): cells that
mix the switched-on operations of every edge with softmax weights of the
architecture parameters, and the masks of the static-shape search form."""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdal.archopt.pdarts.ops import (
    PRIMITIVES,
    FactorizedReduce,
    MixedOp,
    ReLUConvBN,
    _bn,
    _conv,
)

__all__ = ["Cell", "NUM_EDGES", "STEPS", "SearchNetwork", "alphas_on",
           "cell_plan", "edge_inputs", "reduction_cells", "skip_dropout_rate",
           "stem", "switch_mask"]

STEPS = 4  # intermediate nodes per cell
NUM_EDGES = sum(2 + i for i in range(STEPS))  # 14


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
