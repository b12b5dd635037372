"""Focus 1 presets: acquisition functions on a fixed backbone.

Run:
  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
"""

import ml_collections

from experiments.configs.protocol import PRESETS, protocol

__all__ = ["PRESETS", "get_config"]


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """The settings of preset `quick` (minutes on a CPU) or `paper`.

  `paper` adds to the shared protocol (`protocol.protocol`) the paper's
  optimiser: SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with cosine
  annealing, weights re-initialised each round.
  """
  c = protocol(preset)
  c.backbone = "cnn"
  c.momentum = 0.9
  c.schedule = "cosine"
  c.warm_start = False
  c.augment = False
  c.pretrain = "none"
  quick = preset == "quick"
  c.optimizer = "adam" if quick else "sgd"
  c.learning_rate = 2e-3 if quick else 0.01
  c.weight_decay = 0.0 if quick else 5e-4
  return c
