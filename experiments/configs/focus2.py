"""Focus 2 presets: architecture optimisation during active learning.

Run:
  python -m experiments.focus2 --method bbdropout
  python -m experiments.focus2 --method depth_dropout --mode spo
  python -m experiments.focus2 --method cnn5 --acquisition margin
"""

import ml_collections

PRESETS = ("quick", "paper")

# Per-method settings of each preset: method arguments, learning rate and
# schedule. Quick: smaller networks (8-10 layers of 32 filters) and a larger
# BBDropout learning rate, so a run takes about a minute on a 2-core CPU.
_METHOD_QUICK = {
    "bbdropout": dict(kwargs=dict(layers=8, filters=32, a_init=1.3133,
                                  threshold=0.1),
                      learning_rate=5e-3, schedule="cosine"),
    "depth_dropout": dict(kwargs=dict(truncation=10, width=32),
                          learning_rate=3e-3, schedule="cosine"),
    "cnn1": dict(kwargs=dict(width=32), learning_rate=1e-3,
                 schedule="cosine"),
    "cnn5": dict(kwargs=dict(width=32), learning_rate=1e-3,
                 schedule="cosine"),
    "cnn9": dict(kwargs=dict(width=32), learning_rate=1e-3,
                 schedule="cosine"),
}
# The paper: K = 20 layers of 64 filters and its stated initialisations
# (BBDropout a = 1.3133, b = 1; the official code's a is 0.3133: pass
# --method_kwargs '{"a_init": 0.3133}'), ArchDAL's threshold 0.1.
_METHOD_PAPER = {
    "bbdropout": dict(kwargs=dict(layers=20, filters=64, a_init=1.3133,
                                  threshold=0.1),
                      learning_rate=1e-3, schedule="multistep"),
    "depth_dropout": dict(kwargs=dict(truncation=20, width=64),
                          learning_rate=3e-3, schedule="cosine"),
    "cnn1": dict(kwargs=dict(width=64), learning_rate=1e-3,
                 schedule="cosine"),
    "cnn5": dict(kwargs=dict(width=64), learning_rate=1e-3,
                 schedule="cosine"),
    "cnn9": dict(kwargs=dict(width=64), learning_rate=1e-3,
                 schedule="cosine"),
}


def method_defaults(preset: str, method: str) -> dict:
  """`{"kwargs", "learning_rate", "schedule"}` of `method` in `preset`."""
  table = _METHOD_QUICK if preset == "quick" else _METHOD_PAPER
  if method not in table:
    raise ValueError(f"unknown method {method!r}; valid: "
                     f"{', '.join(sorted(table))}")
  return table[method]


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Run-level settings of preset `quick` (minutes on a CPU) or `paper`.

  `paper` is the Focus 1 image protocol (initial 1,000, 25 rounds of
  1,000, pool 30,000, up to 500 epochs, stop at 99% training accuracy or
  50 epochs without validation improvement) with K = 20 layers of 64
  filters.
  """
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
  c = ml_collections.ConfigDict()
  c.dataset = "mnist5k"
  c.method = "bbdropout"
  c.mode = "joint"
  c.train_arch = True
  c.acquisition = "entropy"
  c.seed = 0
  c.val_fraction = 0.1
  c.target_train_accuracy = 0.99
  c.mc_samples = 10
  c.chunk = 1024
  c.data_dir = ""
  c.download = False
  c.pretrain_epochs = 5
  c.pretrain_steps = 50
  if preset == "quick":
    c.rounds = 5
    c.initial = 100
    c.acquire = 100
    c.pool_size = 0
    c.batch_size = 32
    c.max_epochs = 40
    # Sampled architectures make validation accuracy noisy: be patient.
    c.patience = 15
  else:
    c.rounds = 25
    c.initial = 1000
    c.acquire = 1000
    c.pool_size = 30_000
    c.batch_size = 64
    c.max_epochs = 500
    c.patience = 50
  return c
