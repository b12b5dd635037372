r"""Focus 1: how acquisition functions compare on a given backbone.

  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
  python -m experiments.focus1 --seeds 0,1,2 --vmap_seeds

Flags default to the `quick` preset (smaller pool, validation and test
subsets and fewer epochs for ResNets and VGGs); `--preset paper` switches to
the paper's protocol, and any flag typed explicitly overrides the preset.
Re-running a command resumes its workdir from the latest round.
`--import MODULE` (on every CLI) imports a module of yours first, so the
acquisition, backbone or dataset it registers can be chosen by name, as
examples/my_acq.py shows:

  python -m experiments.focus1 --import my_acq --acquisition lowest_max
"""

import os
import time

import jax
from absl import app, flags

from experiments import cli, grid
from experiments.configs import focus1 as focus1_config
from experiments.configs import protocol
from jaxdal import acquisition, data, loop, models, optim, settings

# First: a module named by --import may register names HELPS lists.
_IMPORT_FLAGS = cli.define_import_flag()

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
for _name in _IMPORT_FLAGS + _RUN_FLAGS + _CONFIG_FLAGS:
  flags.declare_key_flag(_name)
for _name in grid.define_grid_flags("focus1"):
  flags.declare_key_flag(_name)
flags.DEFINE_string("seeds", "", "comma-separated seeds to run (e.g. "
                    "0,1,2), each into <workdir>/s<seed>; overrides --seed")
flags.DEFINE_bool("vmap_seeds", False, "train the --seeds together: one "
                  "jax.vmap-ed step over their stacked parameters")
FLAGS = flags.FLAGS


def settings_from_flags(preset: str, backbone: str,
                        cell: dict | None = None) -> loop.Settings:
  """The run's settings: the preset's config, the typed flags over it, then
  a grid cell's values over those. The dataset (the cell's, or a typed
  one) picks the text protocol's query pool."""
  dataset = (cell or {}).get("dataset", FLAGS.dataset
                             if FLAGS["dataset"].present else "")
  config = cli.apply_flag_overrides(
      focus1_config.get_config(preset, backbone, dataset), FLAGS)
  config.update(cell or {})
  return loop.Settings.from_config(config)


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
    cli.run_reporting_errors(lambda: grid.run_grid(
        "focus1", lambda preset, cell: settings_from_flags(
            preset, cell.get("backbone", FLAGS.backbone), cell)))
    return

  def go():
    grid.check_without_grid("focus1")
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
