"""PDARTS as an active-learning method: the `SearchMethod` the loop runs,
and how its architecture summary (a genotype) is shown and drawn."""

import json
import os

import numpy as np

from jaxdal.archopt import base
from jaxdal.archopt.pdarts.derived import DerivedNetwork
from jaxdal.archopt.pdarts.genotype import (
    PUBLISHED,
    Genotype,
    genotype_from_dict,
    genotype_to_dict,
)
from jaxdal.archopt.pdarts.ops import PRIMITIVES
from jaxdal.archopt.pdarts.search import SearchConfig, search

__all__ = ["SPEC", "describe", "draw", "make"]


def make(num_classes: int, *, channels: int = 16, layers: int = 8,
         dropout_rate: float = 0.3, genotype: dict | None = None,
         search_config: dict | None = None) -> base.SearchMethod:
  """PDARTS as an active-learning method.

  The network is a `DerivedNetwork` (`channels`, `layers` cells) of a
  genotype: `genotype` (a `genotype_to_dict` dict) or the published
  CIFAR-10 one until a search replaces it. `search_config` holds
  `SearchConfig` fields (default: the official search). The loop calls
  `search` on its data when the mode asks for it (every round in joint
  mode; once in SPO/UPO) and trains `adopt(found)`, a fixed network.
  """
  config = SearchConfig.from_dict(search_config or {})
  start = PUBLISHED if genotype is None else genotype_from_dict(genotype)

  def derived(genotype: Genotype, source: str) -> base.Method:
    net = DerivedNetwork(num_classes, genotype, channels=channels,
                         layers=layers, dropout_rate=dropout_rate)
    return base.fixed(net, {"genotype": genotype_to_dict(genotype),
                            "cells": layers, "source": source})

  def run_search(x_weights, y_weights, x_arch, y_arch, key,
                 progress=False) -> dict:
    genotype, info = search(x_weights, y_weights, x_arch, y_arch, key,
                            num_classes=num_classes, config=config,
                            progress=progress)
    return {"genotype": genotype_to_dict(genotype),
            **{k: v for k, v in info.items() if k.endswith("accuracy")}}

  def adopt(found: dict) -> base.Method:
    return derived(genotype_from_dict(found["genotype"]), "search")

  def identity(found: dict) -> str:
    return json.dumps(found["genotype"])

  def info(found: dict) -> dict:
    return {k: v for k, v in found.items() if k != "genotype"}

  return base.SearchMethod(
      default=derived(start, "given" if genotype else "published"),
      search=run_search, adopt=adopt, identity=identity, info=info)


_SHORT_OPS = {"max_pool_3x3": "max", "avg_pool_3x3": "avg",
              "skip_connect": "skip", "sep_conv_3x3": "sep3",
              "sep_conv_5x5": "sep5", "dil_conv_3x3": "dil3",
              "dil_conv_5x5": "dil5"}


def describe(arch: dict | None) -> str:
  """Console text of a genotype summary (`""` for None):
  `normal skip(0) dil3(1) ...; reduce avg(0) sep5(1) ...`."""
  if not arch:
    return ""
  return "; ".join(
      f"{cell} " + " ".join(f"{_SHORT_OPS.get(op, op)}({j})"
                            for op, j in arch["genotype"][cell])
      for cell in ("normal", "reduce"))


def draw(config: dict, records: list[dict], out: str) -> str | None:
  """Operation counts of the normal and reduction cells, one column per
  round (each cell has 8 edges), saved at `out`.

  Records whose `architecture` holds no genotype are skipped; None (and
  nothing written) when none has one.
  """
  records = [r for r in records
             if (r.get("architecture") or {}).get("genotype")]
  if not records:
    return None
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  ops = [op for op in PRIMITIVES if op != "none"]
  colors = plt.cm.tab10(np.arange(len(ops)))
  fig, axes = plt.subplots(1, 2, figsize=(1.0 * len(records) + 4.5, 3.4),
                           dpi=120, sharey=True)
  x = np.arange(len(records))
  for ax, cell in zip(axes, ("normal", "reduce"), strict=True):
    bottom = np.zeros(len(records))
    for op, color in zip(ops, colors, strict=True):
      counts = np.array([sum(o == op for o, _ in
                             r["architecture"]["genotype"][cell])
                         for r in records], float)
      ax.bar(x, counts, bottom=bottom, color=color, label=op, width=0.7)
      bottom += counts
    ax.set_xticks(x, [f"{r['round']}\n{r['labeled']}" for r in records],
                  fontsize=7)
    ax.set_xlabel("round / labels", fontsize=8)
    ax.set_title(f"{cell} cell", fontsize=9)
  axes[0].set_ylabel("edges using the operation", fontsize=8)
  axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
  fig.suptitle(f"{config.get('method', '?')} ({config.get('mode', '?')}) on "
               f"{config.get('dataset', '?')}, {config.get('acquisition')}: "
               f"genotype per round", fontsize=10)
  os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
  fig.savefig(out, bbox_inches="tight")
  plt.close(fig)
  return out


SPEC = base.MethodSpec(make=make, describe=describe, draw=draw)
