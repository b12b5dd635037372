"""Focus 1 presets: acquisition functions on a fixed backbone.

Run:
  python -m experiments.focus1 --dataset mnist5k --backbone cnn \
      --acquisition entropy --rounds 5 --initial 100 --acquire 100 \
      --workdir runs/x
  python -m experiments.focus1 --dataset reuters_tm --backbone minilm \
      --acquisition bald --preset quick
  python -m experiments.focus1 --preset paper_text --dataset ag_news \
      --backbone bert --acquisition badge
"""

import ml_collections

from experiments.configs import protocol as protocol_lib
from experiments.configs.protocol import protocol

__all__ = ["HEAVY", "PAPER_TEXT", "PRESETS", "QUERY_POOL", "TEXT_QUICK",
           "get_config", "is_heavy", "is_text"]

# The shared presets, and the paper's text protocol.
PRESETS = (*protocol_lib.PRESETS, "paper_text")

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


# The quick preset for text encoders, sized by the smallest real text set
# here (reuters_tm: 35 training articles) and a 2-core CPU: 4 initial
# labels, 4 rounds of 4, 64 tokens, 8 epochs of AdamW with warm-up (no
# early stop: a few labels say little about when to stop), and prediction
# chunks of 64 (a chunk is padded to its size: 1,024 rows for a pool of 30
# would cost 30 times the work).
TEXT_QUICK = {"initial": 4, "acquire": 4, "rounds": 5, "batch_size": 4,
              "max_epochs": 8, "patience": 8, "target_train_accuracy": 0.0,
              "optimizer": "adamw", "learning_rate": 1e-4,
              "weight_decay": 0.01, "schedule": "warmup_linear",
              "chunk": 64, "dataset_kwargs": '{"max_length": 64}'}
# The paper's text protocol (dal-toolbox): initial 100 labels and 25
# queries of 100 (26 training rounds); 5 epochs a round, AdamW (lr 5e-5,
# weight decay 0.01) with 5% linear warm-up then linear decay, batch 20;
# no validation split and no early stop.
PAPER_TEXT = {"dataset": "ag_news", "backbone": "bert", "initial": 100,
              "acquire": 100, "rounds": 26, "batch_size": 20,
              "max_epochs": 5, "patience": 5, "target_train_accuracy": 0.0,
              "optimizer": "adamw", "learning_rate": 5e-5,
              "weight_decay": 0.01, "schedule": "warmup_linear",
              "val_fraction": 0.0, "val_size": 0, "test_size": 0,
              "pool_size": 0}
# Pool examples scored before each query, resampled every time, as
# dal-toolbox subsamples them.
QUERY_POOL = {"ag_news": 3000, "banking77": 3000, "qnli": 500,
              "dbpedia_14": 10_000}
TEXT_BACKBONES = ("transformer", "minilm", "bert", "distilbert", "roberta")


def is_text(backbone: str) -> bool:
  """The transformer encoders (they read token arrays)."""
  return backbone in TEXT_BACKBONES


def is_heavy(backbone: str) -> bool:
  """ResNets and VGGs (the paper's image backbones)."""
  return backbone.startswith(("resnet", "vgg"))


def get_config(preset: str = "quick", backbone: str = "cnn",
               dataset: str = "") -> ml_collections.ConfigDict:
  """The settings of preset `quick` (minutes on a CPU), `medium` or `paper`.

  `paper` adds to the shared protocol (`protocol.protocol`) the paper's
  optimiser: SGD (lr 0.01, momentum 0.9, weight decay 5e-4) with cosine
  annealing, weights re-initialised each round; `quick` and `medium` use
  Adam (lr 2e-3), and with a heavy `backbone` (ResNet, VGG) apply
  `HEAVY[preset]`, with a text `backbone` at `quick` `TEXT_QUICK`.
  `paper_text` is the paper's text protocol (`PAPER_TEXT`), scoring
  `QUERY_POOL[dataset]` pool examples before each query.
  """
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
  text_paper = preset == "paper_text"
  c = protocol("paper" if text_paper else preset)
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
  if preset == "quick" and is_text(backbone):
    c.update(TEXT_QUICK)
  if text_paper:
    c.update(PAPER_TEXT)
    c.query_pool = QUERY_POOL.get(dataset or c.dataset, 0)
  return c
