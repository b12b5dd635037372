r"""Peer acquisitions against their reference libraries: speed and memory.

One row per strategy added in the acquisition-breadth issue, jaxdal's
registry entry (`acquisition.get(name).select`, jitted with `k` static)
against its reference on the same inputs: scikit-activeml 1.0.1
(TypiClust, ProbCover, MaxHerding, Clue, QueryByCommittee),
decile-distil 0.2.0 (KMeansSampling) and baal 2.1.0 (EPIG, Power/Gibbs/
RankBasedSampling over BALD, Variance). BAIT, Cluster-Margin and ALFA-Mix
have no pip reference and are timed alone.

  python benchmarks/acquisition_peers.py \
      --bench_python /work/refvenv/bin/python --n 20000 --d 512 --k 500
  python benchmarks/acquisition_peers.py --only maxherding \
      --size maxherding=8000

The inputs (`acquisition.make_inputs`: clustered features `[N, D]`,
T MC samples of `[N, C]` probabilities, a labeled mask; and M committee
members' probabilities) are written once per size to an .npz that every
measurement loads, so both sides see the same arrays. Each measurement
runs in its own subprocess (`--child`); the references run under
`--bench_python`, so torch stays out of jaxdal's environment. Peak memory
is ru_maxrss above the RSS once inputs and libraries are loaded.

jaxdal: `jax.jit(select, static_argnums=1)`, lowered and compiled first
(compile time reported apart), one warm-up call, then timed calls with
`block_until_ready` (a first call of `--warm_below` seconds or more is
itself the time). References: timed from their first call. A call that
takes under `--repeat_below` seconds is repeated within a 2 s budget and
the median is reported (both sides alike). `--size row=N` runs a row (both
sides) at N rows where a reference cannot run at `--n`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from acquisition import make_inputs, peak_mb, rss_mb  # noqa: E402

NUM_TARGETS = 100  # EPIG's target sample (jaxdal's default M).

# row: (jaxdal entry, reference child or None, reference in words).
ROWS = {
    "typiclust": ("typiclust", "skal_typiclust", "skactiveml TypiClust"),
    "typiclust_uncapped": ("typiclust_uncapped", "skal_typiclust",
                           "skactiveml TypiClust"),
    "probcover": ("probcover", "skal_probcover", "skactiveml ProbCover"),
    "maxherding": ("maxherding", "skal_maxherding", "skactiveml MaxHerding"),
    "clue": ("clue", "skal_clue", "skactiveml Clue"),
    "vote_entropy": ("vote_entropy", "skal_qbc_vote_entropy",
                     "skactiveml QueryByCommittee(vote_entropy)"),
    "consensus_kl": ("consensus_kl", "skal_qbc_kl",
                     "skactiveml QueryByCommittee(KL_divergence)"),
    "kmeans_centroids": ("kmeans_centroids", "distil_kmeans",
                         "distil KMeansSampling"),
    "epig": ("epig", "baal_epig", "baal EPIG"),
    "power_bald": ("power_bald", "baal_power_bald",
                   "baal PowerSampling(BALD)"),
    "softmax_bald": ("softmax_bald", "baal_gibbs_bald",
                     "baal GibbsSampling(BALD)"),
    "rank_bald": ("rank_bald", "baal_rank_bald",
                  "baal RankBasedSampling(BALD)"),
    "variation_ratios": ("variation_ratios", "baal_variance",
                         "baal Variance"),
    "mean_std": ("mean_std", "baal_variance", "baal Variance"),
    "mean_variance": ("mean_variance", "baal_variance", "baal Variance"),
    "bait": ("bait", None, "none on pip"),
    "cluster_margin": ("cluster_margin", None, "none on pip"),
    "alfamix": ("alfamix", None, "none on pip"),
}
# Rows scored on the M committee members rather than the T MC samples.
COMMITTEE = ("vote_entropy", "consensus_kl")
NEEDS = {"skal": "skactiveml", "distil": "distil", "baal": "baal"}


# ---------------------------------------------------------------- inputs


def inputs_path(args, n, d) -> str:
  return os.path.join(args.inputs, f"peers_n{n}_d{d}_c{args.c}_t"
                      f"{args.t}_m{args.members}_l{args.labeled}.npz")


def write_inputs(args, n, d) -> str:
  """The inputs `[n, d]`, written once: the same arrays for both sides."""
  path = inputs_path(args, n, d)
  if os.path.exists(path):
    return path
  feats, probs, probs_mc, labeled = make_inputs(n, d, args.c, args.t,
                                                args.labeled)
  # Committee members: the same logits, each member perturbed.
  rng = np.random.default_rng(1)
  logits = np.log(probs)[None] + rng.normal(
      size=(args.members, n, args.c)).astype(np.float32)
  committee = np.exp(logits - logits.max(-1, keepdims=True))
  committee /= committee.sum(-1, keepdims=True)
  # baal's EPIG targets: as many available rows as jaxdal draws.
  targets = np.sort(rng.choice(np.flatnonzero(~labeled), NUM_TARGETS,
                               replace=False))
  os.makedirs(args.inputs, exist_ok=True)
  np.savez(path, feats=feats, probs_mc=probs_mc,
           committee=committee.astype(np.float32), labeled=labeled,
           epig_targets=targets)
  return path


def _labels(data):
  """scikit-activeml's `y`: class ids on labeled rows, NaN elsewhere."""
  labeled = data["labeled"]
  y = np.full(len(labeled), np.nan)
  y[labeled] = np.arange(labeled.sum()) % data["probs_mc"].shape[-1]
  return y


def _unit_rows(x):
  norm = np.linalg.norm(x, axis=1, keepdims=True)
  return x / np.where(norm > 0, norm, 1.0)


def _baal_pool(data):
  """The available rows as baal takes them, `[N, C, T]` (MC axis last)."""
  pool = data["probs_mc"][:, ~data["labeled"]]
  return np.ascontiguousarray(pool.transpose(1, 2, 0))


# ---------------------------------------------------------------- jaxdal


def _jaxdal_select(name, k, n_labeled):
  from jaxdal import acquisition
  from jaxdal.acquisition import scores
  if name == "mean_variance":  # baal's Variance; not a registered name.
    return acquisition.from_score(scores.mean_variance, uses_mc=True).select
  if name == "typiclust_uncapped":  # scikit-activeml's |L| + k clusters.
    def select(key, k, available, *, probs=None, features, labeled):
      del probs
      return acquisition.typiclust(key, k, available, features=features,
                                   labeled=labeled,
                                   max_clusters=n_labeled + k)
    return select
  return acquisition.get(name).select


def jaxdal_child(row, data, k, repeat_below, warm_below):
  import jax
  import jax.numpy as jnp

  import jaxdal.acquisition  # noqa: F401
  probs = data["committee"] if row in COMMITTEE else data["probs_mc"]
  labeled = data["labeled"]
  key = jax.random.key(0)
  p, x = jnp.asarray(probs), jnp.asarray(data["feats"])
  lab, avail = jnp.asarray(labeled), jnp.asarray(~labeled)
  jax.block_until_ready((p, x, lab, avail))
  select = _jaxdal_select(ROWS[row][0], k, int(labeled.sum()))
  before = rss_mb()
  t0 = time.perf_counter()
  compiled = jax.jit(select, static_argnums=1).lower(
      key, k, avail, probs=p, features=x, labeled=lab).compile()
  compile_s = time.perf_counter() - t0

  def call():
    return compiled(key, avail, probs=p, features=x,
                    labeled=lab).block_until_ready()

  t0 = time.perf_counter()
  idx = call()
  first_s = time.perf_counter() - t0
  # The first call of the compiled executable is the warm-up; one that
  # takes warm_below seconds or more is reported itself (it is not rerun).
  sec, reps = first_s, 1
  if first_s < warm_below:
    sec, reps, idx = _timed(call, repeat_below)
  return {"seconds": sec, "reps": reps, "compile_s": compile_s,
          "first_run_s": first_s, "warmed": first_s < warm_below,
          "peak_extra_mb": peak_mb() - before,
          "idx": np.asarray(idx).tolist()}


# ---------------------------------------------------------------- references


def _stub_classes():
  """scikit-activeml classifier stubs: stored outputs looked up by row."""
  from skactiveml.base import SkactivemlClassifier

  class Stub(SkactivemlClassifier):
    """`predict_proba` of row indices: stored probabilities, embeddings."""

    def __init__(self, probs=None, emb=None, committee=None, classes=None,
                 missing_label=np.nan):
      super().__init__(classes=classes, missing_label=missing_label)
      self.probs = probs
      self.emb = emb
      self.committee = committee
      self.classes_ = classes

    def fit(self, X, y, sample_weight=None):
      return self

    def predict_proba(self, X):
      idx = np.asarray(X)[:, 0].astype(int)
      return self.probs[idx], self.emb[idx]

    def sample_proba(self, X):
      """The members' probabilities `[M, n, C]` of the rows X."""
      return self.committee[:, np.asarray(X)[:, 0].astype(int)]

  return Stub


def skal_typiclust(data, k):
  from skactiveml.pool import TypiClust
  x, y = data["feats"], _labels(data)
  return lambda: TypiClust(random_state=0).query(x, y, batch_size=k)


def skal_probcover(data, k):
  from skactiveml.pool import ProbCover
  # jaxdal's ProbCover L2-normalises the rows; scikit-activeml takes them
  # as given, so it is given the unit rows: the same graph on both sides.
  x, y = _unit_rows(data["feats"]), _labels(data)
  n_classes = data["probs_mc"].shape[-1]
  return lambda: ProbCover(n_classes=n_classes, random_state=0).query(
      x, y, batch_size=k)


def skal_maxherding(data, k):
  from skactiveml.pool import MaxHerding
  x, y = data["feats"], _labels(data)
  return lambda: MaxHerding(random_state=0).query(x, y, batch_size=k)


def skal_clue(data, k):
  from skactiveml.pool import Clue
  c = data["probs_mc"].shape[-1]
  stub = _stub_classes()(probs=data["probs_mc"].mean(0, dtype=np.float64),
                         emb=data["feats"], classes=np.arange(c))
  index = np.arange(len(data["feats"]), dtype=np.float64)[:, None]
  y = _labels(data)
  return lambda: Clue(random_state=0).query(index, y, stub,
                                            fit_estimator=False,
                                            batch_size=k)


def _qbc(data, k, method):
  from skactiveml.pool import QueryByCommittee
  c = data["committee"].shape[-1]
  stub = _stub_classes()(committee=data["committee"], classes=np.arange(c))
  index = np.arange(len(data["feats"]), dtype=np.float64)[:, None]
  y = _labels(data)
  return lambda: QueryByCommittee(
      method=method, random_state=0,
      sample_predictions_method_name="sample_proba").query(
          index, y, stub, fit_ensemble=False, batch_size=k)


def skal_qbc_vote_entropy(data, k):
  return _qbc(data, k, "vote_entropy")


def skal_qbc_kl(data, k):
  return _qbc(data, k, "KL_divergence")


def distil_kmeans(data, k):
  import torch
  from distil.active_learning_strategies import kmeans_sampling

  class Given(kmeans_sampling.KMeansSampling):
    def get_embedding(self, X):
      return torch.from_numpy(np.asarray(X))

  labeled = data["labeled"]
  x, y = data["feats"], _labels(data)
  pool = np.flatnonzero(~labeled)
  c = data["probs_mc"].shape[-1]

  def run():
    strategy = Given(x[labeled], y[labeled], x[pool], None, None, c)
    return pool[np.asarray(strategy.select(k))]

  return run


def _baal_rows(data, picks):
  pool = np.flatnonzero(~data["labeled"])
  return pool[np.asarray(picks)]


def baal_epig(data, k):
  from baal.active.heuristics import EPIG
  preds = _baal_pool(data)
  targets = np.ascontiguousarray(
      data["probs_mc"][:, data["epig_targets"]].transpose(1, 2, 0))
  return lambda: _baal_rows(data, EPIG().get_ranks(
      preds, target_predictions=targets)[0][:k])


def _baal_stochastic(data, k, sampler):
  from baal.active.heuristics import BALD, stochastics
  preds = _baal_pool(data)
  cls = getattr(stochastics, sampler)
  np.random.seed(0)  # baal draws on the global NumPy RNG.
  return lambda: _baal_rows(data, cls(BALD(), query_size=k,
                                      temperature=1.0).get_ranks(preds)[0])


def baal_power_bald(data, k):
  return _baal_stochastic(data, k, "PowerSampling")


def baal_gibbs_bald(data, k):
  return _baal_stochastic(data, k, "GibbsSampling")


def baal_rank_bald(data, k):
  return _baal_stochastic(data, k, "RankBasedSampling")


def baal_variance(data, k):
  from baal.active.heuristics import Variance
  preds = _baal_pool(data)
  return lambda: _baal_rows(data, Variance().get_ranks(preds)[0][:k])


REFERENCES = {f.__name__: f for f in (
    skal_typiclust, skal_probcover, skal_maxherding, skal_clue,
    skal_qbc_vote_entropy, skal_qbc_kl, distil_kmeans, baal_epig,
    baal_power_bald, baal_gibbs_bald, baal_rank_bald, baal_variance)}


def _import_reference(name):
  """Loads the reference's libraries before the memory baseline."""
  if name.startswith("skal"):
    import skactiveml.pool  # noqa: F401
  elif name.startswith("distil"):
    import distil.active_learning_strategies  # noqa: F401
    import torch  # noqa: F401
  elif name.startswith("baal"):
    import baal.active.heuristics  # noqa: F401
    import torch  # noqa: F401


def reference_child(name, data, k, repeat_below):
  _import_reference(name)
  run = REFERENCES[name](data, k)
  before = rss_mb()
  t0 = time.perf_counter()
  idx = run()
  first_s = time.perf_counter() - t0
  sec, reps = first_s, 1
  if first_s < repeat_below:
    sec, reps, idx = _timed(run, repeat_below)
  return {"seconds": sec, "reps": reps, "first_run_s": first_s,
          "peak_extra_mb": peak_mb() - before,
          "idx": np.asarray(idx).astype(int).tolist()}


# ---------------------------------------------------------------- driver


def _timed(call, repeat_below, budget=2.0, max_reps=20):
  """Median seconds of `call` (one call if it takes repeat_below or more)."""
  times, out = [], None
  while True:
    t0 = time.perf_counter()
    out = call()
    times.append(time.perf_counter() - t0)
    if (times[0] >= repeat_below or sum(times) >= budget
        or len(times) >= max_reps):
      return statistics.median(times), len(times), out


def child(args):
  data = dict(np.load(args.data))
  side, name = args.child.split(":")
  if side == "jaxdal":
    out = jaxdal_child(name, data, args.k, args.repeat_below,
                       args.warm_below)
  else:
    out = reference_child(name, data, args.k, args.repeat_below)
  print("RESULT " + json.dumps(out))


def run_child(python, spec, data, k, args):
  cmd = [python, os.path.abspath(__file__), "--child", spec, "--data", data,
         "--k", str(k), "--repeat_below", str(args.repeat_below),
         "--warm_below", str(args.warm_below)]
  env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
  t0 = time.perf_counter()
  try:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          timeout=args.timeout)
  except subprocess.TimeoutExpired:
    return {"timeout_s": args.timeout}
  for line in proc.stdout.splitlines():
    if line.startswith("RESULT "):
      out = json.loads(line[7:])
      out["process_s"] = time.perf_counter() - t0
      return out
  return {"error": proc.stderr[-2000:]}


def importable(python, module):
  return subprocess.run([python, "-c", f"import {module}"],
                        capture_output=True).returncode == 0


def _fmt_s(r, compile_s=False):
  if r is None:
    return "-"
  if "timeout_s" in r:
    return f"> {r['timeout_s']:.0f} (stopped)"
  if "error" in r:
    return "failed"
  s = r["seconds"]
  text = f"{s:.3g}" if s < 10 else f"{s:.1f}"
  if r["reps"] > 1:
    text += f" (median of {r['reps']})" if not compile_s else ""
  if compile_s:
    text += f" ({r['compile_s']:.2f})"
  return text


def table(results):
  """Markdown rows of the measured results."""
  lines = ["| strategy | reference | size | jaxdal s (compile s) | reference s "
           "| ratio (reference / jaxdal) | jaxdal peak MB | reference peak MB "
           "|", "|---|---|---|---|---|---|---|---|"]
  for row, r in results.items():
    jx, ref = r["jaxdal"], r["reference"]
    ratio = "-"
    if (jx and ref and "seconds" in jx and "seconds" in ref):
      ratio = f"{ref['seconds'] / jx['seconds']:.3g}"
    elif jx and ref and "timeout_s" in ref and "seconds" in jx:
      ratio = f"> {ref['timeout_s'] / jx['seconds']:.3g}"
    mb = lambda x: (f"{x['peak_extra_mb']:.0f}" if x and "peak_extra_mb" in x
                    else "-")
    lines.append(f"| {row} | {r['reference_name']} | {r['size']} | "
                 f"{_fmt_s(jx, True)} | {_fmt_s(ref)} | {ratio} | {mb(jx)} "
                 f"| {mb(ref)} |")
  return "\n".join(lines)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--n", type=int, default=20_000)
  ap.add_argument("--d", type=int, default=512)
  ap.add_argument("--c", type=int, default=10)
  ap.add_argument("--t", type=int, default=10, help="MC samples")
  ap.add_argument("--members", type=int, default=5,
                  help="committee members (vote entropy, consensus KL)")
  ap.add_argument("--labeled", type=int, default=1000)
  ap.add_argument("--k", type=int, default=500)
  ap.add_argument("--only", default="", help="comma-separated rows")
  ap.add_argument("--skip", default="", help="comma-separated rows")
  ap.add_argument("--size", default="",
                  help="row=N[xD][:k],...: rows run (both sides) at N rows "
                  "(D features, batch k) instead of --n, --d, --k")
  ap.add_argument("--no_reference", action="store_true")
  ap.add_argument("--no_jaxdal", action="store_true")
  ap.add_argument("--timeout", type=float, default=600,
                  help="seconds before a measurement is stopped")
  ap.add_argument("--repeat_below", type=float, default=0.5,
                  help="repeat calls faster than this, report the median")
  ap.add_argument("--warm_below", type=float, default=30,
                  help="jaxdal: a first call (after compilation) shorter "
                  "than this is a warm-up, a longer one is the time")
  ap.add_argument("--bench_python", default=sys.executable,
                  help="interpreter with scikit-activeml, distil and baal")
  ap.add_argument("--inputs", default="/tmp/jaxdal_peers",
                  help="folder of the input .npz files")
  ap.add_argument("--out", default="", help="write the results as JSON")
  ap.add_argument("--child", default="")
  ap.add_argument("--data", default="")
  args = ap.parse_args()
  if args.child:
    return child(args)
  rows = args.only.split(",") if args.only else list(ROWS)
  skip = set(filter(None, args.skip.split(",")))
  sizes = dict(s.split("=") for s in filter(None, args.size.split(",")))
  results, cache = {}, {}
  for row in rows:
    if row in skip:
      continue
    _, ref, ref_words = ROWS[row]
    n, d, k = _size(sizes.get(row, ""), args)
    data = write_inputs(args, n, d)
    size = f"{n:,} x {d}, k = {k}"
    print(f"{row} ({size}) ...", flush=True)
    res = {"size": size, "n": n, "d": d, "k": k,
           "reference_name": ref_words,
           "jaxdal": None, "reference": None}
    if not args.no_jaxdal:
      res["jaxdal"] = run_child(sys.executable, f"jaxdal:{row}", data, k,
                                args)
    print(f"  jaxdal: {_brief(res['jaxdal'])}", flush=True)
    if ref and not args.no_reference:
      module = NEEDS[ref.split("_")[0]]
      if (ref, data, k) in cache:
        res["reference"] = cache[ref, data, k]
      elif importable(args.bench_python, module):
        res["reference"] = run_child(args.bench_python, f"ref:{ref}", data,
                                     k, args)
        cache[ref, data, k] = res["reference"]
      else:
        print(f"  skip {ref}: {module} not importable by "
              f"{args.bench_python}")
      print(f"  {ref}: {_brief(res['reference'])}", flush=True)
    results[row] = res
    if args.out:  # After every row, so a stopped run keeps its rows.
      with open(args.out, "w") as f:
        json.dump({"args": vars(args), "results": results}, f)
  print(table(results))


def _size(spec, args):
  """`(n, d, k)` from `N[xD][:k]` (empty: --n, --d, --k)."""
  n, d, k = args.n, args.d, args.k
  if spec:
    rows, _, batch = spec.partition(":")
    n, _, dim = rows.partition("x")
    n, d, k = int(n), int(dim or d), int(batch or k)
  return n, d, k


def _brief(r):
  if r is None:
    return "-"
  return json.dumps({k: v for k, v in r.items() if k != "idx"})[:1500]


if __name__ == "__main__":
  main()
