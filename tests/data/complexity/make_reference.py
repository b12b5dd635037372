"""Makes `reference.npz`: small stored inputs and the reference packages'
values on them, for `tests/test_complexity.py`.

Run with the reference environment (never needed by the suite):

  python3 -m venv /tmp/refvenv
  /tmp/refvenv/bin/pip install scikit-dimension problexity numpy scipy \
      scikit-learn
  /tmp/refvenv/bin/python tests/data/complexity/make_reference.py

Every input is float32 (as `jaxdal.complexity` sees it); the references are
computed in float64 from those float32 values.
"""

import importlib.metadata
import json
import os

import numpy as np
import problexity
import skdim
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import distance_matrix

HERE = os.path.dirname(os.path.abspath(__file__))


def make_inputs() -> dict[str, np.ndarray]:
  rng = np.random.default_rng(20240607)
  out = {}

  # Three overlapping Gaussian classes, 400 x 20.
  means = rng.normal(scale=0.6, size=(3, 20))
  y = rng.integers(0, 3, size=400)
  out["mixture3_x"] = (means[y] + rng.normal(size=(400, 20))).astype(
      np.float32)
  out["mixture3_y"] = y.astype(np.int32)

  # Two strongly overlapping classes with unequal sizes, 300 x 8.
  y = (rng.random(300) < 0.4).astype(np.int32)
  x = rng.normal(size=(300, 8)) * rng.uniform(0.5, 2.0, size=8)
  x[y == 1, :3] += 0.7
  out["overlap2_x"] = x.astype(np.float32)
  out["overlap2_y"] = y

  # A curved 5-dimensional manifold in 64 dimensions, 500 x 64: a smooth
  # map of t in [0, 1]^5, embedded linearly.
  t = rng.random((500, 5))
  w = rng.normal(size=(5, 5))
  feats = np.concatenate([t, np.sin(2.0 * t @ w), np.cos(1.5 * t @ w)],
                         axis=1)
  out["manifold5_x"] = (feats @ rng.normal(size=(15, 64))).astype(np.float32)

  # Duplicated rows (20 of 300, in 10 dimensions, so that skdim takes its
  # exact NearestNeighbors path and drops them with r1 == 0).
  x = rng.normal(size=(280, 10)).astype(np.float32)
  out["duplicates_x"] = np.concatenate([x, x[rng.choice(280, 20, False)]])
  return out


def effective_rank(x: np.ndarray) -> float:
  s = np.linalg.svd(x - x.mean(0), compute_uv=False)
  p = s / s.sum()
  p = p[p > 0]
  return float(np.exp(-(p * np.log(p)).sum()))


def participation_ratio(x: np.ndarray) -> float:
  lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))
  return float(lam.sum() ** 2 / (lam**2).sum())


def problexity_f1_n1(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
  """problexity's own multi-class handling (ComplexityCalculator, 'ovo')."""
  cc = problexity.ComplexityCalculator(
      metrics=[problexity.classification.f1, problexity.classification.n1],
      colors=["#000000"], ranges={"FB": 2}, weights=[1, 1],
      multiclass_strategy="ovo").fit(x, y)
  f1, n1 = cc.complexity
  return float(f1), float(n1)


def ho_basu_n1(x: np.ndarray, y: np.ndarray) -> float:
  """Fraction of points on a cross-class edge of one MST over all points,
  with the MST problexity uses (scipy csgraph on scipy's distances)."""
  mst = minimum_spanning_tree(distance_matrix(x, x)).tocoo()
  assert mst.nnz == len(x) - 1  # connected: no zero-length edges dropped
  cross = y[mst.row] != y[mst.col]
  boundary = np.unique(np.concatenate([mst.row[cross], mst.col[cross]]))
  return len(boundary) / len(x)


def main():
  inputs = make_inputs()
  refs = {}
  for name in ("mixture3", "overlap2", "manifold5", "duplicates"):
    x = inputs[f"{name}_x"].astype(np.float64)
    refs[f"{name}_twonn"] = skdim.id.TwoNN().fit(x).dimension_
    refs[f"{name}_effective_rank"] = effective_rank(x)
    refs[f"{name}_participation_ratio"] = participation_ratio(x)
    if f"{name}_y" in inputs:
      y = inputs[f"{name}_y"]
      f1, n1 = problexity_f1_n1(x, y)
      refs[f"{name}_fisher_ratio"] = f1
      refs[f"{name}_problexity_n1"] = n1
      refs[f"{name}_boundary_fraction"] = ho_basu_n1(x, y)
  refs = {k: np.float64(v) for k, v in refs.items()}
  np.savez_compressed(os.path.join(HERE, "reference.npz"), **inputs, **refs)
  versions = {p: importlib.metadata.version(p) for p in (
      "scikit-dimension", "problexity", "numpy", "scipy", "scikit-learn")}
  print(json.dumps(versions))
  for k, v in refs.items():
    print(f"{k:34s} {v:.10g}")


if __name__ == "__main__":
  main()
