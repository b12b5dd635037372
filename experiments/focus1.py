r"""Focus 1: how acquisition functions compare on a given backbone.

  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
  python -m experiments.focus1 --seeds 0,1,2 --vmap_seeds

Flags default to the `quick` preset (smaller pool, validation and test
subsets and fewer epochs for ResNets and VGGs); `--preset paper` switches to
the paper's protocol, and any flag typed explicitly overrides the preset.
Re-running a command resumes its workdir from the latest round.
"""

import os
import time

import jax
from absl import app, flags

from experiments import cli
from experiments.configs import focus1 as focus1_config
from experiments.configs import grids, protocol
from jaxdal import acquisition, data, loop, metrics, models, optim, settings

HELPS = {
    **protocol.HELPS,
    "target_train_accuracy": "stop when an epoch's training accuracy "
                             "reaches this fraction, in (0, 1]; 0: never "
                             "(only --patience and --max_epochs stop)",
    "dataset": f"dataset name ({', '.join(data.names())})",
    "backbone": f"backbone name ({', '.join(models.names())})",
    "acquisition": f"acquisition function ({', '.join(acquisition.names())})",
    "learning_rate": "base learning rate",
    "momentum": "SGD momentum",
    "weight_decay": "L2 weight decay added to the gradient",
    "schedule": f"per-epoch learning rate ({', '.join(optim.SCHEDULES)}): "
                "cosine to 0, or x0.1 at 50% and 80% of max_epochs",
    "optimizer": f"optimizer ({', '.join(optim.OPTIMIZERS)})",
    "warm_start": "keep last round's weights instead of re-initialising",
    "augment": "random flips and 4-pixel crops of training batches (never "
               "when scoring)",
    "pretrain": "unsupervised pretraining of every round's initial weights "
                f"({', '.join(settings.PRETRAINING)})",
    "backbone_kwargs": 'JSON keyword arguments of the backbone, e.g. '
                       '\'{"depth": 2, "width": 16}\'',
}

_RUN_FLAGS = cli.define_run_flags(
    focus1_config.PRESETS,
    "runs/focus1/<dataset>_<backbone>_<acquisition>_s<seed>")
_CONFIG_FLAGS = cli.define_flags_from_config(
    focus1_config.get_config("quick"), HELPS)
for _name in _RUN_FLAGS + _CONFIG_FLAGS:
  flags.declare_key_flag(_name)
flags.DEFINE_string("grid", "", f"run the cells of a grid "
                    f"({', '.join(grids.GRIDS)}) instead of one run; with "
                    f"--task_index and --num_tasks each process takes every "
                    f"num_tasks-th cell")
flags.DEFINE_string("seeds", "", "comma-separated seeds to run (e.g. "
                    "0,1,2), each into <workdir>/s<seed>; overrides --seed")
flags.DEFINE_bool("vmap_seeds", False, "train the --seeds together: one "
                  "jax.vmap-ed step over their stacked parameters")
flags.DEFINE_integer("task_index", 0, "this process's share of --grid")
flags.DEFINE_integer("num_tasks", 1, "how many processes share --grid")
FLAGS = flags.FLAGS


def settings_from_flags(preset: str, backbone: str,
                        cell: dict | None = None) -> loop.Settings:
  """The run's settings: the preset's config, the typed flags over it, then
  a grid cell's values over those."""
  config = cli.apply_flag_overrides(
      focus1_config.get_config(preset, backbone), FLAGS)
  config.update(cell or {})
  return loop.Settings.from_config(config)


def _finished(workdir: str, settings: loop.Settings) -> bool:
  """True when `workdir` holds this exact run with every round done."""
  try:
    config, records = metrics.read_run(workdir)
  except FileNotFoundError:
    return False
  return (config == settings.to_dict()
          and len(records) >= settings.active.rounds)


def run_grid() -> None:
  """Runs this task's cells of `--grid`, skipping finished ones."""
  if not 0 <= FLAGS.task_index < FLAGS.num_tasks:
    raise ValueError(f"--task_index must be in [0, {FLAGS.num_tasks}), got "
                     f"{FLAGS.task_index}")
  grid = grids.GRIDS.get(FLAGS.grid)
  all_cells = grids.cells(FLAGS.grid)
  preset = FLAGS.preset if FLAGS["preset"].present else grid["preset"]
  root = FLAGS.workdir or os.path.join("runs", "focus1", FLAGS.grid)
  mine = [c for i, c in enumerate(all_cells)
          if i % FLAGS.num_tasks == FLAGS.task_index]
  print(f"grid {FLAGS.grid}: {len(all_cells)} cells, task "
        f"{FLAGS.task_index}/{FLAGS.num_tasks} runs {len(mine)}")
  for cell in mine:
    settings = settings_from_flags(
        preset, cell.get("backbone", FLAGS.backbone), cell)
    workdir = os.path.join(root, grids.cell_name(cell))
    if _finished(workdir, settings):
      print(f"skip {grids.cell_name(cell)}: finished")
      continue
    print(f"run {grids.cell_name(cell)}")
    records = loop.run(settings, workdir, overwrite=FLAGS.overwrite,
                       progress=FLAGS.progress)
    print(f"done {grids.cell_name(cell)}: test accuracy "
          f"{100 * records[-1]['test_accuracy']:.2f}%")


def parse_seeds(text: str) -> list[int]:
  """`"0,1,2"` -> `[0, 1, 2]`; a one-line ValueError otherwise."""
  try:
    seeds = [int(part) for part in text.split(",") if part.strip()]
  except ValueError:
    raise ValueError(f"--seeds must be comma-separated integers, got "
                     f"{text!r}") from None
  if not seeds or len(set(seeds)) != len(seeds):
    raise ValueError(f"--seeds must list distinct integers, got {text!r}")
  return seeds


def run_seeds(settings: loop.Settings) -> None:
  """`--seeds` one after another, or together with `--vmap_seeds`."""
  if not FLAGS.seeds:
    raise ValueError("--vmap_seeds needs --seeds, e.g. --seeds 0,1,2")
  seeds = parse_seeds(FLAGS.seeds)
  root = FLAGS.workdir or os.path.join(
      "runs", "focus1",
      f"{settings.data.dataset}_{settings.arch.backbone}_"
      f"{settings.active.acquisition}")
  all_settings = [settings.replace(seed=s) for s in seeds]
  workdirs = [os.path.join(root, f"s{s}") for s in seeds]
  t0 = time.perf_counter()
  if FLAGS.vmap_seeds and jax.default_backend() == "cpu":
    print("note: on CPU, convolutional networks train slower vmapped than "
          "one by one (grouped convolutions; benchmarks/RESULTS.md)")
  if FLAGS.vmap_seeds:
    results = loop.run_seeds(all_settings, workdirs,
                             overwrite=FLAGS.overwrite,
                             progress=FLAGS.progress)
  else:
    results = [loop.run(s, w, overwrite=FLAGS.overwrite,
                        progress=FLAGS.progress)
               for s, w in zip(all_settings, workdirs, strict=True)]
  for seed, records in zip(seeds, results, strict=True):
    last = records[-1]
    print(f"seed {seed}: final test accuracy "
          f"{100 * last['test_accuracy']:.2f}% with {last['labeled']} labels")
  how = "together (vmap)" if FLAGS.vmap_seeds else "one by one"
  print(f"{len(seeds)} seeds {how} in {time.perf_counter() - t0:.1f}s; "
        f"results in {root}")


def main(argv):
  del argv
  if FLAGS.grid:
    cli.run_reporting_errors(run_grid)
    return

  def go():
    settings = settings_from_flags(FLAGS.preset, FLAGS.backbone)
    if FLAGS.seeds or FLAGS.vmap_seeds:
      run_seeds(settings)
      return
    workdir = FLAGS.workdir or os.path.join(
        "runs", "focus1", f"{settings.data.dataset}_{settings.arch.backbone}_"
        f"{settings.active.acquisition}_s{settings.active.seed}")
    records = loop.run(settings, workdir, overwrite=FLAGS.overwrite,
                       progress=FLAGS.progress)
    last = records[-1]
    print(f"final test accuracy {100 * last['test_accuracy']:.2f}% with "
          f"{last['labeled']} labels; results in {workdir}")

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
