r"""Start-up: how long `--help` takes, and how long a focus1 quick run takes
to reach its first training step, against decile-distil's imports, data
and model (what precedes its first training step), measured side by side.

  python benchmarks/startup.py --torch_python /work/benchvenv/bin/python

Every time is wall-clock from the moment this script launches the process.
jaxdal: `python -m experiments.focus1 --rounds 1` (the quick preset,
mnist5k, the `cnn` backbone), with `$JAXDAL_TIMELINE` set, so the process
writes when it reaches its first training step (before the step's
compilation) and the script reads it; once with JAX's persistent
compilation cache off, once with it filled by an earlier run (the default
of every experiment CLI: `jaxdal.compile_cache`). distil: `e2e_distil_torch.py
--rounds 1` (torch and decile-distil imported, the same images loaded, the
same network built), which reports when it is about to train. The two
alternate `--repeats` times; the table gives each side's median and the
ratio of medians.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENV = dict(os.environ, HF_HUB_OFFLINE="1")


def help_seconds(program: str) -> float:
  """Wall seconds of `python -m experiments.<program> --help`."""
  t0 = time.perf_counter()
  subprocess.run([sys.executable, "-m", f"experiments.{program}", "--help"],
                 cwd=ROOT, env=ENV, capture_output=True, check=False)
  return time.perf_counter() - t0


def jaxdal_first_step(scratch: str, cache: str) -> float:
  """Seconds from launch to the first training step of a quick run, with
  `--compile_cache cache` (a folder, or `off`)."""
  timeline = os.path.join(scratch, "timeline.jsonl")
  workdir = os.path.join(scratch, "run")
  shutil.rmtree(workdir, ignore_errors=True)
  if os.path.exists(timeline):
    os.remove(timeline)
  t0 = time.time()
  subprocess.run([sys.executable, "-m", "experiments.focus1", "--rounds",
                  "1", "--complexity", "none", "--noprogress", "--workdir",
                  workdir, "--compile_cache", cache], cwd=ROOT, check=True,
                 capture_output=True, env={**ENV, "JAXDAL_TIMELINE": timeline})
  with open(timeline) as f:
    events = {e["event"]: e["time"] for e in map(json.loads, f)}
  return events["first_train_step"] - t0


def distil_first_step(torch_python: str, data: str) -> float:
  """Seconds from launch to distil's first training step (imports, data,
  model)."""
  t0 = time.time()
  out = subprocess.run([torch_python, os.path.join(HERE,
                                                   "e2e_distil_torch.py"),
                        "--data", data, "--strategy", "entropy", "--rounds",
                        "1"], check=True, capture_output=True, text=True)
  line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
  return json.loads(line[-1][7:])["ready_at"] - t0


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--torch_python", help="python of the environment with "
                  "torch and decile-distil (omit: --help times only)")
  ap.add_argument("--repeats", type=int, default=5)
  args = ap.parse_args()
  scratch = tempfile.mkdtemp(prefix="startup_")
  rows = []
  for program in ("focus1", "focus2"):
    times = [help_seconds(program) for _ in range(args.repeats)]
    rows.append((f"`python -m experiments.{program} --help`",
                 statistics.median(times), None))
  if args.torch_python:
    sys.path.insert(0, HERE)
    import e2e_distil
    data = os.path.join(scratch, "mnist5k.npz")
    e2e_distil.export_data(data, seed=0)
    cache = os.path.join(scratch, "xla")
    jaxdal_first_step(scratch, cache)  # fills the compilation cache
    cold, warm, theirs = [], [], []
    for _ in range(args.repeats):
      cold.append(jaxdal_first_step(scratch, "off"))
      warm.append(jaxdal_first_step(scratch, cache))
      theirs.append(distil_first_step(args.torch_python, data))
    rows.append(("to the first training step: decile-distil (imports, "
                 "data, model)", statistics.median(theirs), None))
    for what, ours in (("compilation cache off", cold),
                       ("compilation cache filled by an earlier run", warm)):
      rows.append((f"to the first training step: jaxdal focus1 quick, "
                   f"{what}", statistics.median(ours),
                   statistics.median(ours) / statistics.median(theirs)))
  shutil.rmtree(scratch, ignore_errors=True)
  print(f"\n| what (median of {args.repeats}) | seconds | "
        f"ratio to distil |")
  print("|---|---|---|")
  for what, seconds, ratio in rows:
    print(f"| {what} | {'' if seconds is None else f'{seconds:.2f}'} | "
          f"{'' if ratio is None else f'{ratio:.2f}'} |")


if __name__ == "__main__":
  main()
