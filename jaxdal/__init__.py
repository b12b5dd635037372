"""jaxdal: deep active learning with architecture optimisation in JAX/Flax.

The way in from Python is `jaxdal.learner(model, optimizer, x)`: query /
teach / fit over an immutable state, any Flax module, any optax optimiser,
labels from the caller. The experiment programs (`python -m
experiments.focus1`, `focus2`) run the same steps into a workdir
(`jaxdal.loop.run`).

Layers, from the bottom (docs/design.md draws them and states the
contracts between them; docs/layers.py lists them, checked against the
imports): foundation (`registry`, `lazy`, `hub`, `sharding`,
`diagnostics`, `faults`, `compile_cache`, `stopping`, `journal`), arrays
(`acquisition`, `complexity`, `data`, `calibration`, `stopping_criteria`),
models (`models`, `adapters`, `losses`, `optim`, `initialisation`,
`archopt`), training (`evaluation`, `train`,
`seeds`, `predict`, `pretrain`, `checkpoint`), the learner (`network`,
`state`, `learning`), then the run machinery (`settings`, `plan`,
`workdir`, `modes`, `context`, `recorder`, `loop`, `lockstep`, `console`,
`metrics`, `rank_correlation`, `plots`). The documentation site starts at
docs/index.md; README.md and CHANGELOG.md are at the repository root.

Submodules load on first use, so `import jaxdal.acquisition` pulls in no
Flax, Optax or Orbax.
"""

import importlib

__version__ = "0.2.0"

_SUBMODULES = ("acquisition", "adapters", "archopt", "calibration",
               "checkpoint", "complexity", "console", "context", "data",
               "diagnostics", "evaluation", "hub", "initialisation",
               "journal", "learning", "lockstep", "loop", "losses",
               "metrics", "models", "modes", "network", "optim", "plots",
               "predict", "pretrain",
               "registry", "seeds", "settings", "stopping",
               "stopping_criteria", "train", "workdir")
_FROM_LOOP = ("Settings", "WorkdirError", "run")
_FROM_LEARNING = ("Learner", "LearnerState", "learner")

__all__ = [*_FROM_LOOP, *_FROM_LEARNING, *_SUBMODULES]


def __getattr__(name: str):
  if name in _SUBMODULES:
    return importlib.import_module(f"jaxdal.{name}")
  if name in _FROM_LOOP:
    return getattr(importlib.import_module("jaxdal.loop"), name)
  if name in _FROM_LEARNING:
    return getattr(importlib.import_module("jaxdal.learning"), name)
  raise AttributeError(f"module 'jaxdal' has no attribute {name!r}")
