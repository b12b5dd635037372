"""workdir.py: caches that survive damage, and the folder rules."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import workdir


def test_cached_json_computes_once_then_reads(tmp_path):
  calls = []

  def compute():
    calls.append(1)
    return {"genotype": [1, 2]}

  first, computed = workdir.cached_json(str(tmp_path), "spo", compute)
  again, computed_again = workdir.cached_json(str(tmp_path), "spo", compute)
  assert computed and not computed_again and len(calls) == 1
  assert first == again and again["genotype"] == [1, 2] and "time_s" in again


@pytest.mark.parametrize("text", ['{"genotype": ', "", "[1, 2]"])
def test_damaged_json_cache_is_set_aside_and_recomputed(tmp_path, text):
  path = tmp_path / "searches" / "spo.json"
  path.parent.mkdir()
  path.write_text(text)
  lines = []
  value, computed = workdir.cached_json(str(tmp_path), "spo",
                                        lambda: {"genotype": [3]},
                                        lines.append)
  assert computed and value["genotype"] == [3]
  assert json.loads(path.read_text())["genotype"] == [3]
  (aside,) = os.listdir(tmp_path / "corrupt")
  assert (tmp_path / "corrupt" / aside).read_text() == text
  assert len(lines) == 1 and lines[0].startswith(f"warning: {path} is "
                                                 f"unreadable")


def test_damaged_tree_cache_is_set_aside_and_recomputed(tmp_path):
  tree = {"w": jnp.arange(6.0).reshape(2, 3)}

  def compute():
    return tree, "made"

  logs = []
  workdir.cached_tree(str(tmp_path), "preoptimised", tree, compute,
                      logs.append)
  for folder, _, files in os.walk(tmp_path / "preoptimised"):
    for name in files:
      with open(os.path.join(folder, name), "r+b") as f:
        f.truncate(0)
  got = workdir.cached_tree(str(tmp_path), "preoptimised", tree, compute,
                            logs.append)
  np.testing.assert_array_equal(got["w"], tree["w"])
  assert any(line.startswith("warning:") for line in logs)
  assert os.listdir(tmp_path / "corrupt")


def test_workdir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / "run"
  path.write_text("x")
  with pytest.raises(workdir.WorkdirError, match="is a file"):
    workdir.prepare(str(path), {"a": 1}, overwrite=True, defaults={})


def test_run_lock_is_exclusive_names_its_holder_and_is_released(tmp_path):
  held = workdir.RunLock(str(tmp_path))
  with pytest.raises(workdir.WorkdirError,
                     match=rf"in use by another run \(process {os.getpid()}"):
    workdir.RunLock(str(tmp_path))
  held.release()
  held.release()  # twice is harmless
  workdir.RunLock(str(tmp_path)).release()


def test_overwrite_locks_the_new_folder_and_frees_the_moved_one(tmp_path):
  run = str(tmp_path / "run")
  created, lock = workdir.prepare_locked(run, {"a": 1}, overwrite=False,
                                         defaults={})
  assert created
  lock.release()
  created, lock = workdir.prepare_locked(run, {"a": 2}, overwrite=True,
                                         defaults={}, log=lambda s: None)
  assert created
  (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
  workdir.RunLock(str(aside)).release()  # the moved run is free
  with pytest.raises(workdir.WorkdirError, match="in use"):
    workdir.RunLock(run)
  lock.release()


def test_a_filesystem_without_flock_runs_unguarded(tmp_path, monkeypatch):
  import errno
  import fcntl

  def no_locks(*args):
    raise OSError(errno.ENOLCK, "No locks available")

  monkeypatch.setattr(fcntl, "flock", no_locks)
  first = workdir.RunLock(str(tmp_path))
  second = workdir.RunLock(str(tmp_path))  # not refused: nothing to hold
  first.release()
  second.release()
