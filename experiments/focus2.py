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

from experiments import cli
from experiments.configs import focus2 as focus2_config
from experiments.configs import protocol
from jaxdal import acquisition, archopt, data, loop, plots

HELPS = {
    **protocol.HELPS,
    "dataset": f"dataset name ({', '.join(data.names())})",
    "method": f"architecture method ({', '.join(archopt.names())})",
    "mode": "when the architecture is optimised: joint, spo or upo",
    "train_arch": "train the architecture parameters (BBDropout gates, "
                  "Depth-Dropout structure); --notrain_arch freezes them at "
                  "their initial values, as the ArchDAL code does (PDARTS: "
                  "no search, the published CIFAR-10 genotype)",
    "acquisition": f"acquisition function ({', '.join(acquisition.names())})",
    "pretrain_epochs": "UPO: DeepCluster alternations",
    "pretrain_steps": "UPO: training steps per DeepCluster alternation",
}

cli.define_run_flags(focus2_config.PRESETS,
                     "runs/focus2/<dataset>_<method>_<mode>_<acquisition>_"
                     "s<seed>")
flags.DEFINE_string("method_kwargs", "{}",
                    "JSON arguments of the method, over the preset's, e.g. "
                    "'{\"layers\": 20, \"filters\": 64, \"a_init\": 1.3133}'")
flags.DEFINE_float("learning_rate", None,
                   "base learning rate (default: the preset's, per method)")
flags.DEFINE_enum("schedule", None, ("cosine", "constant", "multistep"),
                  "learning-rate schedule (default: the preset's, per method)")
for _name in cli.define_flags_from_config(focus2_config.get_config("quick"),
                                         HELPS):
  flags.declare_key_flag(_name)
FLAGS = flags.FLAGS


def settings_from_config(c, preset: str, method_kwargs: dict,
                         dataset_kwargs: dict, learning_rate: float | None,
                         schedule: str | None) -> loop.Settings:
  """The library's explicit `Settings` from a focus 2 config."""
  defaults = focus2_config.method_defaults(preset, c.method)
  return loop.Settings(
      dataset=c.dataset, dataset_kwargs=dataset_kwargs, method=c.method,
      method_kwargs={**defaults["kwargs"], **method_kwargs}, mode=c.mode,
      train_arch=c.train_arch,
      acquisition=c.acquisition, rounds=c.rounds, initial=c.initial,
      acquire=c.acquire, seed=c.seed, val_fraction=c.val_fraction,
      val_size=c.val_size or None, test_size=c.test_size or None,
      pool_size=c.pool_size or None, batch_size=c.batch_size,
      max_epochs=c.max_epochs, patience=c.patience,
      target_train_accuracy=c.target_train_accuracy,
      learning_rate=(defaults["learning_rate"] if learning_rate is None
                     else learning_rate),
      schedule=defaults["schedule"] if schedule is None else schedule,
      mc_samples=c.mc_samples, pretrain_epochs=c.pretrain_epochs,
      pretrain_steps=c.pretrain_steps, chunk=c.chunk,
      data_dir=c.data_dir or None, download=c.download)


def main(argv):
  del argv

  def go():
    config = cli.apply_flag_overrides(
        focus2_config.get_config(FLAGS.preset), FLAGS)
    settings = settings_from_config(
        config, FLAGS.preset,
        cli.parse_json_flag("method_kwargs", FLAGS.method_kwargs),
        cli.parse_json_flag("dataset_kwargs", FLAGS.dataset_kwargs),
        FLAGS.learning_rate, FLAGS.schedule)
    workdir = FLAGS.workdir or os.path.join(
        "runs", "focus2", f"{settings.dataset}_{settings.method}_"
        f"{settings.mode}_{settings.acquisition}_s{settings.seed}")
    records = loop.run(settings, workdir, overwrite=FLAGS.overwrite,
                       progress=FLAGS.progress)
    figure = plots.architecture_evolution(workdir)
    last = records[-1]
    print(f"final test accuracy {100 * last['test_accuracy']:.2f}% with "
          f"{last['labeled']} labels; results in {workdir}"
          + (f" (architecture figure {figure})" if figure else ""))

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main)
