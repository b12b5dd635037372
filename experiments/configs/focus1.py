"""Focus 1 presets: acquisition functions on a fixed backbone.

Run:
  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
"""

import ml_collections

from experiments.configs.protocol import PRESETS, protocol

__all__ = ["HEAVY_QUICK", "PRESETS", "get_config", "is_heavy"]

# The quick preset for ResNets and VGGs, which train at ~65 images/s on a
# 2-core CPU (28x28x1): a capped pool, validation and test subset, and
# fewer epochs keep a 5-round run under 10 minutes.
HEAVY_QUICK = {"pool_size": 2000, "val_size": 256, "test_size": 1000,
               "max_epochs": 10, "patience": 4}


def is_heavy(backbone: str) -> bool:
  """ResNets and VGGs (the paper's image backbones)."""
  return backbone.startswith(("resnet", "vgg"))


def get_config(preset: str = "quick",
               backbone: str = "cnn") -> ml_collections.ConfigDict:
  """The settings of preset `quick` (minutes on a CPU) or `paper`.

  `paper` adds to the shared protocol (`protocol.protocol`) the paper's
  optimiser: SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with cosine
  annealing, weights re-initialised each round. `quick` with a heavy
  `backbone` (ResNet, VGG) also applies `HEAVY_QUICK`.
  """
  c = protocol(preset)
  c.backbone = "cnn"
  c.backbone_kwargs = "{}"  # JSON
  c.momentum = 0.9
  c.schedule = "cosine"
  c.warm_start = False
  c.augment = False
  c.pretrain = "none"
  quick = preset == "quick"
  c.optimizer = "adam" if quick else "sgd"
  c.learning_rate = 2e-3 if quick else 0.01
  c.weight_decay = 0.0 if quick else 5e-4
  if quick and is_heavy(backbone):
    c.update(HEAVY_QUICK)
  return c
