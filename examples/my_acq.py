r"""An acquisition function of your own, registered from outside jaxdal.

Every experiment CLI imports it with `--import`, after which its name is a
valid `--acquisition` and `--help` lists it. From this folder:

  python -m experiments.focus1 --import my_acq --acquisition lowest_max

or by path, from the repository root:

  python -m experiments.focus1 --import examples/my_acq.py \
      --acquisition lowest_max
"""

import jax.numpy as jnp

from jaxdal import acquisition


# Least confidence asks how sure the averaged prediction is; this asks how
# unsure the most doubtful dropout sample is, so a point that one sample
# finds ambiguous ranks high even when the mean looks confident.
def lowest_max(probs: jnp.ndarray) -> jnp.ndarray:
  """`1 - min_t max_c p_tnc`: least confident MC sample, `[T, N, C]->[N]`."""
  if probs.ndim == 2:  # one deterministic prediction: T = 1
    probs = probs[None]
  return 1.0 - probs.max(axis=-1).min(axis=0)


# uses_mc: the score needs T > 1 samples to differ from least confidence.
acquisition.register("lowest_max",
                     acquisition.from_score(lowest_max, uses_mc=True))
