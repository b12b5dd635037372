r"""Coreset and BADGE on pools of 10^4 to 10^6 memory-mapped features:
time, peak memory, bytes per point and the memory-bandwidth floor.

  python benchmarks/scaling.py                      # N = 1e4, 1e5, 1e6
  python benchmarks/scaling.py --sizes 10000 --k 100

Each (method, N) runs in its own process on a `[N, 512]` float32 `.npy`
written beforehand (a mixture of 100 Gaussian clusters) and opened with
`mmap_mode="r"` (`jaxdal.acquisition.streamed`, `--chunk` rows per device
block; `--spread` sets the clusters' width, and so whether pruning pays).
Peak memory is the process's largest anonymous (private) resident
memory, sampled every 20 ms, so the file's page cache is not counted; the
floor is the bytes a selection must stream (every pick reads the pool once,
or the rows it did not prune) over the machine's copy bandwidth (NumPy,
1 GiB), measured in the same process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _anon_bytes() -> int:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("RssAnon:"):
        return int(line.split()[1]) * 1024
  return 0


def bandwidth() -> float:
  """Bytes/s of a 1 GiB NumPy copy (read + write counted once each)."""
  import numpy as np
  a = np.ones(1 << 28, np.float32)
  b = np.empty_like(a)
  best = float("inf")
  for _ in range(3):
    t0 = time.perf_counter()
    np.copyto(b, a)
    best = min(best, time.perf_counter() - t0)
  return 2 * a.nbytes / best


def make_pool(path: str, n: int, d: int, classes: int, spread: float,
              seed: int = 0):
  import numpy as np
  rng = np.random.default_rng(seed)
  centres = rng.normal(size=(100, d)).astype(np.float32) * 4
  out = np.lib.format.open_memmap(path, "w+", np.float32, (n, d))
  for s in range(0, n, 100_000):
    e = min(s + 100_000, n)
    out[s:e] = centres[rng.integers(0, 100, e - s)] + spread * rng.normal(
        size=(e - s, d)).astype(np.float32)
  out.flush()
  logits = rng.normal(size=(n, classes)).astype(np.float32) * 3
  probs = np.exp(logits - logits.max(1, keepdims=True))
  np.save(path + ".probs.npy", probs / probs.sum(1, keepdims=True))


def child(method: str, path: str, k: int, chunk: int) -> dict:
  import jax
  import numpy as np

  from jaxdal.acquisition import streamed
  peak = [_anon_bytes()]
  stop = threading.Event()

  def watch():
    while not stop.is_set():
      peak[0] = max(peak[0], _anon_bytes())
      time.sleep(0.02)

  bw = bandwidth()
  base = _anon_bytes()
  features = np.load(path, mmap_mode="r")
  n, d = features.shape
  rng = np.random.default_rng(1)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, 100, replace=False)] = True
  threading.Thread(target=watch, daemon=True).start()
  t0 = time.perf_counter()
  if method == "coreset":
    _, info = streamed.kcenter_greedy(None, k, features=features,
                                      labeled=labeled, chunk=chunk,
                                      return_info=True)
    streamed_bytes = info["rows_read"] * d * 4
  else:
    probs = np.load(path + ".probs.npy", mmap_mode="r")
    streamed.badge(jax.random.key(0), k, ~labeled, probs=probs,
                   features=features, chunk=chunk)
    info = {}
    streamed_bytes = k * n * (d + probs.shape[1]) * 4
  seconds = time.perf_counter() - t0
  stop.set()
  return {"method": method, "n": n, "d": d, "k": k, "chunk": chunk,
          "seconds": round(seconds, 2),
          "peak_anon_mib": round(peak[0] / 2**20, 1),
          "added_bytes_per_point": round((peak[0] - base) / n, 1),
          "bandwidth_gb_s": round(bw / 1e9, 2),
          "floor_s": round(streamed_bytes / bw, 2),
          "ratio_to_floor": round(seconds / (streamed_bytes / bw), 2),
          **info}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--sizes", default="10000,100000,1000000")
  ap.add_argument("--methods", default="coreset,badge")
  ap.add_argument("--d", type=int, default=512)
  ap.add_argument("--k", type=int, default=1000)
  ap.add_argument("--chunk", type=int, default=65536)
  ap.add_argument("--spread", type=float, default=1.0,
                  help="standard deviation of a cluster (centres: 4)")
  ap.add_argument("--dir", default=tempfile.gettempdir())
  ap.add_argument("--child", default="")
  ap.add_argument("--path", default="")
  args = ap.parse_args()
  if args.child:
    print("RESULT " + json.dumps(child(args.child, args.path, args.k,
                                       args.chunk)), flush=True)
    return
  for n in (int(v) for v in args.sizes.split(",")):
    path = os.path.join(args.dir, f"jaxdal_scaling_{n}x{args.d}"
                        f"{'' if args.spread == 1 else f'_s{args.spread}'}.npy")
    if not os.path.exists(path + ".probs.npy"):
      make_pool(path, n, args.d, 10, args.spread)
    for method in args.methods.split(","):
      env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
      out = subprocess.run(
          [sys.executable, os.path.abspath(__file__), "--child", method,
           "--path", path, "--k", str(args.k), "--chunk", str(args.chunk)],
          capture_output=True, text=True, env=env)
      lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
      if not lines:
        print(out.stderr[-2000:], file=sys.stderr)
        continue
      print(lines[0][7:], flush=True)


if __name__ == "__main__":
  main()
