"""Proves that a redesign left every per-round record unchanged.

Runs small experiments with the current code and compares each
`metrics.jsonl` they write to the one stored in a reference folder:
`benchmarks/reference/records_before_learner/` (the default; made on
commit 7b72a98, before the loop was rebuilt on the learner API, six
commands) or, with `--reference before_redesign`,
`benchmarks/reference/records_before_redesign/` (commit 7c13f74, before
the round-loop redesign, the first five; see the README in each). A run
passes with the same number of records, every record equal (exactly; NaN
equals NaN) once the timings are removed (the top-level `time` entry and
a search's `time_s`, which depend on the machine) and the measurements
added since (`calibration`, `stopping`; against the older reference also
`complexity`, `train_loss`);
with one intended change (`INTENDED`: seeds trained together report their
training accuracy as a float64 division now, like one seed alone).
Byte-identical records hold on one CPU model (README.md): make the
reference on the machine that checks. Run by hand, on CPU (the commands
take about 25 minutes in all, PDARTS's search most of it):

  python benchmarks/same_records.py                  # every command
  python benchmarks/same_records.py --only f1,f2bb   # some of them
  python benchmarks/same_records.py --workdir /tmp/x # keep the runs there
  python benchmarks/same_records.py --compare_only DIR  # runs already in DIR

Against `before_redesign`, f2bb and f2dd differ on purpose since commit
5cae17c: the quick preset's BBDropout and Depth-Dropout networks changed
(PyTorch's default init, BatchNorm, Depth-Dropout's start and inference
samples; benchmarks/RESULTS.md, "Healthy optimised networks"); the focus 1
runs still match.

Prints one line per run (name, rounds compared, IDENTICAL or the first
differing record and key with both values, the command's wall time) and
exits 1 if any record differs or a command fails.
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCES = {name: os.path.join(ROOT, "benchmarks", "reference",
                                 f"records_{name}")
              for name in ("before_learner", "before_redesign")}
REFERENCE = REFERENCES["before_learner"]

# command name -> (module and flags, [(reference name, run subfolder)]).
RUNS = {
    "f1": (["experiments.focus1", "--rounds", "3"], [("f1", "f1")]),
    "f1badge": (["experiments.focus1", "--acquisition", "badge",
                 "--rounds", "3"], [("f1badge", "f1badge")]),
    "f1seeds": (["experiments.focus1", "--seeds", "0,1", "--vmap_seeds",
                 "--rounds", "2"], [("f1seeds_s0", "f1seeds/s0"),
                                    ("f1seeds_s1", "f1seeds/s1")]),
    "f2bb": (["experiments.focus2", "--method", "bbdropout", "--rounds", "3"],
             [("f2bb", "f2bb")]),
    "f2dd": (["experiments.focus2", "--method", "depth_dropout", "--mode",
              "spo", "--rounds", "2"], [("f2dd", "f2dd")]),
    "f2pdspo": (["experiments.focus2", "--method", "pdarts", "--mode", "spo",
                 "--rounds", "2"], [("f2pdspo", "f2pdspo")]),
}


# Keys left out of the comparison: `time` (timings and compilation counts)
# and `host` (the machine's description), which depend on the machine,
# and, against the older reference, the
# measurements records gained after it was made (new, not changed ones).
LEFT_OUT = {"before_learner": ("time", "host", "calibration", "stopping"),
            "before_redesign": ("time", "host", "complexity", "train_loss",
                                "calibration", "stopping")}
ADDED = LEFT_OUT["before_learner"]


def read_records(path: str) -> list[dict]:
  """The records of a `metrics.jsonl`, each without the `ADDED` keys and
  without a search's wall time (`search.time_s`, PDARTS)."""
  with open(path) as f:
    records = [json.loads(line) for line in f if line.strip()]
  kept = [{k: v for k, v in r.items() if k not in ADDED} for r in records]
  for r in kept:
    if isinstance(r.get("search"), dict):
      r["search"] = {k: v for k, v in r["search"].items() if k != "time_s"}
  return kept


def first_difference(a, b, path: str = ""):
  """`(key path, a value, b value)` where `a` and `b` first differ, or None."""
  if isinstance(a, dict) and isinstance(b, dict):
    for key in sorted(set(a) | set(b)):
      if key not in a or key not in b:
        return (f"{path}/{key}", a.get(key, "<missing>"),
                b.get(key, "<missing>"))
      found = first_difference(a[key], b[key], f"{path}/{key}")
      if found:
        return found
    return None
  if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
      found = first_difference(x, y, f"{path}[{i}]")
      if found:
        return found
    return None
  both_nan = (isinstance(a, float) and isinstance(b, float)
              and math.isnan(a) and math.isnan(b))
  if both_nan or (type(a) is type(b) and a == b):
    return None
  return path or "/", a, b


# One intended change: seeds trained together used to compute their
# training accuracy as float32 `correct / count` (0.800000011920929), one
# seed alone as a float64 division (0.8). They now share one epoch loop,
# which divides in float64 for every seed; the float32 values are equal.
INTENDED = {"f1seeds_s0": ("train_accuracy",),
            "f1seeds_s1": ("train_accuracy",)}


def _float32_equal(a, b) -> bool:
  return struct.pack("f", a) == struct.pack("f", b)


def _intended(ref_name: str, want: dict, have: dict) -> tuple[dict, bool]:
  """`have` with the intended changes of `ref_name` mapped back onto
  `want`'s values, and whether any applied."""
  applied, have = False, dict(have)
  for key in INTENDED.get(ref_name, ()):
    if (key in want and key in have and want[key] != have[key]
        and _float32_equal(want[key], have[key])):
      have[key], applied = want[key], True
  return have, applied


def compare(ref_name: str, produced: str) -> tuple[bool, str]:
  """`(identical, message)` for one produced `metrics.jsonl`."""
  expected = read_records(os.path.join(REFERENCE, ref_name, "metrics.jsonl"))
  if not os.path.exists(produced):
    return False, f"no {produced}"
  got = read_records(produced)
  if len(got) != len(expected):
    return False, f"{len(got)} records, expected {len(expected)}"
  intended = False
  for i, (want, have) in enumerate(zip(expected, got, strict=True)):
    have, applied = _intended(ref_name, want, have)
    intended |= applied
    found = first_difference(want, have)
    if found:
      key, old, new = found
      return False, (f"record {i} (round {want.get('round')}) key {key}: "
                     f"reference {old!r}, now {new!r}")
  if intended:
    return True, ("IDENTICAL but for the intended float32 -> float64 "
                  "train_accuracy (equal as float32)")
  return True, "IDENTICAL"


def run_command(args: list[str], workdir: str) -> tuple[float, str | None]:
  """Runs one experiment; `(wall seconds, stderr tail if it failed)`."""
  env = dict(os.environ, HF_HUB_OFFLINE="1")
  cmd = [sys.executable, "-m", *args, "--workdir", workdir, "--noprogress"]
  t0 = time.perf_counter()
  proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                        text=True, check=False)
  wall = time.perf_counter() - t0
  if not proc.returncode:
    return wall, None
  return wall, f"{' '.join(cmd)} exited {proc.returncode}:\n" + (
      proc.stderr[-3000:])


def check(name: str, root: str, run: bool) -> bool:
  """Runs (if `run`) and compares one command; prints a line per record."""
  args, outputs = RUNS[name]
  wall, failure = 0.0, None
  if run:
    if os.path.exists(os.path.join(root, name)):
      failure = f"{os.path.join(root, name)} exists; it would be resumed"
    else:
      wall, failure = run_command(args, os.path.join(root, name))
  if failure:
    print(f"{name:11s} FAILED after {wall:.0f}s: {failure}")
    return False
  ok = True
  for ref_name, sub in outputs:
    same, message = compare(ref_name, os.path.join(root, sub, "metrics.jsonl"))
    rounds = len(read_records(os.path.join(REFERENCE, ref_name,
                                           "metrics.jsonl")))
    timing = f"  ({wall:.0f}s)" if run else ""
    print(f"{ref_name:11s} {rounds} rounds  {message}{timing}", flush=True)
    ok &= same
  return ok


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", help="where to run (default: a fresh "
                      "temporary folder)")
  parser.add_argument("--only", help=f"comma-separated subset of "
                      f"{','.join(RUNS)}")
  parser.add_argument("--reference", choices=sorted(REFERENCES),
                      default="before_learner", help="which stored records "
                      "to compare with")
  parser.add_argument("--compare_only", metavar="DIR", help="run nothing; "
                      "compare the runs already in DIR (DIR/f1, ...)")
  flags = parser.parse_args()
  global REFERENCE, ADDED
  REFERENCE, ADDED = REFERENCES[flags.reference], LEFT_OUT[flags.reference]
  names = flags.only.split(",") if flags.only else [
      n for n in RUNS if os.path.isdir(os.path.join(REFERENCE, n))
      or os.path.isdir(os.path.join(REFERENCE, f"{n}_s0"))]
  unknown = set(names) - set(RUNS)
  if unknown:
    parser.error(f"unknown runs {sorted(unknown)}; choose from {list(RUNS)}")
  if flags.compare_only:
    results = [check(n, flags.compare_only, run=False) for n in names]
  else:
    root = flags.workdir or tempfile.mkdtemp(prefix="same_records_")
    print(f"running in {root}")
    results = [check(n, root, run=True) for n in names]
  return 0 if all(results) else 1


if __name__ == "__main__":
  sys.exit(main())
