r"""Acquisition speed and memory: jaxdal vs NumPy vs decile-distil and baal.

Each measurement runs in its own subprocess so its peak memory (ru_maxrss
above the RSS once the inputs exist) is its own.

  python benchmarks/acquisition.py                      # everything found
  python benchmarks/acquisition.py --only jaxdal_coreset --n 5000

decile-distil and baal are timed when importable (`pip install -e
'.[bench]'`, or point `--bench_python` at an interpreter that has them, so
torch stays out of the jaxdal environment). Results are printed as a
Markdown table and appended to benchmarks/RESULTS.md with --record.

The acquisitions taken from the peer libraries (TypiClust, ProbCover,
MaxHerding, CLUE, the committee scores, k-means centroids, EPIG, the
stochastic and variance scores, BAIT, Cluster-Margin, ALFA-Mix) have their
rows against scikit-activeml, baal and decile-distil in
`benchmarks/acquisition_peers.py`, on its own inputs (20,000 x 512, k =
500) and with the references in a venv of their own.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_mb() -> float:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_inputs(n, d, c, t, n_labeled, seed=0):
  rng = np.random.default_rng(seed)
  # Clustered features (like a trained network's), not isotropic noise.
  centres = rng.normal(size=(c, d)).astype(np.float32) * 3
  labels = rng.integers(0, c, n)
  feats = (centres[labels] + rng.normal(size=(n, d))).astype(np.float32)
  logits = rng.normal(size=(n, c)).astype(np.float32) * 2
  probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  mc_logits = logits[None] + rng.normal(size=(t, n, c)).astype(np.float32)
  probs_mc = np.exp(mc_logits) / np.exp(mc_logits).sum(-1, keepdims=True)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, n_labeled, replace=False)] = True
  return feats, probs.astype(np.float32), probs_mc.astype(np.float32), labeled


# ---------------------------------------------------------------- methods


def jaxdal_coreset(feats, probs, probs_mc, labeled, k):
  import jax
  import jax.numpy as jnp

  from jaxdal import acquisition as acq
  x, lab = jnp.asarray(feats), jnp.asarray(labeled)
  t0 = time.perf_counter()
  acq.kcenter_greedy(None, k, features=x, labeled=lab).block_until_ready()
  compile_and_run = time.perf_counter() - t0
  t0 = time.perf_counter()
  idx = acq.kcenter_greedy(None, k, features=x,
                           labeled=lab).block_until_ready()
  del jax
  return np.asarray(idx), time.perf_counter() - t0, compile_and_run


def jaxdal_coreset_pruned(feats, probs, probs_mc, labeled, k):
  import jax.numpy as jnp

  from jaxdal import acquisition as acq
  x, lab = jnp.asarray(feats), jnp.asarray(labeled)
  t0 = time.perf_counter()
  acq.kcenter_greedy(None, k, features=x, labeled=lab,
                     prune=True)[0].block_until_ready()
  compile_and_run = time.perf_counter() - t0
  t0 = time.perf_counter()
  idx, reads = acq.kcenter_greedy(None, k, features=x, labeled=lab,
                                  prune=True, return_reads=True)
  idx.block_until_ready()
  sec = time.perf_counter() - t0
  stats = {"first_call_s": compile_and_run, "rows_read": int(reads),
           "rows_read_unpruned": k * len(feats)}
  return np.asarray(idx), sec, stats


def numpy_coreset(feats, probs, probs_mc, labeled, k):
  t0 = time.perf_counter()
  x = feats
  sq = (x * x).sum(1)
  xl = x[labeled]
  min_sq = np.full(len(x), np.inf, np.float32)
  for s in range(0, len(xl), 1024):
    blk = xl[s:s + 1024]
    d = sq[:, None] + (blk * blk).sum(1)[None] - 2 * x @ blk.T
    min_sq = np.minimum(min_sq, d.min(1))
  avail = ~labeled
  out = []
  for _ in range(k):
    j = int(np.argmax(np.where(avail, min_sq, -np.inf)))
    out.append(j)
    avail[j] = False
    diff = x - x[j]
    np.minimum(min_sq, np.einsum("nd,nd->n", diff, diff), out=min_sq)
  return np.array(out), time.perf_counter() - t0, None


def distil_coreset(feats, probs, probs_mc, labeled, k):
  from distil.active_learning_strategies.core_set import CoreSet
  pool = np.flatnonzero(~labeled)
  t0 = time.perf_counter()
  local = CoreSet.furthest_first(None, feats[pool], feats[labeled], k)
  return pool[np.asarray(local)], time.perf_counter() - t0, None


def jaxdal_badge(feats, probs, probs_mc, labeled, k):
  import jax
  import jax.numpy as jnp

  from jaxdal import acquisition as acq
  p, f, a = jnp.asarray(probs), jnp.asarray(feats), jnp.asarray(~labeled)
  t0 = time.perf_counter()
  acq.badge(jax.random.key(0), k, a, probs=p,
            features=f).block_until_ready()
  compile_and_run = time.perf_counter() - t0
  t0 = time.perf_counter()
  idx = acq.badge(jax.random.key(0), k, a, probs=p,
                  features=f).block_until_ready()
  return np.asarray(idx), time.perf_counter() - t0, compile_and_run


def distil_badge(feats, probs, probs_mc, labeled, k):
  from distil.active_learning_strategies.badge import init_centers
  pool = np.flatnonzero(~labeled)
  t0 = time.perf_counter()
  # distil's gradient embedding for the last layer, materialised [N, C*D].
  p = probs[pool]
  resid = p - np.eye(p.shape[1], dtype=np.float32)[p.argmax(1)]
  emb = (resid[:, :, None] * feats[pool][:, None, :]).reshape(len(pool), -1)
  local = init_centers(emb, k, "cpu")
  return pool[np.asarray(local)], time.perf_counter() - t0, None


def _score_bench(fn, arrays, repeats=20):
  fn(*arrays)
  t0 = time.perf_counter()
  for _ in range(repeats):
    out = fn(*arrays)
  return out, (time.perf_counter() - t0) / repeats


def jaxdal_scores(feats, probs, probs_mc, labeled, k):
  import jax
  import jax.numpy as jnp

  from jaxdal import acquisition as acq
  pm = jnp.asarray(probs_mc)
  res = {}
  for name in ("bald", "entropy", "margin"):
    f = jax.jit(getattr(acq, name))
    out, sec = _score_bench(lambda a, f=f: f(a).block_until_ready(), (pm,))
    res[name] = sec
  return None, res, None


def baal_scores(feats, probs, probs_mc, labeled, k):
  from baal.active.heuristics import BALD, Entropy, Margin
  preds = np.ascontiguousarray(probs_mc.transpose(1, 2, 0))  # [N, C, T]
  res = {}
  for name, h in (("bald", BALD()), ("entropy", Entropy()),
                  ("margin", Margin())):
    _, sec = _score_bench(h.compute_score, (preds,), repeats=5)
    res[name] = sec
  return None, res, None


def jax_read_bandwidth(feats, probs, probs_mc, labeled, k):
  import jax
  import jax.numpy as jnp
  x = jnp.asarray(feats)
  f = jax.jit(lambda a: jnp.sum(a, axis=1))
  f(x).block_until_ready()
  t0 = time.perf_counter()
  reps = 50
  for _ in range(reps):
    f(x).block_until_ready()
  sec = (time.perf_counter() - t0) / reps
  return None, x.size * 4 / sec / 1e9, None


def coreset_vs_floor(feats, probs, probs_mc, labeled, k):
  """Coreset time against the bandwidth floor, measured alternately in one
  process (the machine's bandwidth drifts), best of 3 each."""
  import jax
  import jax.numpy as jnp

  from jaxdal import acquisition as acq
  x, lab = jnp.asarray(feats), jnp.asarray(labeled)
  read = jax.jit(lambda a: jnp.sum(a, axis=1))
  read(x).block_until_ready()
  acq.kcenter_greedy(None, k, features=x, labeled=lab).block_until_ready()
  acq.kcenter_greedy(None, k, features=x, labeled=lab,
                     prune=True).block_until_ready()
  bw, plain, pruned = [], [], []
  for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(20):
      read(x).block_until_ready()
    bw.append(x.size * 4 * 20 / (time.perf_counter() - t0) / 1e9)
    t0 = time.perf_counter()
    acq.kcenter_greedy(None, k, features=x, labeled=lab).block_until_ready()
    plain.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    acq.kcenter_greedy(None, k, features=x, labeled=lab,
                       prune=True).block_until_ready()
    pruned.append(time.perf_counter() - t0)
  floor = k * x.size * 4 / (max(bw) * 1e9)
  return None, {"bandwidth_gbs": max(bw), "floor_s": floor,
                "plain_s": min(plain), "pruned_s": min(pruned),
                "plain_over_floor": min(plain) / floor,
                "pruned_over_floor": min(pruned) / floor}, None


METHODS = {f.__name__: f for f in (
    jaxdal_coreset, jaxdal_coreset_pruned, numpy_coreset, distil_coreset,
    jaxdal_badge, distil_badge,
    jaxdal_scores, baal_scores, jax_read_bandwidth, coreset_vs_floor)}
NEEDS = {"distil_coreset": "distil", "distil_badge": "distil",
         "baal_scores": "baal"}


def _import_runtime(name):
  """Loads the method's libraries before the memory baseline is taken."""
  if name.startswith("distil"):
    import distil.active_learning_strategies  # noqa: F401
  elif name.startswith("baal"):
    import baal.active.heuristics  # noqa: F401
  elif name.startswith(("jaxdal", "jax_", "coreset_")):
    import jax.numpy as jnp

    import jaxdal.acquisition  # noqa: F401
    jnp.zeros(1).block_until_ready()


def child(args):
  feats, probs, probs_mc, labeled = make_inputs(args.n, args.d, args.c,
                                                args.t, args.labeled)
  _import_runtime(args.child)
  before = rss_mb()
  idx, sec, extra = METHODS[args.child](feats, probs, probs_mc, labeled,
                                        args.k)
  out = {"seconds": sec, "first_call_s": extra,
         "peak_extra_mb": peak_mb() - before,
         "idx": None if idx is None else idx.tolist()}
  print("RESULT " + json.dumps(out))


def run_child(python, name, args):
  cmd = [python, os.path.abspath(__file__), "--child", name, "--n",
         str(args.n), "--d", str(args.d), "--c", str(args.c), "--t",
         str(args.t), "--labeled", str(args.labeled), "--k", str(args.k)]
  env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
  for line in proc.stdout.splitlines():
    if line.startswith("RESULT "):
      return json.loads(line[7:])
  print(f"{name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
  return None


def importable(python, module):
  return subprocess.run([python, "-c", f"import {module}"],
                        capture_output=True).returncode == 0


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--n", type=int, default=50_000)
  ap.add_argument("--d", type=int, default=512)
  ap.add_argument("--c", type=int, default=10)
  ap.add_argument("--t", type=int, default=20)
  ap.add_argument("--labeled", type=int, default=1000)
  ap.add_argument("--k", type=int, default=1000)
  ap.add_argument("--only", default="")
  ap.add_argument("--bench_python", default=sys.executable,
                  help="interpreter with torch, decile-distil and baal")
  ap.add_argument("--child", default="")
  ap.add_argument("--out", default="", help="write the results as JSON")
  args = ap.parse_args()
  if args.child:
    return child(args)
  names = args.only.split(",") if args.only else list(METHODS)
  results = {}
  for name in names:
    python = args.bench_python if name in NEEDS else sys.executable
    if name in NEEDS and not importable(python, NEEDS[name]):
      print(f"skip {name}: {NEEDS[name]} not importable by {python}")
      continue
    print(f"running {name} ...", flush=True)
    results[name] = run_child(python, name, args)
    r = results[name]
    if r:
      shown = {k: v for k, v in r.items() if k != "idx"}
      print(f"  {name}: {json.dumps(shown)}", flush=True)
  if args.out:
    with open(args.out, "w") as f:
      json.dump({"args": vars(args), "results": results}, f)


if __name__ == "__main__":
  main()
