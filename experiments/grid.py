"""Running a grid's share of cells: what `--grid`, `--task_index` and
`--num_tasks` do in focus1 and focus2.

On a cluster the share comes from the scheduler: a Slurm job array sets
`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`, a Kubernetes indexed Job
sets `JOB_COMPLETION_INDEX` (its count is the Job's `completions`, passed as
`--num_tasks`). Flags typed explicitly win over the environment.
"""

import fnmatch
import json
import os
from collections.abc import Callable, Mapping

from absl import flags

from experiments.configs import grids
from jaxdal import lockstep, loop, metrics
from jaxdal.data import fingerprint

# The folder under a grid's workdir that its cells share (`loop.run`).
SHARED = ".shared"


def define_grid_flags(program: str) -> list[str]:
  """`--grid`, `--cells`, `--task_index`, `--num_tasks` and `--records`;
  returns their names."""
  flags.DEFINE_string("grid", "", f"run the cells of a grid "
                      f"({', '.join(grids.names(program))}) instead of one "
                      f"run; with --task_index and --num_tasks each process "
                      f"takes every num_tasks-th cell")
  flags.DEFINE_string("cells", "", "only the cells of --grid whose names "
                      "match this shell pattern (e.g. '*bbdropout*' or "
                      "'*_s0'; names as in the grid's workdir); the task "
                      "share is taken of those")
  flags.DEFINE_integer("task_index", None, "this process's share of --grid "
                       "(default: SLURM_ARRAY_TASK_ID, Kubernetes "
                       "JOB_COMPLETION_INDEX, else 0)")
  flags.DEFINE_integer("num_tasks", None, "how many processes share --grid "
                       "(default: SLURM_ARRAY_TASK_COUNT, else 1)")
  flags.DEFINE_string("records", "", "copy each finished cell's config.json "
                      "and metrics.jsonl to RECORDS/<grid>/runs/<cell>/ "
                      "(e.g. docs/reproduction, to commit them); finished "
                      "cells that are skipped are copied too")
  flags.DEFINE_bool("vmap_cells", False, "train this task's cells that "
                    "differ only in seed and acquisition together, one "
                    "vmapped step a round (jaxdal.lockstep.run_cells); "
                    "each keeps its workdir and records")
  return ["grid", "cells", "task_index", "num_tasks", "records",
          "vmap_cells"]


def copy_records(workdir: str, target: str) -> bool:
  """Copies a run's `config.json` and `metrics.jsonl` (no checkpoints) to
  the folder `target`, each file atomically; returns True if anything
  changed there."""
  changed = False
  os.makedirs(target, exist_ok=True)
  for name in (metrics.CONFIG_FILE, metrics.METRICS_FILE):
    with open(os.path.join(workdir, name)) as f:
      content = f.read()
    path = os.path.join(target, name)
    if os.path.isfile(path):
      with open(path) as f:
        if f.read() == content:
          continue
    metrics.write_text(path, content)
    changed = True
  return changed


def _env_int(env: Mapping[str, str], name: str) -> int | None:
  """`env[name]` as an int, None when unset; one-line error otherwise."""
  text = env.get(name, "").strip()
  if not text:
    return None
  try:
    return int(text)
  except ValueError:
    raise ValueError(f"{name} must be an integer, got {text!r}") from None


def _slurm_share(env: Mapping[str, str]) -> tuple[int, int] | None:
  """(index, count) of a Slurm array task, or None outside one.

  Arrays need not start at 0 (`--array=1-8`) nor step by 1 (`0-14:2`); the
  index is the task's position, `(ID - MIN) / STEP`.
  """
  task = _env_int(env, "SLURM_ARRAY_TASK_ID")
  if task is None:
    return None
  count = _env_int(env, "SLURM_ARRAY_TASK_COUNT")
  if count is None:
    raise ValueError(f"SLURM_ARRAY_TASK_ID={task} is set but "
                     f"SLURM_ARRAY_TASK_COUNT is not; pass --num_tasks")
  low = _env_int(env, "SLURM_ARRAY_TASK_MIN") or 0
  step = _env_int(env, "SLURM_ARRAY_TASK_STEP") or 1
  index, rest = divmod(task - low, step)
  if rest or not 0 <= index < count:
    raise ValueError(
        f"SLURM_ARRAY_TASK_ID={task} is not one of the {count} tasks of "
        f"the array {low}..{low + step * (count - 1)} step {step}; use "
        f"--array=0-{count - 1} or pass --task_index")
  return index, count


def task_share(task_index: int | None, num_tasks: int | None,
               env: Mapping[str, str]) -> tuple[int, int, str]:
  """This process's share of a grid: `(task_index, num_tasks, source)`.

  Typed flags win; otherwise a Slurm array task (`SLURM_ARRAY_TASK_ID` /
  `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes indexed Job
  (`JOB_COMPLETION_INDEX`, count from `--num_tasks`) decides; outside both,
  `(0, 1)`.

  Args:
    task_index: `--task_index`, None when not given.
    num_tasks: `--num_tasks`, None when not given.
    env: the environment (`os.environ`).

  Returns:
    The index in `[0, num_tasks)`, the count, and where they came from
    ("flags", "slurm", "kubernetes" or "default").

  >>> task_share(None, None, {"SLURM_ARRAY_TASK_ID": "3",
  ...                         "SLURM_ARRAY_TASK_COUNT": "4"})
  (3, 4, 'slurm')
  """
  source = "flags"
  if task_index is None or num_tasks is None:
    slurm = _slurm_share(env)
    k8s = _env_int(env, "JOB_COMPLETION_INDEX")
    if slurm is not None and k8s is not None:
      raise ValueError(
          f"both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX={k8s} are "
          f"set; pass --task_index and --num_tasks")
    if slurm is not None:
      source = "slurm"
      if num_tasks is not None and num_tasks != slurm[1]:
        raise ValueError(
            f"--num_tasks={num_tasks} but the Slurm array has "
            f"SLURM_ARRAY_TASK_COUNT={slurm[1]} tasks; drop --num_tasks or "
            f"make them equal")
      task_index = slurm[0] if task_index is None else task_index
      num_tasks = slurm[1]
    elif k8s is not None:
      source = "kubernetes"
      if num_tasks is None:
        raise ValueError(
            f"JOB_COMPLETION_INDEX={k8s} is set but --num_tasks is not; "
            f"pass the Job's completions as --num_tasks")
      if task_index is None and not 0 <= k8s < num_tasks:
        raise ValueError(
            f"JOB_COMPLETION_INDEX={k8s} is not in [0, --num_tasks="
            f"{num_tasks}); pass the Job's completions as --num_tasks")
      task_index = k8s if task_index is None else task_index
    else:
      if task_index is None and num_tasks is None:
        source = "default"
      task_index = 0 if task_index is None else task_index
      num_tasks = 1 if num_tasks is None else num_tasks
  if num_tasks < 1:
    raise ValueError(f"--num_tasks must be a positive integer, got "
                     f"{num_tasks}")
  if not 0 <= task_index < num_tasks:
    raise ValueError(f"--task_index must be in [0, {num_tasks}), got "
                     f"{task_index}")
  return task_index, num_tasks, source


def check_without_grid(program: str) -> None:
  """One-line error when a grid-only flag is typed without `--grid`."""
  f = flags.FLAGS
  for name in ("cells", "task_index", "num_tasks", "records", "vmap_cells"):
    if f[name].present:
      raise ValueError(f"--{name} needs --grid (one of: "
                       f"{', '.join(grids.names(program))})")


def matching(cells: list[dict], pattern: str) -> list[dict]:
  """The cells whose `grids.cell_name` matches shell pattern `pattern`
  ("" = all), in grid order.

  Raises:
    ValueError: the pattern matches no cell (the message shows a few
      names).
  """
  if not pattern:
    return cells
  chosen = [c for c in cells
            if fnmatch.fnmatchcase(grids.cell_name(c), pattern)]
  if not chosen:
    names = [grids.cell_name(c) for c in cells]
    raise ValueError(f"--cells {pattern!r} matches none of the "
                     f"{len(names)} cells; they are named like "
                     f"{', '.join(names[:3])}")
  return chosen


def finished(workdir: str, settings: loop.Settings) -> bool:
  """True when `workdir` holds this exact run with every round done, or
  ended early by its stopping criterion (settings an older `config.json`
  lacks count as their defaults, as on resume)."""
  try:
    config, records = metrics.read_run(workdir)
  except FileNotFoundError:
    return False
  config.pop(fingerprint.KEY, None)  # the data's; not a setting
  return ({**loop.Settings().to_dict(), **config} == settings.to_dict()
          and (len(records) >= settings.active.rounds
               or bool(records and records[-1].get("stopped_by"))))


def run_grid(program: str, settings_for: Callable[[str, dict], loop.Settings],
             *, after: Callable[[str], None] | None = None) -> None:
  """Runs this task's cells of `--grid`, skipping finished ones: those
  finished in the workdir, and with `--records` those whose records there
  hold the same settings and every round.

  Args:
    program: "focus1" or "focus2" (which grids it may run).
    settings_for: `(preset, cell) -> Settings` of one cell.
    after: called with a cell's workdir once it has run (e.g. figures).
  """
  f = flags.FLAGS
  grid = grids.get(f.grid, program)
  task_index, num_tasks, source = task_share(f.task_index, f.num_tasks,
                                             os.environ)
  all_cells = matching(grids.cells(grid), f.cells)
  preset = f.preset if f["preset"].present else grid["preset"]
  root = f.workdir or os.path.join("runs", program, f.grid)
  mine = [c for i, c in enumerate(all_cells)
          if i % num_tasks == task_index]
  print(f"grid {f.grid}: {len(all_cells)} cells"
        f"{f' matching {f.cells!r}' if f.cells else ''}, task "
        f"{task_index}/{num_tasks} ({source}) runs {len(mine)}")
  records_root = (os.path.join(f.records, f.grid, "runs") if f.records
                  else None)
  todo = []
  for cell in mine:
    name = grids.cell_name(cell)
    settings = settings_for(preset, cell)
    workdir = os.path.join(root, name)
    if finished(workdir, settings):
      copied = records_root and copy_records(
          workdir, os.path.join(records_root, name))
      print(f"skip {name}: finished{'; records copied' if copied else ''}")
      continue
    if records_root and finished(os.path.join(records_root, name),
                                 settings):
      # Its records (from any machine) are the run: nothing to redo.
      print(f"skip {name}: finished, records in "
            f"{os.path.join(records_root, name)}")
      continue
    todo.append((name, settings, workdir))
  # Cells that differ only in their acquisition share their DeepCluster
  # pretraining (`loop.run`'s `shared`).
  shared = os.path.join(root, SHARED)
  for group in (_lockstep_groups(todo) if f.vmap_cells
                else [[cell] for cell in todo]):
    names = [name for name, _, _ in group]
    print(f"run {', '.join(names)}"
          + (" together (--vmap_cells)" if len(group) > 1 else ""))
    if len(group) == 1:
      results = [loop.run(group[0][1], group[0][2], overwrite=f.overwrite,
                          progress=f.progress, shared=shared)]
    else:
      results = lockstep.run_cells(
          [s for _, s, _ in group], [w for _, _, w in group],
          overwrite=f.overwrite, progress=f.progress, shared=shared)
    for (name, _, workdir), records in zip(group, results, strict=True):
      if after is not None:
        after(workdir)
      where = ""
      if records_root:
        copy_records(workdir, os.path.join(records_root, name))
        where = f"; records in {os.path.join(records_root, name)}"
      print(f"done {name}: test accuracy "
            f"{100 * records[-1]['test_accuracy']:.2f}%{where}")


def _lockstep_groups(todo: list[tuple]) -> list[list[tuple]]:
  """`(name, settings, workdir)` cells grouped by everything but their
  seed and acquisition (`lockstep.VARIES`), in grid order of each group's
  first cell."""
  groups: dict = {}
  for cell in todo:
    key = json.dumps({**cell[1].to_dict(),
                      **dict.fromkeys(lockstep.VARIES)}, sort_keys=True,
                     default=str)
    groups.setdefault(key, []).append(cell)
  return list(groups.values())
