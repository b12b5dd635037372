"""The kill matrix: every command killed (SIGKILL, via `jaxdal.faults`) at
every kind of point of a round, then resumed with the same command, ends
equal to the uninterrupted run: the same `metrics.jsonl` (but for timings),
no round duplicated or missing, no index labeled twice, and the same final
parameters, optimiser state and pool, bit for bit.

A case is a chain of kills: each resume is itself killed at the next point
until a last resume runs to the end; every kill must happen. Subprocesses,
minutes in all: run in `.ci/run`'s slow step (`pytest --runslow -m slow`).
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxdal import checkpoint, faults, metrics
from tests.conftest import REPO

SYN = ["--dataset", "synthetic", "--dataset_kwargs",
       '{"num_train": 120, "num_test": 30, "shape": [8, 8, 1], '
       '"num_classes": 3, "noise": 0.5, "seed": 1}', "--initial", "6",
       "--acquire", "5", "--batch_size", "16", "--patience", "2",
       "--noprogress"]
PDARTS = json.dumps(dict(channels=2, layers=3, search_config=dict(
    channels=2, layers=3, add_layers=[0, 0, 0], epochs=2, eps_no_arch=1,
    batch_size=4, steps_per_epoch=1, masked=True)))
SMOKE_CELLS = [f"synthetic_cnn_{a}_none_s{s}" for a in ("random", "entropy")
               for s in (0, 1)]
# name: (module, flags, seed folders under the workdir)
CONFIGS = {
    "focus1": ("focus1", [*SYN, "--backbone_kwargs",
                          '{"depth": 1, "width": 4}', "--rounds", "3",
                          "--max_epochs", "3"], [""]),
    "focus1_vmap_seeds": ("focus1", [
        *SYN, "--backbone_kwargs", '{"depth": 1, "width": 4}', "--rounds",
        "3", "--max_epochs", "2", "--complexity", "none", "--seeds", "0,1",
        "--vmap_seeds"], ["s0", "s1"]),
    # The `smoke` grid's 2 acquisitions x 2 seeds, one by one and trained
    # together (`--vmap_cells`).
    "focus1_grid": ("focus1", [
        *SYN, "--backbone_kwargs", '{"depth": 1, "width": 4}', "--rounds",
        "3", "--max_epochs", "2", "--complexity", "none", "--grid",
        "smoke"], SMOKE_CELLS),
    "focus1_grid_vmap_cells": ("focus1", [
        *SYN, "--backbone_kwargs", '{"depth": 1, "width": 4}', "--rounds",
        "3", "--max_epochs", "2", "--complexity", "none", "--grid", "smoke",
        "--vmap_cells"], SMOKE_CELLS),
    "bbdropout_joint": ("focus2", [
        *SYN, "--method", "bbdropout", "--mode", "joint", "--method_kwargs",
        '{"layers": 2, "filters": 4}', "--rounds", "3", "--max_epochs", "2",
        "--complexity", "none"], [""]),
    "depth_dropout_spo": ("focus2", [
        *SYN, "--method", "depth_dropout", "--mode", "spo", "--method_kwargs",
        '{"truncation": 3, "width": 4}', "--rounds", "3", "--max_epochs",
        "2", "--complexity", "none"], [""]),
    "pdarts_upo": ("focus2", [
        *SYN, "--method", "pdarts", "--mode", "upo", "--method_kwargs",
        PDARTS, "--rounds", "2", "--max_epochs", "2", "--pretrain_epochs",
        "1", "--pretrain_steps", "2", "--complexity", "none"], [""]),
}
# A case is a chain of kills, each of which happens whichever side of a
# checkpoint write the kill before it fell on. The longest cases first, so
# that `pytest -n 2` spreads them.
CASES = {
    # Searched once (cached), before round 0; its resumed rounds rebuild
    # the searched network from the cache. The chain starts as a run killed
    # just after its search (a minute or two) was written: the reference
    # run's config and search (a kill while the search cache is written:
    # `test_search_cache_killed_mid_write_is_recomputed`).
    "pdarts_upo-chain": ("pdarts_upo", ["scores:1", "checkpoint_write:1",
                                        "checkpoint_saved:1"],
                         ["config.json", "searches"]),
    # The pre-optimisation cache first, then a round's points.
    "depth_dropout_spo-chain": ("depth_dropout_spo",
                                ["cache_write:1", "scores:1",
                                 "checkpoint_write:1", "checkpoint_saved:1"]),
    # Kills that leave the two seeds' workdirs a round apart.
    "focus1_vmap_seeds-chain": ("focus1_vmap_seeds",
                                ["scores:2", "checkpoint_write:1",
                                 "checkpoint_saved:3", "train_epoch:1",
                                 "checkpoint_saved:2"]),
    "bbdropout_joint-chain": ("bbdropout_joint",
                              ["train_epoch:2", "scores:1",
                               "checkpoint_write:1", "train_epoch:1",
                               "checkpoint_saved:1"]),
    # Cells trained together, killed between two cells' checkpoints of
    # round 1 (6th save of 12), then in round 2's acquisition.
    "focus1_grid_vmap_cells-chain": ("focus1_grid_vmap_cells",
                                     ["checkpoint_saved:6", "scores:3"]),
    # One kill each, in the middle round of focus 1.
    "focus1-train": ("focus1", ["train_epoch:4"]),
    "focus1-scores": ("focus1", ["scores:2"]),
    "focus1-checkpoint_write": ("focus1", ["checkpoint_write:2"]),
    "focus1-checkpoint_saved": ("focus1", ["checkpoint_saved:2"]),
    # The last round: its checkpoint written, metrics.jsonl not.
    "focus1-last_metrics": ("focus1", ["checkpoint_saved:3"]),
}


def _run(config: str, workdir, env, kill: str | None = None):
  module, args, _ = CONFIGS[config]
  env = dict(env)
  env.pop(faults.ENV, None)
  if kill:
    env[faults.ENV] = kill
  return subprocess.run(
      [sys.executable, "-m", f"experiments.{module}", *args, "--workdir",
       str(workdir)], cwd=REPO, env=env, capture_output=True, text=True,
      timeout=600)


def _without_time(record: dict) -> dict:
  """A record without timings (a search's `time_s` too)."""
  record = metrics.without_timings(record)
  if "search" in record:
    record["search"] = {k: v for k, v in record["search"].items()
                        if k != "time_s"}
  return record


def _records(run_dir) -> list[dict]:
  path = os.path.join(run_dir, metrics.METRICS_FILE)
  if not os.path.exists(path):
    return []
  return [_without_time(r) for r in metrics.read_jsonl(path)]


def _check_consistent(run_dir, rounds: int | None = None) -> None:
  """Rounds 0, 1, ... once each; every acquired index labeled once, in the
  round after it was acquired, in the newest checkpoint's pool and records;
  `metrics.jsonl` holds the checkpoint's records (after a kill between the
  two writes, all but the newest). `rounds`: the run is finished."""
  records = _records(run_dir)
  assert [r["round"] for r in records] == list(range(len(records)))
  folder = os.path.join(run_dir, "checkpoints")
  if not any(n.isdigit() for n in (os.listdir(folder)
                                   if os.path.isdir(folder) else [])):
    assert not records
    return
  saved = checkpoint.read_round(folder)
  in_checkpoint = [_without_time(r) for r in saved["metrics"]]
  lag = 0 if rounds is not None else 1
  assert len(in_checkpoint) - lag <= len(records) <= len(in_checkpoint)
  assert records == in_checkpoint[:len(records)]
  if rounds is not None:
    assert len(records) == rounds == saved["round"] + 1
  acquired = [i for r in in_checkpoint for i in (r["acquired"] or [])]
  assert len(acquired) == len(set(acquired)), "an index labeled twice"
  label_round = saved["pool"]["label_round"]
  for r in in_checkpoint:
    if r["acquired"]:
      assert (label_round[r["acquired"]] == r["round"] + 1).all()
    assert (np.sum((label_round >= 0) & (label_round <= r["round"]))
            == r["labeled"])


def _final(run_dir) -> dict:
  saved = checkpoint.read_round(os.path.join(run_dir, "checkpoints"))
  return {"records": _records(run_dir), "round": saved["round"],
          "train_state": saved["train_state"], "pool": saved["pool"]}


def _assert_trees_equal(a, b, where=""):
  if isinstance(a, dict):
    assert isinstance(b, dict) and sorted(a) == sorted(b), where
    for k in a:
      _assert_trees_equal(a[k], b[k], f"{where}/{k}")
  elif isinstance(a, (list, tuple)):
    assert len(a) == len(b), where
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
      _assert_trees_equal(x, y, f"{where}/{i}")
  elif a is None:
    assert b is None, where
  else:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b),
                                  err_msg=where, strict=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, subprocess_env):
  """The uninterrupted run of a configuration, made once per module."""
  done = {}

  def get(config: str) -> dict:
    if config not in done:
      workdir = tmp_path_factory.mktemp(f"ref-{config}")
      out = _run(config, workdir, subprocess_env)
      assert out.returncode == 0, out.stderr[-3000:]
      done[config] = (workdir, {seed: _final(workdir / seed)
                                for seed in CONFIGS[config][2]})
    return done[config]

  return get


@pytest.fixture(scope="module")
def subprocess_env(tmp_path_factory):
  """As `tests.conftest.subprocess_env`, for module-scoped fixtures."""
  home = tmp_path_factory.mktemp("home")
  env = dict(os.environ)
  env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
             TFDS_DATA_DIR=str(home / "no-tfds"), HOME=str(home),
             JAX_DISABLE_MOST_OPTIMIZATIONS="1", PYTHONPATH=REPO)
  return env


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_killed_and_resumed_equals_uninterrupted(case, tmp_path, reference,
                                                 subprocess_env):
  config, kills, *start = CASES[case]
  reference_dir, expected = reference(config)
  workdir = tmp_path / "w"
  if start:
    # The state a run killed right after writing these files leaves.
    workdir.mkdir()
    for name in start[0]:
      copy = shutil.copytree if (reference_dir / name).is_dir() else \
          shutil.copy
      copy(reference_dir / name, workdir / name)
  for kill in kills:
    out = _run(config, workdir, subprocess_env, kill)
    assert out.returncode == -signal.SIGKILL, (
        f"{kill}: not killed (exit {out.returncode})\n{out.stderr[-3000:]}")
    for seed in CONFIGS[config][2]:
      _check_consistent(workdir / seed)
  out = _run(config, workdir, subprocess_env)
  assert out.returncode == 0, out.stderr[-3000:]
  for seed, want in expected.items():
    got = _final(workdir / seed)
    _check_consistent(workdir / seed, rounds=len(want["records"]))
    assert got["records"] == want["records"]
    assert got["round"] == want["round"]
    _assert_trees_equal(got["train_state"], want["train_state"],
                        "train_state")
    _assert_trees_equal(got["pool"], want["pool"], "pool")


@pytest.mark.slow
def test_vmap_cells_equal_the_cells_run_one_by_one(reference):
  # The stated tolerance, as for seeds trained together: the same picks,
  # epochs and stopping reasons; accuracies, losses, calibration and the
  # final parameters within the rounding of batched layers.
  _, alone = reference("focus1_grid")
  _, together = reference("focus1_grid_vmap_cells")
  for cell in SMOKE_CELLS:
    a, b = alone[cell], together[cell]
    assert len(a["records"]) == len(b["records"]) == 3
    for ra, rb in zip(a["records"], b["records"], strict=True):
      for key in ("acquired", "epochs", "stop_reason", "labeled"):
        assert ra[key] == rb[key], (cell, key)
      for key in ("test_accuracy", "val_accuracy", "train_accuracy",
                  "train_loss"):
        np.testing.assert_allclose(ra[key], rb[key], rtol=1e-4, atol=1e-5)
      for key in ("ece", "nll", "brier"):
        np.testing.assert_allclose(ra["calibration"][key],
                                   rb["calibration"][key], atol=1e-4)
    for x, y in zip(jax.tree.leaves(a["train_state"]),
                    jax.tree.leaves(b["train_state"]), strict=True):
      np.testing.assert_allclose(np.asarray(x, np.float64),
                                 np.asarray(y, np.float64), rtol=2e-4,
                                 atol=2e-5)


@pytest.mark.slow
def test_search_cache_killed_mid_write_is_recomputed(tmp_path,
                                                     subprocess_env):
  # The search cache of `jaxdal.workdir`, alone: the PDARTS chain above
  # would search three times to be killed there.
  code = ("import sys; from jaxdal import workdir; "
          "print(workdir.cached_json(sys.argv[1], 'upo', "
          "lambda: {'genotype': [1, 2]}, print)[1])")
  env = dict(subprocess_env)

  def cached(kill=None):
    env.pop(faults.ENV, None)
    if kill:
      env[faults.ENV] = kill
    return subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)

  killed = cached("cache_write")
  assert killed.returncode == -signal.SIGKILL, killed.stderr
  assert not (tmp_path / "searches" / "upo.json").exists()
  first = cached()
  assert first.returncode == 0 and first.stdout.strip() == "True"
  again = cached()
  assert again.returncode == 0 and again.stdout.strip() == "False"
  value = json.loads((tmp_path / "searches" / "upo.json").read_text())
  assert value["genotype"] == [1, 2]
  assert os.listdir(tmp_path / "searches") == ["upo.json"]


def test_kill_points_parse():
  assert faults.parse("scores") == ("scores", 1)
  assert faults.parse("checkpoint_write:2") == ("checkpoint_write", 2)
  with pytest.raises(ValueError, match="unknown kill point 'score' in "
                     "JAXDAL_KILL_AT; valid"):
    faults.parse("score")
  with pytest.raises(ValueError, match="positive integer"):
    faults.parse("scores:0")


def test_every_kill_point_is_in_the_matrix():
  from tests.experiments.label import test_kill as label_kills
  used = {k.partition(":")[0] for _, kills, *_ in CASES.values()
          for k in kills}
  used |= {k.partition(":")[0] for k in label_kills.KILLS}
  assert used == set(faults.POINTS)
  # focus1_grid: the one-by-one reference of the --vmap_cells test.
  assert {c for c, *_ in CASES.values()} | {"focus1_grid"} == set(CONFIGS)
