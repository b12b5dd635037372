"""Focus 1 presets: acquisition functions on a fixed backbone.

Run:
  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
"""

import ml_collections

PRESETS = ("quick", "paper")


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """The settings of preset `quick` (minutes on a CPU) or `paper`.

  `paper` is the paper's image protocol: initial 1,000 class-balanced labels,
  90/10 train/validation split of the rest, a 30,000-example pool, 25 rounds
  of 1,000, SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with cosine
  annealing, up to 500 epochs, stop at 99% training accuracy or after 50
  epochs without validation improvement, weights re-initialised each round.
  """
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
  c = ml_collections.ConfigDict()
  c.dataset = "mnist5k"
  c.backbone = "cnn"
  c.acquisition = "entropy"
  c.seed = 0
  c.val_fraction = 0.1
  c.target_train_accuracy = 0.99
  c.momentum = 0.9
  c.schedule = "cosine"
  c.mc_samples = 10
  c.warm_start = False
  c.augment = False
  c.pretrain = "none"
  c.pretrain_epochs = 5
  c.pretrain_steps = 50
  c.chunk = 1024
  c.data_dir = ""
  c.download = False
  if preset == "quick":
    c.rounds = 5
    c.initial = 100
    c.acquire = 100
    c.pool_size = 0  # 0 = every remaining example.
    c.batch_size = 32
    c.max_epochs = 30
    c.patience = 8
    c.optimizer = "adam"
    c.learning_rate = 2e-3
    c.weight_decay = 0.0
  else:
    c.rounds = 25
    c.initial = 1000
    c.acquire = 1000
    c.pool_size = 30_000
    c.batch_size = 64
    c.max_epochs = 500
    c.patience = 50
    c.optimizer = "sgd"
    c.learning_rate = 0.01
    c.weight_decay = 5e-4
  return c
