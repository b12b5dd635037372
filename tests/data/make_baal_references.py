"""Writes baal_references.npz (and .json): baal 2.1.0 on small seeded inputs.

Run from the repository root with a separate environment that holds baal
(it needs PyTorch; jaxdal's environment does not):

  python3 -m venv /work/refvenv
  /work/refvenv/bin/pip install torch==2.13.0  # a CPU wheel
  /work/refvenv/bin/pip install baal==2.1.0 numpy
  /work/refvenv/bin/python tests/data/make_baal_references.py

Stored (jaxdal's layout, MC samples first: `[T, N, C]`; baal is given
`[N, C, T]`):
  mc_probs, pool_mask: the pool and which rows baal's samplers see.
  variance: `Variance()` (mean over classes of `np.var` over samples).
  variance_sqrt: `Variance(reduction=...)` with the square root taken
    before the class mean, i.e. Kampffmeyer's mean standard deviation
    through baal's code path.
  bald, entropy: `BALD()`, `Entropy()`.
  epig_{a,b}_pool, epig_{a,b}_targets, epig_{a,b}: `EPIG()`.
  dist_{power,gibbs,rank}_{bald,entropy}_t{temperature}: the distribution
    that `PowerSampling`, `GibbsSampling` and `RankBasedSampling` pass to
    `np.random.choice` (second value of `get_ranks`) for the rows of
    `pool_mask`, scattered back to `[N]` (0 elsewhere). The draw itself is
    on the unseeded global NumPy RNG, so only distributions are stored.
"""

import importlib.metadata
import json
import os
import platform
import sys

import numpy as np
import scipy
import torch
from baal.active.heuristics import BALD, EPIG, Entropy, Variance
from baal.active.heuristics.stochastics import (
    GibbsSampling,
    PowerSampling,
    RankBasedSampling,
)

HERE = os.path.dirname(os.path.abspath(__file__))
T, N, C = 8, 16, 4
TEMPERATURES = (1.0, 0.5, 2.0)
QUERY_SIZE = 3


def _to_baal(p):
  """`[T, N, C]` -> baal's `[N, C, T]`."""
  return np.ascontiguousarray(np.transpose(p, (1, 2, 0)))


def _mc_probs(rng, t, n, c):
  return rng.dirichlet(np.full(c, 0.7), size=(t, n)).astype(np.float32)


def main():
  rng = np.random.default_rng(20230412)
  out = {}
  probs = _mc_probs(rng, T, N, C)
  probs[:, 5] = probs[:, 2]  # a tie: equal scores, averaged ranks
  out["mc_probs"] = probs
  baal_probs = _to_baal(probs)

  out["variance"] = Variance().get_uncertainties(baal_probs)
  sqrt_mean = lambda v: np.mean(np.sqrt(v), axis=tuple(range(1, v.ndim)))
  out["variance_sqrt"] = Variance(reduction=sqrt_mean).get_uncertainties(
      baal_probs)
  out["bald"] = BALD().get_uncertainties(baal_probs)
  out["entropy"] = Entropy().get_uncertainties(baal_probs)

  # EPIG, a: random probabilities; b: more classes, and exact zeros.
  for case, (t, n_pool, n_targ, c) in {"a": (T, N, 6, C),
                                       "b": (5, 12, 9, 6)}.items():
    pool = _mc_probs(rng, t, n_pool, c)
    targets = _mc_probs(rng, t, n_targ, c)
    if case == "b":
      eye = np.eye(c, dtype=np.float32)
      pool[:, :3] = eye[rng.integers(0, c, (t, 3))]
      targets[:, :2] = eye[rng.integers(0, c, (t, 2))]
    out[f"epig_{case}_pool"] = pool
    out[f"epig_{case}_targets"] = targets
    out[f"epig_{case}"] = EPIG().get_uncertainties(
        _to_baal(pool), target_predictions=_to_baal(targets))

  # baal's samplers see the unlabeled pool only: the rows of pool_mask.
  pool_mask = np.ones(N, bool)
  pool_mask[[0, 7, 11]] = False
  out["pool_mask"] = pool_mask
  samplers = {"power": PowerSampling, "gibbs": GibbsSampling,
              "rank": RankBasedSampling}
  for name, sampler in samplers.items():
    for base_name, base in (("bald", BALD), ("entropy", Entropy)):
      for temperature in TEMPERATURES:
        heuristic = sampler(base(), query_size=QUERY_SIZE,
                            temperature=temperature)
        _, dist = heuristic.get_ranks(baal_probs[pool_mask])
        full = np.zeros(N, np.float64)
        full[pool_mask] = dist
        out[f"dist_{name}_{base_name}_t{temperature:g}"] = full

  np.savez_compressed(os.path.join(HERE, "baal_references.npz"), **out)
  meta = {
      "baal": importlib.metadata.version("baal"),
      "torch": torch.__version__,
      "numpy": np.__version__,
      "scipy": scipy.__version__,
      "python": platform.python_version(),
      "command": "/work/refvenv/bin/python tests/data/"
                 "make_baal_references.py",
      "layout": "[T, N, C] (MC samples first); baal was given [N, C, T]",
      "temperatures": list(TEMPERATURES),
      "query_size": QUERY_SIZE,
      "keys": sorted(out),
  }
  with open(os.path.join(HERE, "baal_references.json"), "w") as f:
    json.dump(meta, f, indent=1)
    f.write("\n")
  print(f"wrote {len(out)} arrays with baal {meta['baal']}, torch "
        f"{meta['torch']}", file=sys.stderr)


if __name__ == "__main__":
  main()
