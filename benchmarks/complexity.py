r"""Complexity measures on 5,000 x 512 features with 10 classes: jaxdal
against the reference packages on the same input.

  python benchmarks/complexity.py
  python benchmarks/complexity.py --ref_python /tmp/refvenv/bin/python

The features are seeded: 10 class means plus a 16-dimensional latent
through a random 512 x 16 map plus isotropic noise, float32. Each jaxdal
function is called once to compile, then timed (best of `--repeats`).
With `--ref_python` (a Python with scikit-dimension, problexity, scipy,
scikit-learn), the same array is timed there once: `skdim.id.TwoNN`,
problexity's F1 and N1 through `ComplexityCalculator` ('ovo', as
`fisher_ratio` and `problexity_n1` match), numpy effective rank and
participation ratio, and Ho & Basu's N1 from scipy's MST. Prints a table
and one JSON object.
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time

import jax
import numpy as np

from jaxdal import complexity

REF_SCRIPT = r"""
import json, sys, time
import numpy as np
import problexity, skdim
from scipy.sparse.csgraph import minimum_spanning_tree
from sklearn.metrics import pairwise_distances

data = np.load(sys.argv[1])
x, y = data["x"].astype(np.float64), data["y"]
out = {}

def timed(name, fn):
  t0 = time.perf_counter()
  value = fn()
  out[name] = {"seconds": time.perf_counter() - t0, "value": float(value)}

def spectrum():
  s = np.linalg.svd(x - x.mean(0), compute_uv=False)
  p = s / s.sum()
  lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))
  return np.exp(-(p * np.log(p)).sum()), lam.sum() ** 2 / (lam ** 2).sum()

def ho_basu():
  mst = minimum_spanning_tree(pairwise_distances(x)).tocoo()
  cross = y[mst.row] != y[mst.col]
  return len(np.unique(np.r_[mst.row[cross], mst.col[cross]])) / len(x)

def calc(metric):
  return problexity.ComplexityCalculator(
      metrics=[metric], colors=["#000000"], ranges={"X": 1}, weights=[1],
      multiclass_strategy="ovo").fit(x, y).complexity[0]

timed("twonn", lambda: skdim.id.TwoNN().fit(x).dimension_)
timed("effective_rank+participation_ratio", lambda: spectrum()[0])
timed("fisher_ratio", lambda: calc(problexity.classification.f1))
timed("boundary_fraction", ho_basu)
timed("problexity_n1", lambda: calc(problexity.classification.n1))
print(json.dumps(out))
"""


def make_features(n=5000, d=512, num_classes=10, seed=0):
  rng = np.random.default_rng(seed)
  y = rng.integers(0, num_classes, size=n)
  means = rng.normal(scale=0.5, size=(num_classes, d))
  latent = rng.normal(size=(n, 16)) @ rng.normal(size=(16, d)) / 4.0
  x = means[y] + latent + 0.3 * rng.normal(size=(n, d))
  return x.astype(np.float32), y.astype(np.int32)


def best_time(fn, repeats):
  fn()  # compiles
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    value = fn()
    times.append(time.perf_counter() - t0)
  return min(times), value


def cpu_model() -> str:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
      if line.startswith("Model name"):
        return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--ref_python", default=None,
                  help="python with skdim, problexity, scipy, scikit-learn")
  ap.add_argument("--repeats", type=int, default=3)
  args = ap.parse_args()

  x, y = make_features()
  xj, yj = jax.device_put(x), jax.device_put(y)
  c = 10
  calls = {
      "measures (all five)": lambda: complexity.measures(xj, yj, c),
      "twonn": lambda: complexity.twonn_dimension(xj),
      "effective_rank+participation_ratio":
          lambda: complexity.effective_rank(xj),
      "fisher_ratio": lambda: complexity.fisher_ratio(xj, yj, c),
      "boundary_fraction": lambda: complexity.boundary_fraction(xj, yj),
      "problexity_n1": lambda: complexity.problexity_n1(xj, yj, c),
  }
  ours = {}
  for name, fn in calls.items():
    seconds, value = best_time(fn, args.repeats)
    ours[name] = {"seconds": seconds, "value": value}

  ref = {}
  if args.ref_python:
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "features.npz")
      np.savez(path, x=x, y=y)
      out = subprocess.run([args.ref_python, "-c", REF_SCRIPT, path],
                           capture_output=True, text=True, check=True)
      ref = json.loads(out.stdout.strip().splitlines()[-1])
    # The reference counterpart of `measures`: its five values, one by one.
    ref["measures (all five)"] = {
        "seconds": sum(ref[k]["seconds"] for k in (
            "twonn", "effective_rank+participation_ratio", "fisher_ratio",
            "boundary_fraction")),
        "value": None}

  print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; "
        f"jax {jax.__version__} on {jax.default_backend()}; "
        f"features {x.shape}, 10 classes")
  print(f"| {'measure':36s} | jaxdal s | reference s | speed-up |"
        " jaxdal value | reference value |")
  print("|" + "---|" * 6)
  for name, mine in ours.items():
    theirs = ref.get(name)
    ref_s = f"{theirs['seconds']:11.2f}" if theirs else f"{'':11s}"
    speed = (f"{theirs['seconds'] / mine['seconds']:7.0f}x" if theirs
             else f"{'':8s}")
    value = (f"{mine['value']:.6g}" if not isinstance(mine["value"], dict)
             else "(5 values)")
    ref_v = (f"{theirs['value']:.6g}" if theirs and theirs["value"]
             is not None else "")
    print(f"| {name:36s} | {mine['seconds']:8.3f} | {ref_s} | {speed} |"
          f" {value:12s} | {ref_v:15s} |")
  print(json.dumps({"cpu": cpu_model(), "backend": jax.default_backend(),
                    "jaxdal": ours, "reference": ref}))


if __name__ == "__main__":
  main()
