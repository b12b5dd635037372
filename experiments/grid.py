"""Running a grid's share of cells: what `--grid`, `--task_index` and
`--num_tasks` do in focus1 and focus2."""

import os
from collections.abc import Callable

from absl import flags

from experiments.configs import grids
from jaxdal import loop, metrics


def define_grid_flags(program: str) -> list[str]:
  """`--grid`, `--task_index` and `--num_tasks`; returns their names."""
  flags.DEFINE_string("grid", "", f"run the cells of a grid "
                      f"({', '.join(grids.names(program))}) instead of one "
                      f"run; with --task_index and --num_tasks each process "
                      f"takes every num_tasks-th cell")
  flags.DEFINE_integer("task_index", 0, "this process's share of --grid")
  flags.DEFINE_integer("num_tasks", 1, "how many processes share --grid")
  return ["grid", "task_index", "num_tasks"]


def finished(workdir: str, settings: loop.Settings) -> bool:
  """True when `workdir` holds this exact run with every round done."""
  try:
    config, records = metrics.read_run(workdir)
  except FileNotFoundError:
    return False
  return (config == settings.to_dict()
          and len(records) >= settings.active.rounds)


def run_grid(program: str, settings_for: Callable[[str, dict], loop.Settings],
             *, after: Callable[[str], None] | None = None) -> None:
  """Runs this task's cells of `--grid`, skipping finished ones.

  Args:
    program: "focus1" or "focus2" (which grids it may run).
    settings_for: `(preset, cell) -> Settings` of one cell.
    after: called with a cell's workdir once it has run (e.g. figures).
  """
  f = flags.FLAGS
  grid = grids.get(f.grid, program)
  if not 0 <= f.task_index < f.num_tasks:
    raise ValueError(f"--task_index must be in [0, {f.num_tasks}), got "
                     f"{f.task_index}")
  all_cells = grids.cells(grid)
  preset = f.preset if f["preset"].present else grid["preset"]
  root = f.workdir or os.path.join("runs", program, f.grid)
  mine = [c for i, c in enumerate(all_cells)
          if i % f.num_tasks == f.task_index]
  print(f"grid {f.grid}: {len(all_cells)} cells, task "
        f"{f.task_index}/{f.num_tasks} runs {len(mine)}")
  for cell in mine:
    name = grids.cell_name(cell)
    settings = settings_for(preset, cell)
    workdir = os.path.join(root, name)
    if finished(workdir, settings):
      print(f"skip {name}: finished")
      continue
    print(f"run {name}")
    records = loop.run(settings, workdir, overwrite=f.overwrite,
                       progress=f.progress)
    if after is not None:
      after(workdir)
    print(f"done {name}: test accuracy "
          f"{100 * records[-1]['test_accuracy']:.2f}%")
