"""The rng-stream convention of the model contract.

Every model is applied with the streams `rngs_for(key)`: `dropout` for
dropout (MC dropout too) and `arch` for sampled architectures (BBDropout
gates, Depth-Dropout structure masks). Training, prediction and
pretraining all derive them the same way, so a key means one thing.
"""

import jax

__all__ = ["rngs_for"]


def rngs_for(key: jax.Array) -> dict:
  """`{"dropout": fold_in(key, 0), "arch": fold_in(key, 1)}`."""
  return {"dropout": jax.random.fold_in(key, 0),
          "arch": jax.random.fold_in(key, 1)}
