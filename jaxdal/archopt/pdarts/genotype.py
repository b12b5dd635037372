"""PDARTS genotypes (the official `genotypes.py` and the switch logic of
`train_search.py`): dropping operations between stages, deriving the
final cells from the last stage's alphas, the published genotype, and its
JSON form."""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxdal.archopt.pdarts.ops import NONE, PRIMITIVES, SKIP
from jaxdal.archopt.pdarts.supernet import STEPS, edge_inputs

__all__ = ["Genotype", "NUM_TO_DROP", "NUM_TO_KEEP", "PUBLISHED",
           "derive_genotype", "drop_operations", "genotype_from_dict",
           "genotype_to_dict"]

NUM_TO_KEEP = (5, 3, 1)  # operations per edge after each stage
NUM_TO_DROP = (3, 2, 2)


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
