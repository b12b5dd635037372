"""`python -m experiments.label`'s bad input: one line on stderr naming the
bad value, exit 2, and the workdir as it was (subprocesses: slow step)."""

import csv
import hashlib
import os
import shutil
import socket
import subprocess
import sys

import pytest

from experiments.label import start
from tests.experiments.label.conftest import flag_args, options

pytestmark = pytest.mark.slow


def _label(args, env, cwd=None):
  return subprocess.run([sys.executable, "-m", "experiments.label", *args],
                        capture_output=True, text=True, env=env, timeout=300,
                        cwd=cwd)


def _tree(folder) -> dict:
  """`{relative path: sha256}` of every file under `folder` but the lock
  (which holds the last holder's pid)."""
  out = {}
  for root, _, names in os.walk(folder):
    for n in set(names) - {".lock"}:
      p = os.path.join(root, n)
      with open(p, "rb") as f:
        out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
  return out


def _one_line_error(out, *parts):
  assert out.returncode == 2, out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
  for part in parts:
    assert part in lines[0], lines[0]


@pytest.mark.parametrize("case", ["empty", "corrupt", "one_class",
                                  "duplicate_class", "port", "command",
                                  "ensemble"])
def test_start_refused_without_a_workdir(case, tmp_path, image_folder,
                                         subprocess_env):
  pool, test = image_folder
  work = str(tmp_path / "w")
  args = flag_args(pool, test, work)
  holder = None
  if case == "empty":
    os.makedirs(tmp_path / "empty")
    args[1], want = str(tmp_path / "empty"), ("holds no image",)
  elif case == "corrupt":
    os.makedirs(tmp_path / "bad")
    (tmp_path / "bad" / "a.png").write_bytes(b"not a png")
    args[1], want = str(tmp_path / "bad"), ("no readable image", "a.png")
  elif case == "one_class":
    args[3], want = "cat", ("two or more", "'cat'")
  elif case == "duplicate_class":
    args[3], want = "cat,dog,cat", ("names a class twice: cat",)
  elif case == "port":
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    args += ["--port", str(port)]
    want = (f"port {port} is already in use",)
  elif case == "ensemble":
    args += ["--ensemble", "0"]
    want = ("ensemble must be a positive integer, got 0",)
  else:
    args, want = ["serve", "again", *args], ("one command at most",)
  try:
    out = _label(args, subprocess_env)
  finally:
    if holder:
      holder.close()
  _one_line_error(out, *want)
  assert not os.path.exists(work)


@pytest.fixture(scope="module")
def started(tmp_path_factory, image_folder):
  """A workdir at batch 0."""
  pool, test = image_folder
  work = str(tmp_path_factory.mktemp("started") / "w")
  start.open_options(work, options(pool, test), log=lambda _: None).close()
  return work


def _write_csv(path, rows, header=("id", "label")):
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows(rows)
  return str(path)


@pytest.mark.parametrize("case", ["unknown_class", "duplicate_id",
                                  "never_queried", "no_label_column",
                                  "other_data", "no_labels_flag"])
def test_teach_refused_and_nothing_changes(case, tmp_path, started,
                                           image_folder, subprocess_env):
  with open(os.path.join(started, "batches", "round_000.json")) as f:
    ids = __import__("json").load(f)["ids"]
  csv_path = tmp_path / "labels.csv"
  args = ["teach", "--workdir", started, "--labels", str(csv_path),
          "--compile_cache", "off"]
  if case == "unknown_class":
    _write_csv(csv_path, [(ids[0], "one"), (ids[1], "seven")])
    want = ("unknown class 'seven'", "row 3")
  elif case == "duplicate_id":
    _write_csv(csv_path, [(ids[0], "one"), (ids[0], "two")])
    want = (f"duplicate id {ids[0]!r}",)
  elif case == "never_queried":
    _write_csv(csv_path, [(ids[0], "one"), ("img9999_one.png", "one")])
    want = ("'img9999_one.png' was never queried",)
  elif case == "no_label_column":
    _write_csv(csv_path, [(ids[0], "one")], header=("id", "class"))
    want = ("no column 'label'",)
  elif case == "other_data":
    pool, test = image_folder
    other = tmp_path / "pool"
    shutil.copytree(pool, other)
    os.remove(other / sorted(os.listdir(other))[-1])
    args = ["query", *flag_args(str(other), test, started)]
    want = ("started with other data",)
  else:
    args = args[:3] + args[5:]
    want = ("teach needs --labels",)
  before = _tree(started)
  out = _label(args, subprocess_env)
  _one_line_error(out, *want)
  assert _tree(started) == before
