"""Bad input at every command line: one line `error: ...` that names the
bad value (and what is valid), a non-zero exit, no traceback and no files
left behind. Each case is a subprocess, so the table runs in its own step
of `.ci/run` (`pytest --runslow -m slow`)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SYN = ["--dataset", "synthetic", "--dataset_kwargs",
       '{"num_train": 120, "num_test": 30, "shape": [8, 8, 1], '
       '"num_classes": 3}', "--initial", "6", "--acquire", "5"]

TINY_RUN = [*SYN, "--rounds", "2", "--max_epochs", "1", "--complexity",
            "none", "--noprogress", "--backbone_kwargs",
            '{"depth": 1, "width": 4}']
FAILING_WRITES = os.path.join(REPO, "tests", "failing_writes")

CASES = {
    # focus1: names
    "f1_dataset": ("focus1", ["--dataset", "nope"],
                   "unknown dataset 'nope'; valid: ag_news, banking77, "
                   "cifar10"),
    "f1_backbone": ("focus1", ["--backbone", "nope"],
                    "unknown backbone 'nope'; valid: bert, cnn"),
    "f1_acquisition": ("focus1", ["--acquisition", "entropi"],
                       "unknown acquisition 'entropi'; valid: alfamix, badge"),
    "f1_stop_when": ("focus1", ["--stop_when", "early"],
                     "unknown stopping criterion 'early'; valid: none, "
                     "kappa, uncertainty, budget"),
    "f1_calibrate": ("focus1", ["--calibrate", "platt"],
                     "unknown calibration 'platt'; valid: none, "
                     "temperature"),
    "f1_vmap_cells": ("focus1", ["--vmap_cells"],
                      "--vmap_cells needs --grid"),
    "f1_schedule": ("focus1", ["--schedule", "foo"],
                    "unknown schedule 'foo'; valid: constant, cosine"),
    "f1_optimizer": ("focus1", ["--optimizer", "lbfgs"],
                     "unknown optimizer 'lbfgs'; valid: adam, adamw, sgd"),
    "f1_pretrain": ("focus1", ["--pretrain", "simclr"],
                    "unknown pretraining 'simclr'; valid: none, deepcluster"),
    "f1_complexity": ("focus1", ["--complexity", "some"],
                      "unknown complexity 'some'; valid: all, none"),
    "f1_preset": ("focus1", ["--preset", "fast"], "flag --preset=fast"),
    "f1_unknown_flag": ("focus1", ["--round", "3"],
                        "Unknown command line flag 'round'"),
    # focus1: types and sizes
    "f1_rounds_type": ("focus1", ["--rounds", "x"], "flag --rounds=x"),
    "f1_rounds_zero": ("focus1", ["--rounds", "0"],
                       "rounds must be a positive integer, got 0"),
    "f1_acquire_negative": ("focus1", ["--acquire", "-5"],
                            "acquire must be a positive integer, got -5"),
    "f1_batch_zero": ("focus1", ["--batch_size", "0"],
                      "batch_size must be a positive integer, got 0"),
    "f1_acquire_too_big": ("focus1", ["--acquire", "100000"],
                           "need 400000 pool examples but the pool holds"),
    "f1_initial_too_big": ("focus1", ["--initial", "100000"],
                           "initial labeled size must be in [1, 3999]"),
    "f1_initial_below_classes": ("focus1", ["--initial", "5"],
                                 "smaller than the 10 classes"),
    "f1_learning_rate": ("focus1", ["--learning_rate", "-1"],
                         "learning_rate must be a positive number, got -1"),
    "f1_mc_samples": ("focus1", ["--acquisition", "bald", "--mc_samples",
                                 "1"], "needs mc_samples >= 2, got 1"),
    # focus1: JSON arguments
    "f1_kwargs_type": ("focus1", ["--backbone_kwargs", '{"depth": "x"}'],
                       "bad backbone argument depth='x' for 'cnn': must be "
                       "an integer"),
    "f1_kwargs_unknown": ("focus1", ["--backbone_kwargs", '{"depht": 2}'],
                          "unknown argument 'depht' for backbone 'cnn'; "
                          "valid: depth"),
    "f1_kwargs_not_object": ("focus1", ["--backbone_kwargs", "[1]"],
                             "--backbone_kwargs must be a JSON object, got "
                             "'[1]'"),
    "f1_kwargs_malformed": ("focus1", ["--backbone_kwargs", "{"],
                            "--backbone_kwargs must be a JSON object"),
    "f1_dataset_kwargs": ("focus1", [*SYN[:2], "--dataset_kwargs",
                                     '{"nope": 1}'],
                          "bad dataset_kwargs {'nope': 1} for 'synthetic'"),
    # focus1: data, folders, grids, seeds
    "f1_data_dir": ("focus1", ["--dataset", "fashion_mnist", "--data_dir",
                               "/nonexistent"],
                    "data_dir '/nonexistent' is not a folder"),
    "f1_missing_mnist": ("focus1", ["--dataset", "mnist"],
                         "mnist"),
    "f1_workdir_file": ("focus1", [*SYN, "--workdir", "{tmp}/file"],
                        "is a file; choose a folder"),
    "f1_foreign_workdir": ("focus1", [*SYN, "--workdir", "{tmp}/foreign",
                                      "--overwrite"],
                           "holds no jaxdal run"),
    "f1_grid_name": ("focus1", ["--grid", "nope"],
                     "unknown grid 'nope' for focus1; valid: paper_images, "
                     "paper_text, smoke"),
    "f1_grid_task": ("focus1", ["--grid", "smoke", "--task_index", "5",
                                "--num_tasks", "2"],
                     "--task_index must be in [0, 2), got 5"),
    "f1_grid_cells": ("focus1", ["--grid", "smoke", "--cells", "*mlp*"],
                      "--cells '*mlp*' matches none of the 4 cells; they "
                      "are named like synthetic_cnn_random_none_s0"),
    "f1_cells_without_grid": ("focus1", [*SYN, "--cells", "*cnn*"],
                              "--cells needs --grid (one of: "),
    "f2_grid_of_focus1": ("focus2", ["--grid", "smoke"],
                          "unknown grid 'smoke' for focus2; valid: smoke2"),
    "f1_seeds": ("focus1", ["--seeds", "a,b"],
                 "--seeds must be comma-separated integers, got 'a,b'"),
    "f1_vmap_without_seeds": ("focus1", ["--vmap_seeds"],
                              "--vmap_seeds needs --seeds"),
    # focus2
    "f2_method": ("focus2", ["--method", "darts"],
                  "unknown method 'darts'; valid: bbdropout"),
    "f2_mode": ("focus2", ["--mode", "both"],
                "unknown mode 'both'; valid: joint, spo, upo"),
    "f2_fixed_mode": ("focus2", ["--method", "cnn5", "--mode", "spo"],
                      "mode 'spo' needs an architecture to optimise"),
    "f2_kwargs_negative": ("focus2", ["--method_kwargs", '{"layers": -1}'],
                           "layers=-1 for 'bbdropout': must be a positive "
                           "integer"),
    "f2_kwargs_type": ("focus2", ["--method_kwargs", '{"layers": "x"}'],
                       "layers='x' for 'bbdropout': must be an integer"),
    "f2_search_setting": ("focus2", ["--method", "pdarts", "--method_kwargs",
                                     '{"search_config": {"epoch": 1}}'],
                          "unknown search setting(s) epoch; valid: "
                          "channels"),
    "f2_kwargs_string": ("focus2", ["--method", "cnn1", "--method_kwargs",
                                    '{"norm": 3}'],
                         "norm=3 for 'cnn1': must be a string"),
    "f2_schedule": ("focus2", ["--schedule", "foo"],
                    "unknown schedule 'foo'"),
    "f1_target_accuracy": ("focus1", ["--target_train_accuracy", "2"],
                           "target_train_accuracy must be a fraction in "
                           "(0, 1] (or 0: never stop on training accuracy), "
                           "got 2.0"),
    # A full disk and a read-only workdir, by a patched writer
    # (tests/failing_writes): exit 1, the path and the problem, nothing
    # left behind.
    "f1_full_disk_checkpoint": (
        "focus1", TINY_RUN, "cannot write {tmp}/out/checkpoints/0: No space "
        "left on device; free some space, then rerun", "ENOSPC:/out/check"
        "points/0"),
    "f1_full_disk_metrics": (
        "focus1", TINY_RUN, "cannot write {tmp}/out/metrics.jsonl.tmp: No "
        "space left on device", "ENOSPC:/out/metrics.jsonl"),
    "f1_full_disk_config": (
        "focus1", TINY_RUN, "cannot write {tmp}/out/config.json.tmp: No "
        "space left on device", "ENOSPC:/out/config.json"),
    "f1_read_only_workdir": (
        "focus1", TINY_RUN, "cannot write {tmp}/out: Read-only file system; "
        "choose a writable --workdir", "EROFS:/out"),
    "f2_full_disk_preoptimised": (
        "focus2", [*TINY_RUN[:-2], "--method", "depth_dropout", "--mode",
                   "spo", "--method_kwargs",
                   '{"truncation": 3, "width": 4}'],
        "cannot write {tmp}/out/preoptimised: No space left on device",
        "ENOSPC:/out/preoptimised"),
    # report and toy
    "report_no_runs_flag": ("report", [], "--runs is required"),
    "report_missing_dir": ("report", ["--runs", "/nonexistent"],
                           "--runs '/nonexistent' is not a directory"),
    "report_empty": ("report", ["--runs", "{tmp}/empty"], "no jaxdal runs"),
    "report_out_file": ("report", ["--runs", "{tmp}/runs", "--out",
                                   "{tmp}/file"], "is a file"),
    "toy_rounds": ("toy", ["--rounds", "1", "--workdir", "{tmp}/toy"],
                   "--rounds must be at least 2"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_line(case, tmp_path, subprocess_env):
  module, args, expected, *fail_writes = CASES[case]
  env = dict(subprocess_env)
  if fail_writes:
    env["PYTHONPATH"] = os.pathsep.join([REPO, FAILING_WRITES])
    env["JAXDAL_TEST_FAIL_WRITES"] = fail_writes[0]
  expected = expected.replace("{tmp}", str(tmp_path))
  (tmp_path / "file").write_text("a file")
  (tmp_path / "foreign").mkdir()
  (tmp_path / "foreign" / "notes.txt").write_text("mine")
  (tmp_path / "empty").mkdir()
  run = tmp_path / "runs" / "r"
  run.mkdir(parents=True)
  (run / "config.json").write_text(json.dumps({"dataset": "d"}))
  (run / "metrics.jsonl").write_text(json.dumps(
      {"round": 0, "labeled": 10, "test_accuracy": 0.5}) + "\n")
  def listing():  # HOME is tmp_path: caches under .cache do not count
    return sorted(n for n in os.listdir(tmp_path) if not n.startswith("."))

  before = listing()
  args = [a.replace("{tmp}", str(tmp_path)) for a in args]
  workdir = [] if "--workdir" in args else ["--workdir",
                                            str(tmp_path / "out")]
  out = subprocess.run(
      [sys.executable, "-m", f"experiments.{module}", *args,
       *(workdir if module != "report" else [])],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  lines = out.stderr.strip().splitlines()
  assert out.returncode == (1 if fail_writes else 2), out.stderr[-2000:]
  assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
  assert expected in lines[0], lines[0]
  assert "Traceback" not in out.stderr + out.stdout
  assert listing() == before
  assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"
  assert not (tmp_path / "toy").exists()


def test_the_table_is_large_enough():
  assert len(CASES) >= 30
  assert {m for m, *_ in CASES.values()} == {"focus1", "focus2", "report",
                                               "toy"}


@pytest.mark.slow
def test_full_disk_for_real(tmp_path, subprocess_env):
  """A really full filesystem (a 160 KiB tmpfs, where this machine lets
  us mount one): TensorStore's own array writes fail too."""
  disk = tmp_path / "disk"
  disk.mkdir()
  try:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs",
                    str(disk)], check=True, capture_output=True, timeout=30)
  except (OSError, subprocess.SubprocessError):
    pytest.skip("mounting a tmpfs is not allowed here")
  try:
    out = subprocess.run(
        [sys.executable, "-m", "experiments.focus1", *TINY_RUN[:-2],
         "--backbone_kwargs", '{"depth": 2, "width": 64}', "--workdir",
         str(disk / "out")], cwd=REPO, env=subprocess_env,
        capture_output=True, text=True, timeout=300)
    left = os.listdir(disk)
  finally:
    subprocess.run(["umount", str(disk)], check=True, timeout=30)
  lines = out.stderr.strip().splitlines()
  assert out.returncode == 1, out.stderr[-2000:]
  assert len(lines) == 1, out.stderr[-2000:]
  assert lines[0].startswith(f"error: cannot write {disk}/out/")
  assert "No space left on device; free some space" in lines[0]
  assert left == []
