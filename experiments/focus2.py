r"""Focus 2: architecture optimisation during active learning.

  python -m experiments.focus2 --method bbdropout
  python -m experiments.focus2 --method depth_dropout --mode spo \
      --acquisition margin --workdir runs/dd_spo

`--method` is bbdropout, depth_dropout, pdarts or a fixed CNN (cnn1,
cnn5, cnn9); `--mode` says when the architecture is optimised: `joint`
(every round, with the weights; PDARTS searches a new genotype every
round), `spo` (once, on the initial labeled set) or `upo` (once, on
unlabeled data with DeepCluster pseudo-labels). With no other flag the
quick preset runs on the embedded MNIST digits. Each round prints the test
accuracy and the inferred architecture; the workdir gets `metrics.jsonl`,
a learning curve and an architecture figure (per-layer activation bars over
a filters-by-layers mask, one column per round; PDARTS: operations per
cell and round).
"""

import os

from absl import app, flags

from experiments import cli, grid
from experiments.configs import focus2 as focus2_config
from experiments.configs import protocol
from jaxdal import acquisition, archopt, data, loop, optim, plots

# First: a module named by --import may register names HELPS lists.
_IMPORT_FLAGS = cli.define_import_flag()

HELPS = {
    **protocol.HELPS,
    "target_train_accuracy": "stop when an epoch's training accuracy "
                             "reaches this fraction, in (0, 1]; 0: never "
                             "(only --patience and --max_epochs stop)",
    "dataset": f"dataset name ({', '.join(data.names())})",
    "method": f"architecture method ({', '.join(archopt.names())})",
    "mode": f"when the architecture is optimised "
            f"({', '.join(archopt.MODES)})",
    "train_arch": "train the architecture parameters (BBDropout gates, "
                  "Depth-Dropout structure); --notrain_arch freezes them at "
                  "their initial values, as the ArchDAL code does (PDARTS: "
                  "no search, the published CIFAR-10 genotype)",
    "acquisition": f"acquisition function ({', '.join(acquisition.names())})",
    "pretrain_epochs": "UPO: DeepCluster alternations",
    "pretrain_steps": "UPO: training steps per DeepCluster alternation",
    "method_kwargs": "JSON arguments of the method, over the preset's, e.g. "
                     "'{\"layers\": 20, \"filters\": 64, \"a_init\": "
                     "1.3133}'",
    "learning_rate": "base learning rate (0: the preset's, per method)",
    "schedule": f"learning-rate schedule ({', '.join(optim.SCHEDULES)}; "
                f"empty: the preset's, per method)",
}

_RUN_FLAGS = cli.define_run_flags(
    focus2_config.PRESETS,
    "runs/focus2/<dataset>_<method>_<mode>_<acquisition>_"
    "s<seed>")
_CONFIG_FLAGS = cli.define_flags_from_config(
    focus2_config.get_config("quick"), HELPS)
for _name in (_IMPORT_FLAGS + _RUN_FLAGS + _CONFIG_FLAGS
              + grid.define_grid_flags("focus2")):
  flags.declare_key_flag(_name)
FLAGS = flags.FLAGS


def settings_from_flags(preset: str, cell: dict | None = None
                        ) -> loop.Settings:
  """The run's settings: the preset's config, the typed flags over it, a
  grid cell's values over those, then the method's preset settings."""
  config = cli.apply_flag_overrides(focus2_config.get_config(preset), FLAGS)
  config.update(cell or {})
  return loop.Settings.from_config(
      focus2_config.with_method_defaults(config, preset))


def main(argv):
  del argv
  if FLAGS.grid:
    cli.run_reporting_errors(lambda: grid.run_grid(
        "focus2", settings_from_flags, after=plots.architecture_evolution))
    return

  def go():
    grid.check_without_grid("focus2")
    settings = settings_from_flags(FLAGS.preset)
    workdir = FLAGS.workdir or os.path.join(
        "runs", "focus2", f"{settings.data.dataset}_{settings.arch.method}_"
        f"{settings.arch.mode}_{settings.active.acquisition}_"
        f"s{settings.active.seed}")
    records = loop.run(settings, workdir, overwrite=FLAGS.overwrite,
                       progress=FLAGS.progress)
    figure = plots.architecture_evolution(workdir)
    last = records[-1]
    print(f"final test accuracy {100 * last['test_accuracy']:.2f}% with "
          f"{last['labeled']} labels; results in {workdir}"
          + (f" (architecture figure {figure})" if figure else ""))

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
