"""A grid task's share from flags, Slurm job arrays and Kubernetes indexed
Jobs (experiments.grid.task_share), and which cells count as finished."""

import json

import pytest

from experiments import grid
from experiments.configs import grids
from experiments.grid import task_share
from jaxdal import loop, metrics


def slurm(task, count, low=None, step=None):
  env = {"SLURM_ARRAY_TASK_ID": str(task),
         "SLURM_ARRAY_TASK_COUNT": str(count)}
  if low is not None:
    env["SLURM_ARRAY_TASK_MIN"] = str(low)
  if step is not None:
    env["SLURM_ARRAY_TASK_STEP"] = str(step)
  return env


@pytest.mark.parametrize("flags_, env, expected", [
    ((None, None), {}, (0, 1, "default")),
    ((2, 5), {}, (2, 5, "flags")),
    ((None, 3), {}, (0, 3, "flags")),
    ((None, None), slurm(3, 4), (3, 4, "slurm")),
    # `--array=1-4`: the task's position, not its id.
    ((None, None), slurm(4, 4, low=1), (3, 4, "slurm")),
    # `--array=10-16:2`: ids 10, 12, 14, 16.
    ((None, None), slurm(14, 4, low=10, step=2), (2, 4, "slurm")),
    ((None, 4), slurm(1, 4), (1, 4, "slurm")),
    ((0, None), slurm(3, 4), (0, 4, "slurm")),
    ((1, 2), slurm(3, 4), (1, 2, "flags")),  # typed flags win
    ((None, 3), {"JOB_COMPLETION_INDEX": "2"}, (2, 3, "kubernetes")),
    ((1, 3), {"JOB_COMPLETION_INDEX": "2"}, (1, 3, "flags")),
])
def test_share_comes_from_flags_then_scheduler(flags_, env, expected):
  assert task_share(*flags_, env) == expected


def test_every_cell_has_exactly_one_slurm_task():
  # Cells i % count == index over a 1-based array: a partition.
  count, cells = 4, range(11)
  owners = [[i for i in cells if i % count == task_share(
      None, None, slurm(task, count, low=1))[0]]
      for task in range(1, count + 1)]
  assert sorted(sum(owners, [])) == list(cells)


@pytest.mark.parametrize("flags_, env, message", [
    ((None, None), slurm(4, 4),
     "SLURM_ARRAY_TASK_ID=4 is not one of the 4 tasks of the array 0..3 "
     "step 1; use --array=0-3 or pass --task_index"),
    ((None, None), slurm(11, 4, low=10, step=2),
     "SLURM_ARRAY_TASK_ID=11 is not one of the 4 tasks of the array "
     "10..16 step 2"),
    ((None, 3), slurm(1, 4),
     "--num_tasks=3 but the Slurm array has SLURM_ARRAY_TASK_COUNT=4 tasks"),
    ((None, None), {"SLURM_ARRAY_TASK_ID": "1"},
     "SLURM_ARRAY_TASK_ID=1 is set but SLURM_ARRAY_TASK_COUNT is not"),
    ((None, None), {"SLURM_ARRAY_TASK_ID": "one",
                    "SLURM_ARRAY_TASK_COUNT": "2"},
     "SLURM_ARRAY_TASK_ID must be an integer, got 'one'"),
    ((None, None), {"JOB_COMPLETION_INDEX": "2"},
     "JOB_COMPLETION_INDEX=2 is set but --num_tasks is not; pass the Job's "
     "completions as --num_tasks"),
    ((None, 2), {"JOB_COMPLETION_INDEX": "2"},
     "JOB_COMPLETION_INDEX=2 is not in [0, --num_tasks=2)"),
    ((None, None), {**slurm(0, 2), "JOB_COMPLETION_INDEX": "0"},
     "both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX=0 are set"),
    ((5, 2), {}, "--task_index must be in [0, 2), got 5"),
    ((-1, None), {}, "--task_index must be in [0, 1), got -1"),
    ((None, 0), {}, "--num_tasks must be a positive integer, got 0"),
])
def test_inconsistent_shares_are_one_line(flags_, env, message):
  with pytest.raises(ValueError) as info:
    task_share(*flags_, env)
  assert message in str(info.value)
  assert "\n" not in str(info.value)


def test_a_finished_cell_of_an_older_config_is_skipped(tmp_path):
  settings = loop.Settings.of(rounds=2)
  config = settings.to_dict()
  del config["query_pool"]  # a setting added after this run was made
  (tmp_path / metrics.CONFIG_FILE).write_text(json.dumps(config))
  records = "".join(json.dumps({"round": r}) + "\n" for r in range(2))
  (tmp_path / metrics.METRICS_FILE).write_text(records)
  assert grid.finished(str(tmp_path), settings)
  assert not grid.finished(str(tmp_path), loop.Settings.of(rounds=3))
  assert not grid.finished(str(tmp_path), loop.Settings.of(
      rounds=2, query_pool=7))
  # The data fingerprint a run records is not a setting.
  config["data_fingerprint"] = {"x_train": "float32[1] sha256:00"}
  (tmp_path / metrics.CONFIG_FILE).write_text(json.dumps(config))
  assert grid.finished(str(tmp_path), settings)


def test_cells_pattern_picks_cells_by_name_in_grid_order():
  cells = grids.cells(grids.get("smoke2", "focus2"))
  names = [grids.cell_name(c) for c in grid.matching(cells, "*bbdropout*")]
  assert names == ["synthetic_bbdropout_joint_random_s0",
                   "synthetic_bbdropout_joint_entropy_s0"]
  assert grid.matching(cells, "") == cells
  assert grid.matching(cells, "*_s0") == cells
  with pytest.raises(ValueError, match=r"--cells 'cnn9\*' matches none of "
                     r"the 4 cells; they are named like synthetic_cnn1_"):
    grid.matching(cells, "cnn9*")
