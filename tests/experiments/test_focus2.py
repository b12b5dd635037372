"""The focus2 CLI as a user types it."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO

TINY = [
    "--dataset", "synthetic", "--dataset_kwargs",
    '{"num_train": 160, "num_test": 40, "shape": [12, 12, 1], '
    '"num_classes": 3, "noise": 0.5, "seed": 1}',
    "--rounds", "2", "--initial", "9", "--acquire", "6", "--batch_size", "16",
    "--max_epochs", "2", "--noprogress",
]


def focus2(args, env):
  return subprocess.run([sys.executable, "-m", "experiments.focus2", *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def test_bbdropout_run_prints_architecture_and_writes_figures(
    tmp_path, subprocess_env):
  workdir = tmp_path / "w"
  out = focus2(["--method", "bbdropout", "--method_kwargs",
                '{"layers": 2, "filters": 4}', *TINY, "--workdir",
                str(workdir)], subprocess_env)
  assert out.returncode == 0, out.stderr
  assert out.stdout.count("architecture: active filters per layer") == 2
  assert "final test accuracy" in out.stdout
  for name in ("metrics.jsonl", "config.json",
               os.path.join("figures", "learning_curve.png"),
               os.path.join("figures", "architecture.png")):
    assert (workdir / name).is_file(), name


def test_user_errors(tmp_path, subprocess_env):
  cases = [
      (["--method", "darts"], "unknown method 'darts'; valid: bbdropout"),
      (["--method", "cnn5", "--mode", "spo"], "is fixed"),
      (["--method", "bbdropout", "--method_kwargs", '{"layer": 2}'],
       "unknown argument 'layer' for method 'bbdropout'; valid: a_init"),
  ]
  for args, needle in cases:
    workdir = tmp_path / "w"
    out = focus2([*args, *TINY, "--workdir", str(workdir)], subprocess_env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert not workdir.exists()


def test_grid_shards_cells_writes_figures_and_skips_finished_ones(
    tmp_path, subprocess_env):
  args = ["--grid", "smoke2", "--num_tasks", "2", *TINY, "--workdir",
          str(tmp_path / "grid")]
  first = focus2([*args, "--task_index", "0"], subprocess_env)
  assert first.returncode == 0, first.stderr
  # Cells 0 and 2 of (cnn1, bbdropout) x (random, entropy): the random runs.
  assert sorted(os.listdir(tmp_path / "grid")) == [
      "synthetic_bbdropout_joint_random_s0", "synthetic_cnn1_joint_random_s0"]
  bb = tmp_path / "grid" / "synthetic_bbdropout_joint_random_s0"
  assert (bb / "figures" / "architecture.png").exists()
  # Each cell gets its method's preset settings (BBDropout's own network).
  config = json.loads((bb / "config.json").read_text())
  assert config["method_kwargs"]["norm"] == "batch", config
  again = focus2([*args, "--task_index", "0"], subprocess_env)
  assert again.stdout.count("skip ") == 2 and "run " not in again.stdout
