r"""End to end against decile-distil: one quick active-learning experiment
(mnist5k, the `cnn` backbone, 5 rounds of 100 labels) run by jaxdal and by
distil's own training and strategy classes; wall time, training and
selection seconds, and final test accuracy.

  python benchmarks/e2e_distil.py --torch_python /tmp/torchref/bin/python
  python benchmarks/e2e_distil.py --torch_python ... --strategies badge \
      --repeats 2

jaxdal runs the real CLI, `python -m experiments.focus1 --dataset mnist5k
--backbone cnn --acquisition <s> --preset quick --complexity none`, in its
own process; metrics.jsonl gives each round's training seconds (including
the test evaluation) and selection seconds (pool prediction + selection).
distil runs `benchmarks/e2e_distil_torch.py` in the torch environment
(`--torch_python`, which holds torch and decile-distil), on the arrays this
script exports from jaxdal's data API: the same standardised images, the
same initial labeled set and the same pool (jaxdal's validation split is
left out of distil's pool: distil never validates). The two run one after
the other for each strategy (jaxdal, distil, jaxdal, distil, ...), so a
ratio compares runs under the same load. Wall time is the whole process,
start-up, compilation and checkpoints included.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def export_data(path: str, seed: int) -> dict:
  """Writes the quick preset's data and pool, as a jaxdal run opens them,
  to `path` (`.npz`): images NCHW, initial labeled and pool indices."""
  sys.path.insert(0, ROOT)
  import numpy as np

  from experiments.configs import focus1 as focus1_config
  from jaxdal import data, loop
  config = focus1_config.get_config("quick", "cnn")
  config.update(dataset="mnist5k", complexity="none", seed=seed)
  settings = loop.Settings.from_config(config)
  scratch = os.path.join(os.path.dirname(path), "export_run")
  with loop.open_run(settings, scratch, overwrite=True, progress=False,
                     log=lambda line: None) as ctx:
    ds, pool = ctx.task.ds, ctx.pool
    initial = data.labeled_indices(pool)
    unlabeled = np.flatnonzero(np.asarray(data.available(pool)))
    np.savez(path, x_train=ds.x_train.transpose(0, 3, 1, 2),
             y_train=ds.y_train, x_test=ds.x_test.transpose(0, 3, 1, 2),
             y_test=ds.y_test, initial=initial, pool=unlabeled)
    shape = {"train": len(ds.y_train), "test": len(ds.y_test),
             "initial": len(initial), "pool": len(unlabeled),
             "validation": int(np.asarray(pool.validation).sum())}
  shutil.rmtree(scratch, ignore_errors=True)
  return {"settings": config.to_dict(), "sizes": shape}


def run_jaxdal(strategy: str, workdir: str, seed: int, extra: str) -> dict:
  shutil.rmtree(workdir, ignore_errors=True)
  cmd = [sys.executable, "-m", "experiments.focus1", "--dataset", "mnist5k",
         "--backbone", "cnn", "--acquisition", strategy, "--preset", "quick",
         "--complexity", "none", "--noprogress", "--seed", str(seed),
         "--workdir", workdir, *shlex.split(extra)]
  t0 = time.perf_counter()
  subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
  wall = time.perf_counter() - t0
  rounds = []
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    for line in f:
      rec = json.loads(line)
      rounds.append({
          "round": rec["round"], "labeled": rec["labeled"],
          "test_accuracy": rec["test_accuracy"], "epochs": rec["epochs"],
          "steps": rec["steps"], "stop": rec["stop_reason"],
          "train_s": rec["time"]["train_s"],
          "select_s": round(rec["time"]["predict_s"]
                            + rec["time"]["select_s"], 3)})
  return {"wall_s": round(wall, 2), "rounds": rounds}


def run_distil(strategy: str, torch_python: str, data_path: str,
               seed: int, threads: int) -> dict:
  cmd = [torch_python, os.path.join(HERE, "e2e_distil_torch.py"), "--data",
         data_path, "--strategy", strategy, "--seed", str(seed),
         "--threads", str(threads)]
  t0 = time.perf_counter()
  out = subprocess.run(cmd, check=True, capture_output=True, text=True)
  wall = time.perf_counter() - t0
  line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
  return {"wall_s": round(wall, 2), **json.loads(line[-1][7:])}


def summary(result: dict) -> dict:
  """Totals over rounds; `_steady` leaves out round 0 (jaxdal compiles
  there)."""
  rounds = result["rounds"]
  train = sum(r["train_s"] for r in rounds)
  select = sum(r["select_s"] for r in rounds)
  later = rounds[1:]
  return {
      "wall_s": result["wall_s"], "train_s": train, "select_s": select,
      "other_s": result["wall_s"] - train - select,
      "ms_per_step_steady": 1000 * sum(r["train_s"] for r in later)
      / max(1, sum(r["steps"] for r in later)),
      "select_s_steady": sum(r["select_s"] for r in later),
      "epochs": "/".join(str(r["epochs"]) for r in rounds),
      "test_accuracy": rounds[-1]["test_accuracy"]}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--torch_python", required=True,
                  help="python of the environment with torch and "
                       "decile-distil (kept out of jaxdal's venv)")
  ap.add_argument("--strategies", default="entropy,coreset,badge")
  ap.add_argument("--repeats", type=int, default=1)
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--torch_threads", default="0,1",
                  help="a distil run for each torch thread count, after "
                       "each jaxdal run (0: torch's default, one per core)")
  ap.add_argument("--jaxdal_flags", default="",
                  help="more flags for the jaxdal runs, e.g. "
                       "'--val_fraction 0' (distil's data stay the same)")
  ap.add_argument("--dir", default="/tmp/e2e")
  args = ap.parse_args()
  os.makedirs(args.dir, exist_ok=True)
  data_path = os.path.join(args.dir, "mnist5k.npz")
  info = export_data(data_path, args.seed)
  print(f"data: {info['sizes']}", flush=True)
  results = []
  threads = [int(t) for t in args.torch_threads.split(",")]
  sides = ["jaxdal"] + [f"distil, {t or 'default'} threads"
                        for t in threads]
  for strategy in args.strategies.split(","):
    for rep in range(args.repeats):
      for side in sides:
        load = os.getloadavg()[0]
        if side == "jaxdal":
          res = run_jaxdal(strategy, os.path.join(args.dir, f"jaxdal_"
                                                  f"{strategy}"), args.seed,
                           args.jaxdal_flags)
        else:
          res = run_distil(strategy, args.torch_python, data_path, args.seed,
                           threads[sides.index(side) - 1])
        res.update(side=side, strategy=strategy, repeat=rep,
                   load_before=round(load, 2))
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k != "rounds"}
                         | summary(res)), flush=True)
  with open(os.path.join(args.dir, "results.json"), "w") as f:
    json.dump({"info": info, "results": results}, f, indent=1)
  print_tables(results)


def print_tables(results: list[dict]) -> None:
  print("\n| strategy | side | wall s | training s | selection s | other s "
        "| ms / training step, rounds 1-4 | selection s, rounds 1-3 "
        "| epochs per round | final test accuracy | load |")
  print("|---|---|---|---|---|---|---|---|---|---|---|")
  pairs = {}
  for res in results:
    s = summary(res)
    pairs.setdefault((res["strategy"], res["repeat"]), {})[res["side"]] = s
    print(f"| {res['strategy']} | {res['side']} | {s['wall_s']:.1f} "
          f"| {s['train_s']:.1f} | {s['select_s']:.1f} | {s['other_s']:.1f} "
          f"| {s['ms_per_step_steady']:.1f} | {s['select_s_steady']:.2f} "
          f"| {s['epochs']} | {100 * s['test_accuracy']:.1f} % "
          f"| {res['load_before']} |")
  print("\njaxdal / distil (below 1: jaxdal faster):\n")
  print("| strategy | against | wall | training | selection "
        "| ms / step, rounds 1-4 | selection, rounds 1-3 |")
  print("|---|---|---|---|---|---|---|")
  keys = ("wall_s", "train_s", "select_s", "ms_per_step_steady",
          "select_s_steady")
  for (strategy, _), pair in pairs.items():
    j = pair.get("jaxdal")
    for side, d in pair.items():
      if side == "jaxdal" or j is None:
        continue
      print(f"| {strategy} | {side} | " + " | ".join(
          f"{j[k] / d[k]:.3f}" if d[k] else "-" for k in keys) + " |")


if __name__ == "__main__":
  main()
