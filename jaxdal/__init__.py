"""jaxdal: deep active learning with architecture optimisation in JAX/Flax.

Layers (see DESIGN.md): `registry`, `hub` (where checkpoints and
tokenizers come from), `acquisition` (pure jnp), `models` (Linen
backbones, text encoders), `archopt` (methods), `data` (sources, text,
pool, batching),
`optim` and `losses`, `train` (the epoch loop), `predict` (the only model ->
array bridge), `settings`, `workdir`, `modes`, `context` and `loop` (rounds),
`checkpoint` (Orbax), `metrics`, `plots`.

Submodules load on first use, so `import jaxdal.acquisition` pulls in no
Flax, Optax or Orbax.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("acquisition", "archopt", "checkpoint", "complexity",
               "console", "context", "data", "diagnostics", "hub", "loop",
               "losses", "metrics", "models", "modes", "optim", "plots",
               "predict", "pretrain", "registry", "seeds", "settings",
               "stopping", "train", "workdir")
_FROM_LOOP = ("Settings", "WorkdirError", "run")

__all__ = [*_FROM_LOOP, *_SUBMODULES]


def __getattr__(name: str):
  if name in _SUBMODULES:
    return importlib.import_module(f"jaxdal.{name}")
  if name in _FROM_LOOP:
    return getattr(importlib.import_module("jaxdal.loop"), name)
  raise AttributeError(f"module 'jaxdal' has no attribute {name!r}")
