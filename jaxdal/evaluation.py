"""Evaluation passes over a split, in fixed-size chunks so each step
compiles once: accuracy of S seeds at once (`evaluate_group`, what fitting
and the experiment programs use) and the logits themselves
(`evaluate_logits`, from which test accuracy and calibration come in one
pass).

Chunk i uses the key `fold_in(key, i)` (default key `EVAL_KEY`) for models
whose inference is sampled, so accuracy and logits see the same draws.
"""

from collections.abc import Sequence

import jax
import numpy as np

from jaxdal import sharding
from jaxdal.data.batching import padded_chunks

__all__ = ["EVAL_KEY", "eval_chunk_size", "evaluate_group",
           "evaluate_logits"]

EVAL_KEY = 0x5EED


def eval_chunk_size(n: int, chunk: int) -> int:
  """Rows per evaluation call: `chunk`, or for a small split (a capped
  validation set) its size rounded up to a multiple of 64."""
  return min(chunk, -(-n // 64) * 64)


def evaluate_group(stepper, carried, x_all: jax.Array, y_all: jax.Array,
                   indices: Sequence[np.ndarray], *, chunk: int = 512,
                   key: jax.Array | None = None) -> list[float]:
  """Per-seed accuracy on `x_all[indices[s]]` (equal lengths).

  Args:
    stepper: a `jaxdal.train.Stepper` (one seed, or S seeds together).
    carried: its states as it carries them.
    x_all: `[N, ...]` inputs; `y_all`: `[N]` class ids.
    indices: S int `[n]` rows to score, one per seed.
    chunk: rows per call.
    key: the chunks' root key (default `EVAL_KEY`).
  """
  n = len(indices[0])
  if n == 0:
    return [float("nan")] * len(indices)
  key = jax.random.key(EVAL_KEY) if key is None else key
  split = [padded_chunks(np.asarray(i), eval_chunk_size(n, chunk))
           for i in indices]
  correct = []
  for c in range(len(split[0][0])):
    idx = np.stack([chunks[c] for chunks, _ in split])
    mask = np.stack([masks[c] for _, masks in split])
    correct.append(stepper.evaluate(carried, x_all, y_all, idx, mask,
                                    jax.random.fold_in(key, c)))
  per_chunk = np.asarray(jax.device_get(correct)).reshape(len(correct), -1)
  return [float(c) / n for c in per_chunk.sum(axis=0)]


def evaluate_logits(trainer, state, x_all: jax.Array, indices: np.ndarray,
                    *, chunk: int = 512, key: jax.Array | None = None
                    ) -> np.ndarray:
  """`[n, C]` float32 logits of `state` on `x_all[indices]`, in the chunks
  and with the keys of `evaluate_group` (chunk i: `fold_in(key, i)`): their
  argmax is what it counts, so one pass serves accuracy and calibration.
  `trainer` is a `jaxdal.train.Trainer`. Under `jax.distributed` every
  process gets all rows."""
  key = jax.random.key(EVAL_KEY) if key is None else key
  chunks, masks = padded_chunks(np.asarray(indices), eval_chunk_size(
      len(indices), chunk))
  out = []
  for c, (idx, mask) in enumerate(zip(chunks, masks, strict=True)):
    idx, _ = sharding.sharded_batch(idx, mask)
    logits = trainer.logits_step(state, x_all, idx, jax.random.fold_in(key, c))
    rows = sharding.to_host(logits).astype(np.float32)
    out.append(rows[:len(mask)][np.asarray(mask)])
  return np.concatenate(out)
