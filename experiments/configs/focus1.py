"""Focus 1 presets: acquisition functions on a fixed backbone.

Run:
  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
"""

import ml_collections

from experiments.configs.protocol import PRESETS, protocol

__all__ = ["HEAVY", "PRESETS", "get_config", "is_heavy"]

# The quick and medium presets for ResNets and VGGs, which train at ~65
# images/s on a 2-core CPU (28x28x1): a capped pool, validation and test
# subset, and fewer epochs keep a quick 5-round run under 10 minutes and a
# medium 6-round one near 20.
HEAVY = {
    "quick": {"pool_size": 2000, "val_size": 256, "test_size": 1000,
              "max_epochs": 10, "patience": 4},
    "medium": {"pool_size": 2000, "val_size": 256, "test_size": 1000,
               "max_epochs": 15, "patience": 5},
}


def is_heavy(backbone: str) -> bool:
  """ResNets and VGGs (the paper's image backbones)."""
  return backbone.startswith(("resnet", "vgg"))


def get_config(preset: str = "quick",
               backbone: str = "cnn") -> ml_collections.ConfigDict:
  """The settings of preset `quick` (minutes on a CPU), `medium` or `paper`.

  `paper` adds to the shared protocol (`protocol.protocol`) the paper's
  optimiser: SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with cosine
  annealing, weights re-initialised each round; `quick` and `medium` use
  Adam (lr 2e-3), and with a heavy `backbone` (ResNet, VGG) apply
  `HEAVY[preset]`.
  """
  c = protocol(preset)
  c.backbone = "cnn"
  c.backbone_kwargs = "{}"  # JSON
  c.momentum = 0.9
  c.schedule = "cosine"
  c.warm_start = False
  c.augment = False
  c.pretrain = "none"
  paper = preset == "paper"
  c.optimizer = "sgd" if paper else "adam"
  c.learning_rate = 0.01 if paper else 2e-3
  c.weight_decay = 5e-4 if paper else 0.0
  if preset in HEAVY and is_heavy(backbone):
    c.update(HEAVY[preset])
  return c
