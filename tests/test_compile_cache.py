"""JAX's persistent compilation cache under the experiment CLIs: where it
lives, that a second run loads instead of compiling (records' `compilations`
count compile requests, loaded ones too), with the same records."""

import os
import subprocess
import sys

from jaxdal import compile_cache, metrics
from tests.conftest import REPO
from tests.experiments.test_focus1 import TINY_FLAGS


def test_directory_order_flag_then_environment_then_default():
  env = {"XDG_CACHE_HOME": "/c", compile_cache.ENV: "/e"}
  assert compile_cache.directory("/f", env) == "/f"
  assert compile_cache.directory(None, env) == "/e"
  assert compile_cache.directory(None, {"XDG_CACHE_HOME": "/c"}) == (
      "/c/jaxdal/xla")
  assert compile_cache.directory("off", env) is None
  assert compile_cache.directory(None, {compile_cache.ENV: "OFF"}) is None


def _run(workdir, cache, env):
  out = subprocess.run(
      [sys.executable, "-m", "experiments.focus1", *TINY_FLAGS, "--rounds",
       "2", "--complexity", "none", "--workdir", str(workdir),
       "--compile_cache", cache], cwd=REPO, env=env, capture_output=True,
      text=True, timeout=300)
  assert out.returncode == 0, out.stderr
  return metrics.read_jsonl(os.path.join(workdir, "metrics.jsonl"))


def test_a_second_run_loads_its_compiles_and_records_the_same(
    tmp_path, subprocess_env):
  cache = tmp_path / "xla"
  first = _run(tmp_path / "a", str(cache), subprocess_env)
  entries = sorted(e for e in os.listdir(cache) if e.endswith("-cache"))
  assert len(entries) > 10, entries
  # An entry is written on a miss only: the second run found all of its.
  second = _run(tmp_path / "b", str(cache), subprocess_env)
  assert sorted(e for e in os.listdir(cache) if e.endswith("-cache")) == (
      entries)
  off = _run(tmp_path / "c", "off", subprocess_env)
  same = [metrics.without_timings(r) for r in first]
  assert [metrics.without_timings(r) for r in second] == same
  assert [metrics.without_timings(r) for r in off] == same


def test_an_unwritable_cache_folder_leaves_the_run_uncached(
    tmp_path, subprocess_env):
  blocker = tmp_path / "file"
  blocker.write_text("not a folder")
  records = _run(tmp_path / "a", str(blocker / "xla"), subprocess_env)
  assert len(records) == 2
