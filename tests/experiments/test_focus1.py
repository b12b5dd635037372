"""The focus1 CLI as a user types it: errors, help, and kill-then-resume."""

import os
import signal
import subprocess
import sys
import time

import pytest

from jaxdal import metrics
from tests.conftest import REPO

TINY_FLAGS = [
    "--dataset", "synthetic", "--dataset_kwargs",
    '{"num_train": 240, "num_test": 60, "shape": [12, 12, 1], '
    '"num_classes": 4, "noise": 0.5, "seed": 3}',
    "--backbone_kwargs", '{"depth": 1, "width": 8}', "--initial", "12",
    "--acquire", "10", "--batch_size", "16", "--patience", "3",
    "--noprogress",
]


def focus1(args, env, **kwargs):
  return subprocess.run([sys.executable, "-m", "experiments.focus1", *args],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300, **kwargs)


@pytest.mark.parametrize("args,needle", [
    (["--dataset", "cifar11"], "valid: ag_news, banking77, cifar10"),
    (["--backbone", "resnet7"], "valid: bert, cnn"),
    (["--acquisition", "entropi"], "valid: alfamix, badge, bait, bald"),
    (["--acquire", "-5"], "acquire must be a positive integer, got -5"),
    (["--acquire", "100000"], "pool holds"),
    (["--dataset", "mnist"], "dataset 'mnist' not found"),
    (["--vmap_seeds"], "--vmap_seeds needs --seeds"),
    (["--seeds", "0,x"], "--seeds must be comma-separated integers"),
])
def test_user_errors_are_one_line(args, needle, tmp_path, subprocess_env):
  workdir = tmp_path / "w"
  out = focus1([*args, "--workdir", str(workdir)], subprocess_env)
  assert out.returncode == 2
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
  assert needle in lines[0]
  assert "Traceback" not in out.stdout + out.stderr
  assert not workdir.exists()


def test_help_lists_flags_with_defaults(subprocess_env):
  out = focus1(["--helpshort"], subprocess_env)
  for text in ("--acquisition: acquisition function", "(default: 'entropy')",
               "--rounds", "(default: '5')", "--preset", "--workdir"):
    assert text in out.stdout, text


def _comparable(workdir):
  return [metrics.without_timings(r)
          for r in metrics.read_jsonl(os.path.join(workdir,
                                                   metrics.METRICS_FILE))]


def test_sigkill_during_round_3_then_resume_equals_uninterrupted(
    tmp_path, subprocess_env):
  args = [*TINY_FLAGS, "--rounds", "5", "--max_epochs", "6"]
  straight = str(tmp_path / "straight")
  done = focus1([*args, "--workdir", straight], subprocess_env)
  assert done.returncode == 0, done.stderr

  killed = str(tmp_path / "killed")
  proc = subprocess.Popen(
      [sys.executable, "-m", "experiments.focus1", *args, "--workdir",
       killed], cwd=REPO, env=subprocess_env, stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  # Round index 1 saved -> the process is inside the third round.
  deadline = time.time() + 240
  while not os.path.isdir(os.path.join(killed, "checkpoints", "1")):
    assert proc.poll() is None, "run ended before it could be killed"
    assert time.time() < deadline
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert len(_comparable(killed)) < 5

  resumed = focus1([*args, "--workdir", killed], subprocess_env)
  assert resumed.returncode == 0, resumed.stderr
  assert "resuming" in resumed.stdout
  assert _comparable(killed) == _comparable(straight)
  assert "final test accuracy" in resumed.stdout


def test_grid_shards_cells_and_skips_finished_ones(tmp_path, subprocess_env):
  args = ["--grid", "smoke", "--num_tasks", "2", "--rounds", "2",
          "--initial", "12", "--acquire", "10", "--max_epochs", "2",
          "--batch_size", "16", "--noprogress", "--workdir",
          str(tmp_path / "grid"),
          "--dataset_kwargs", '{"num_train": 120, "num_test": 40, '
          '"shape": [12, 12, 1], "num_classes": 4}',
          "--backbone_kwargs", '{"depth": 1, "width": 4}']
  first = focus1([*args, "--task_index", "1"], subprocess_env)
  assert first.returncode == 0, first.stderr
  # Cells 1 and 3 of random/entropy x seeds 0/1: the seed-1 runs.
  assert sorted(os.listdir(tmp_path / "grid")) == [
      "synthetic_cnn_entropy_none_s1",
      "synthetic_cnn_random_none_s1"]
  # The same share from a Slurm array task (ids 1..2, no --task_index).
  slurm = dict(subprocess_env, SLURM_ARRAY_TASK_ID="2",
               SLURM_ARRAY_TASK_MIN="1", SLURM_ARRAY_TASK_COUNT="2")
  # --records: finished cells' config and metrics copied, no checkpoints.
  again = focus1([*args[:2], *args[4:], "--records", str(tmp_path / "rec")],
                 slurm)
  assert "task 1/2 (slurm)" in again.stdout, again.stderr
  assert again.stdout.count("skip ") == 2 and "run " not in again.stdout
  assert again.stdout.count("records copied") == 2
  for cell in ("synthetic_cnn_entropy_none_s1",
               "synthetic_cnn_random_none_s1"):
    copied = tmp_path / "rec" / "smoke" / "runs" / cell
    assert sorted(os.listdir(copied)) == ["config.json", "metrics.jsonl"]
    for name in ("config.json", "metrics.jsonl"):
      assert (copied / name).read_bytes() == (
          tmp_path / "grid" / cell / name).read_bytes()
    assert metrics.read_jsonl(str(copied / "metrics.jsonl"))[0]["host"][
        "jax"]
  # A new workdir (another machine): the committed records count as
  # finished runs, so nothing runs again.
  elsewhere = [str(tmp_path / "new") if a == str(tmp_path / "grid") else a
               for a in [*args[:2], *args[4:]]]
  fresh = focus1([*elsewhere, "--records", str(tmp_path / "rec")], slurm)
  assert fresh.stdout.count("finished, records in ") == 2, fresh.stderr
  assert "run " not in fresh.stdout
  assert not os.path.exists(tmp_path / "new" / "synthetic_cnn_random_none_s1")
  bad = focus1([*args, "--task_index", "2"], subprocess_env)
  assert bad.returncode == 2 and "task_index" in bad.stderr


@pytest.mark.parametrize("preset", ["quick", "medium"])
def test_small_presets_cap_heavy_backbones_only(preset):
  from experiments.configs import focus1 as focus1_config
  cnn = focus1_config.get_config(preset, "cnn")
  for backbone in ("resnet18", "vgg11"):
    heavy = focus1_config.get_config(preset, backbone)
    for name, value in focus1_config.HEAVY[preset].items():
      assert heavy[name] == value and cnn[name] != value, name
  paper = focus1_config.get_config("paper", "resnet18")
  assert paper.max_epochs == 500 and paper.test_size == 0


def test_medium_preset_lies_between_quick_and_paper():
  from experiments.configs import focus1 as focus1_config
  from experiments.configs import focus2 as focus2_config
  for get in (lambda p: focus1_config.get_config(p, "cnn"),
              focus2_config.get_config):
    quick, medium, paper = get("quick"), get("medium"), get("paper")
    for name in ("initial", "max_epochs"):
      assert quick[name] < medium[name] < paper[name], name
    labels = [c.initial + (c.rounds - 1) * c.acquire
              for c in (quick, medium, paper)]
    assert labels[0] < labels[1] < labels[2]


def test_seeds_together_write_one_run_per_seed(tmp_path, subprocess_env):
  workdir = tmp_path / "w"
  out = focus1([*TINY_FLAGS, "--rounds", "2", "--seeds", "0,1",
                "--vmap_seeds", "--workdir", str(workdir)], subprocess_env)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "2 seeds together (vmap)" in out.stdout
  firsts = []
  for seed in (0, 1):
    config, records = metrics.read_run(str(workdir / f"s{seed}"))
    assert config["seed"] == seed and len(records) == 2
    firsts.append(records[0]["acquired"])
  assert firsts[0] != firsts[1]
