r"""Focus 1: how acquisition functions compare on a given backbone.

  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x

Flags default to the `quick` preset; `--preset paper` switches to the
paper's protocol, and any flag typed explicitly overrides the preset.
Re-running a command resumes its workdir from the latest round.
"""

import os

from absl import app, flags

from experiments import cli
from experiments.configs import focus1 as focus1_config
from jaxdal import acquisition, data, loop, models

HELPS = {
    "dataset": f"dataset name ({', '.join(data.names())})",
    "backbone": f"backbone name ({', '.join(models.names())})",
    "acquisition": f"acquisition function ({', '.join(acquisition.names())})",
    "seed": "root seed; every random draw is folded in from it",
    "batch_size": "training batch size (fixed; the last batch is padded)",
    "learning_rate": "base learning rate",
    "momentum": "SGD momentum",
    "weight_decay": "L2 weight decay added to the gradient",
    "schedule": "per-epoch learning rate: cosine (to 0), constant, or "
                "multistep (x0.1 at 50% and 80% of max_epochs)",
    "rounds": "training rounds; the labeled set grows by --acquire between "
              "rounds",
    "initial": "size of the class-balanced initial labeled set",
    "acquire": "examples acquired per round",
    "pool_size": "cap on the unlabeled pool (0 = all remaining examples)",
    "val_fraction": "share of the non-initial examples held out for "
                    "validation",
    "max_epochs": "maximum epochs per round",
    "patience": "stop after this many epochs without validation improvement",
    "target_train_accuracy": "stop when training accuracy reaches this",
    "optimizer": "sgd or adam",
    "mc_samples": "MC-dropout samples for acquisitions that need them (bald)",
    "warm_start": "keep last round's weights instead of re-initialising",
    "augment": "random flips and 4-pixel crops of training batches (never "
               "when scoring)",
    "pretrain": "unsupervised pretraining of every round's initial weights: "
                "none or deepcluster",
    "pretrain_epochs": "DeepCluster alternations of k-means and training",
    "pretrain_steps": "training steps per DeepCluster alternation",
    "chunk": "rows per compiled prediction call",
    "data_dir": "folder with a prepared TFDS tree or raw IDX .gz files",
    "download": "let TFDS download missing datasets (needs network)",
}

flags.DEFINE_enum("preset", "quick", focus1_config.PRESETS,
                  "base settings; explicit flags override them")
flags.DEFINE_string("workdir", "",
                    "output folder (default runs/focus1/<dataset>_<backbone>_"
                    "<acquisition>_s<seed>)")
flags.DEFINE_bool("overwrite", False,
                  "replace a workdir that holds a different run")
flags.DEFINE_bool("progress", True, "show progress bars")
flags.DEFINE_string("backbone_kwargs", "{}",
                    'JSON keyword arguments of the backbone, e.g. '
                    '\'{"depth": 2, "width": 16}\'')
flags.DEFINE_string("dataset_kwargs", "{}",
                    'JSON keyword arguments of the dataset source (synthetic '
                    'only), e.g. \'{"num_train": 300}\'')
for _name in cli.define_flags_from_config(focus1_config.get_config("quick"),
                                         HELPS):
  flags.declare_key_flag(_name)
FLAGS = flags.FLAGS


def settings_from_config(c, backbone_kwargs: dict,
                         dataset_kwargs: dict) -> loop.Settings:
  """The library's explicit `Settings` from an experiment config."""
  return loop.Settings(
      dataset=c.dataset, backbone=c.backbone, acquisition=c.acquisition,
      backbone_kwargs=backbone_kwargs, dataset_kwargs=dataset_kwargs,
      rounds=c.rounds, initial=c.initial, acquire=c.acquire, seed=c.seed,
      val_fraction=c.val_fraction, pool_size=c.pool_size or None,
      batch_size=c.batch_size, max_epochs=c.max_epochs, patience=c.patience,
      target_train_accuracy=c.target_train_accuracy, optimizer=c.optimizer,
      learning_rate=c.learning_rate, momentum=c.momentum,
      weight_decay=c.weight_decay, schedule=c.schedule, mc_samples=c.mc_samples,
      warm_start=c.warm_start, augment=c.augment, pretrain=c.pretrain,
      pretrain_epochs=c.pretrain_epochs, pretrain_steps=c.pretrain_steps,
      chunk=c.chunk, data_dir=c.data_dir or None,
      download=c.download)


def main(argv):
  del argv

  def go():
    config = cli.apply_flag_overrides(
        focus1_config.get_config(FLAGS.preset), FLAGS)
    settings = settings_from_config(
        config, cli.parse_json_flag("backbone_kwargs", FLAGS.backbone_kwargs),
        cli.parse_json_flag("dataset_kwargs", FLAGS.dataset_kwargs))
    workdir = FLAGS.workdir or os.path.join(
        "runs", "focus1", f"{settings.dataset}_{settings.backbone}_"
        f"{settings.acquisition}_s{settings.seed}")
    records = loop.run(settings, workdir, overwrite=FLAGS.overwrite,
                       progress=FLAGS.progress)
    last = records[-1]
    print(f"final test accuracy {100 * last['test_accuracy']:.2f}% with "
          f"{last['labeled']} labels; results in {workdir}")

  cli.run_reporting_errors(go)


if __name__ == "__main__":
  app.run(main)
