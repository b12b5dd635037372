"""The active-learning protocol both focus experiments share."""

import ml_collections

PRESETS = ("quick", "medium", "paper")

# The per-preset part of the protocol. `medium` separates methods and
# acquisitions in an hour or two of grid cells on a 2-core CPU: twice the
# initial labels of `quick` (the paper's Figure 9 protocol: 200, then 100 a
# round), one more round, more epochs, and a capped pool, validation and
# test subset so a Fashion-MNIST cell costs about what an mnist5k one does.
_SIZES = {
    "quick": dict(rounds=5, initial=100, acquire=100, pool_size=0,
                  val_size=0, test_size=0, batch_size=32, max_epochs=30,
                  patience=8),
    "medium": dict(rounds=6, initial=200, acquire=100, pool_size=5000,
                   val_size=500, test_size=2000, batch_size=32,
                   max_epochs=50, patience=10),
    "paper": dict(rounds=25, initial=1000, acquire=1000, pool_size=30_000,
                  val_size=0, test_size=0, batch_size=64, max_epochs=500,
                  patience=50),
}


def protocol(preset: str) -> ml_collections.ConfigDict:
  """Run-level settings of preset `quick` (minutes on a CPU), `medium`
  (grids of such runs, see `_SIZES`) or `paper`.

  `paper` is the paper's image protocol: initial 1,000 class-balanced
  labels, 90/10 train/validation split of the rest, a 30,000-example pool,
  25 rounds of 1,000, up to 500 epochs, stop at 99% training accuracy or
  after 50 epochs without validation improvement.
  """
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
  c = ml_collections.ConfigDict()
  c.dataset = "mnist5k"
  c.dataset_kwargs = "{}"  # JSON, as typed on the command line
  c.acquisition = "entropy"
  c.seed = 0
  c.val_fraction = 0.1
  c.val_size = 0  # 0 = no cap
  c.test_size = 0  # 0 = the whole test split
  c.target_train_accuracy = 0.99
  c.mc_samples = 10
  c.chunk = 1024
  c.query_pool = 0  # 0 = score the whole pool before each query
  c.complexity = "all"
  c.calibrate = "none"
  c.stop_when = "none"
  c.max_labels = 0  # 0 = no budget
  c.stop_set = 1000
  c.ensemble = 1
  c.data_dir = ""
  c.download = False
  c.pretrain_epochs = 5
  c.pretrain_steps = 50
  c.update(_SIZES[preset])  # pool, val and test sizes: 0 = no cap.
  return c


HELPS = {
    "seed": "root seed; every random draw is folded in from it",
    "dataset_kwargs": "JSON keyword arguments of the dataset source "
                      "(synthetic, moons), e.g. '{\"num_train\": 300}'",
    "rounds": "training rounds; the labeled set grows by --acquire between "
              "rounds",
    "initial": "size of the class-balanced initial labeled set",
    "acquire": "examples acquired per round",
    "pool_size": "cap on the unlabeled pool (0 = all remaining examples)",
    "val_fraction": "share of the non-initial examples held out for "
                    "validation",
    "val_size": "cap on the validation examples, evaluated every epoch "
                "(0 = no cap)",
    "test_size": "evaluate on this many evenly spaced test examples "
                 "(0 = the whole test split)",
    "batch_size": "training batch size (fixed; the last batch is padded)",
    "max_epochs": "maximum epochs per round",
    "patience": "stop after this many epochs without validation improvement",
    "target_train_accuracy": "stop when training accuracy reaches this",
    "mc_samples": "MC-dropout samples for acquisitions that need them (bald)",
    "chunk": "rows per compiled prediction call",
    "query_pool": "score a fresh random sample of this many pool examples "
                  "(and the labeled ones) before each query, as dal-toolbox "
                  "subsamples; 0 = the whole pool",
    "complexity": "feature-space complexity recorded every round (TwoNN, "
                  "effective rank, participation ratio, F1, N1 of the "
                  "labeled and pool features): all or none",
    "calibrate": "temperature: fit a temperature on the validation split "
                 "every round (recorded with the calibrated ECE, NLL and "
                 "Brier) and let the acquisition read the scaled "
                 "probabilities; none: raw probabilities",
    "stop_when": "end the run at the first round this stopping criterion "
                 "holds (kappa, uncertainty, budget; all are recorded "
                 "every round): none, kappa, uncertainty or budget",
    "max_labels": "the labeling budget of --stop_when budget (0 = none)",
    "stop_set": "unlabeled examples (a fixed seeded sample of the pool) "
                "on which the stopping criteria compare rounds",
    "ensemble": "train a deep ensemble of this many networks as one "
                "vmapped step; the acquisitions read the members' "
                "probabilities as their samples (BALD, EPIG, vote entropy, "
                "...) and test accuracy is the members' mean prediction",
    "data_dir": "folder with a prepared TFDS tree or raw IDX .gz files",
    "download": "let TFDS download missing datasets (needs network)",
    "pretrain_epochs": "DeepCluster alternations of k-means and training",
    "pretrain_steps": "training steps per DeepCluster alternation",
}
