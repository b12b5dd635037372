"""The focus2 CLI as a user types it."""

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
