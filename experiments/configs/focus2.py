"""Focus 2 presets: architecture optimisation during active learning.

Run:
  python -m experiments.focus2 --method bbdropout
  python -m experiments.focus2 --method depth_dropout --mode spo
  python -m experiments.focus2 --method cnn5 --acquisition margin
  python -m experiments.focus2 --method pdarts --mode spo
"""

import json

import ml_collections

from experiments.configs.protocol import PRESETS, protocol
from jaxdal import archopt, settings

__all__ = ["PRESETS", "get_config", "method_defaults", "with_method_defaults"]

# Per-method settings of each preset: method arguments, learning rate and
# schedule. Quick: smaller networks (8-10 layers of 32 filters) and a larger
# BBDropout learning rate, so a run takes minutes on a 2-core CPU; two
# departures make the optimised networks train in its 100-label, 40-epoch
# rounds (benchmarks/RESULTS.md, "Healthy optimised networks"):
# BBDropout's CNN gets BatchNorm (the official one has no normalisation and
# stays near chance for 160 steps), and Depth-Dropout starts near the full
# network (q(nu) = Beta(10, 1) instead of Beta(1.1, 1)), uses ArchDAL's
# sampler temperature 0.1 and averages 8 structure samples, drawn per
# example, at inference.
# Paper: K = 20 layers of 64 filters and its stated initialisations
# (BBDropout a = 1.3133, b = 1; the official code's a is 0.3133: pass
# --method_kwargs '{"a_init": 0.3133}'), ArchDAL's threshold 0.1, and the
# official networks (no normalisation in BBDropout's).
def _methods(layers: int, width: int, bb_lr: float, bb_schedule: str,
             pdarts: dict, bb_extra: dict, dd_extra: dict) -> dict:
  fixed = {f"cnn{d}": dict(kwargs=dict(width=width), learning_rate=1e-3,
                           schedule="cosine") for d in (1, 5, 9)}
  return {
      "pdarts": dict(kwargs=pdarts, learning_rate=1e-3, schedule="cosine"),
      "bbdropout": dict(kwargs=dict(layers=layers, filters=width,
                                    a_init=1.3133, threshold=0.1,
                                    **bb_extra),
                        learning_rate=bb_lr, schedule=bb_schedule),
      "depth_dropout": dict(kwargs=dict(truncation=max(layers, 10),
                                        width=width, **dd_extra),
                            learning_rate=3e-3, schedule="cosine"),
      **fixed,
  }


# PDARTS, quick: the spec's reduced search (4 channels, 3/4/5 cells, 3
# epochs of which 1 warm-up, batches of 8; masked, so each stage compiles
# once per run) and a 5-cell, 8-channel derived network. Paper: the
# official search and a 16-channel, 8-cell derived network.
_PDARTS_QUICK = dict(channels=8, layers=5, search_config=dict(
    channels=4, layers=3, add_layers=[0, 1, 2], epochs=3, eps_no_arch=1,
    batch_size=8, steps_per_epoch=4, masked=True))
_PDARTS_PAPER = dict(channels=16, layers=8, search_config={})
_METHOD_QUICK = _methods(
    8, 32, 5e-3, "cosine", _PDARTS_QUICK, bb_extra=dict(norm="batch"),
    dd_extra=dict(a_init=10.0, temperature=0.1, eval_samples=8,
                  example_masks=True))
# The BBDropout code's optimiser: base lr 1e-3 (gates 1e-2), MultiStepLR.
_METHOD_PAPER = _methods(20, 64, 1e-3, "multistep", _PDARTS_PAPER,
                         bb_extra={}, dd_extra={})


def method_defaults(preset: str, method: str) -> dict:
  """`{"kwargs", "learning_rate", "schedule"}` of `method` in `preset`
  (nothing for a method registered elsewhere)."""
  archopt.get(method)  # One-line error for an unknown method.
  table = _METHOD_PAPER if preset == "paper" else _METHOD_QUICK
  return table.get(method, dict(kwargs={}, learning_rate=1e-3,
                                schedule="cosine"))


def with_method_defaults(c: ml_collections.ConfigDict,
                         preset: str) -> ml_collections.ConfigDict:
  """`c` with the method's preset settings filled in: its arguments under
  those typed in `method_kwargs` (JSON), and its learning rate and
  schedule where `c` leaves them unset (0 and "")."""
  defaults = method_defaults(preset, c.method)
  c = c.copy_and_resolve_references()
  typed = settings.parse_json_object("method_kwargs", c.method_kwargs)
  c.method_kwargs = json.dumps({**defaults["kwargs"], **typed})
  if not c.learning_rate:
    c.learning_rate = defaults["learning_rate"]
  if not c.schedule:
    c.schedule = defaults["schedule"]
  return c


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
  """Run-level settings of preset `quick` (minutes on a CPU), `medium` or
  `paper`.

  The shared protocol (`protocol.protocol`; `paper` is the Focus 1 image
  protocol) plus the method and its mode; per-method settings come from
  `method_defaults` (`with_method_defaults`; `medium` uses `quick`'s
  networks).
  """
  c = protocol(preset)
  c.method = "bbdropout"
  c.method_kwargs = "{}"  # JSON, over the preset's arguments of the method
  c.mode = "joint"
  c.train_arch = True
  c.learning_rate = 0.0  # 0: the preset's, per method
  c.schedule = ""  # "": the preset's, per method
  if preset != "paper":
    # Sampled architectures make validation accuracy noisy: be patient.
    c.max_epochs = 40 if preset == "quick" else 50
    c.patience = 15
  return c
