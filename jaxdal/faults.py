"""Deterministic kill points, for testing that every crash resumes exactly.

A kill point is a named place in the run (`kill_point("checkpoint_write")`).
When the environment variable `JAXDAL_KILL_AT` names it, the process
SIGKILLs itself there, as a preemption would, with no cleanup:

  JAXDAL_KILL_AT=scores python -m experiments.focus1 ...
  JAXDAL_KILL_AT=checkpoint_write:2 ...  # the 2nd time the point is reached

Unset (the normal case), a kill point costs one dictionary lookup. The
points, in the order a round reaches them:

- `cache_write`: a pre-optimisation, pretraining or search cache is being
  written (`jaxdal.workdir`);
- `train_epoch`: after each training epoch (`jaxdal.train.fit_group`);
- `scores`: the pool is scored, nothing is acquired yet (`jaxdal.loop`);
- `checkpoint_write`: a round's checkpoint is being written, not finished;
- `checkpoint_saved`: the checkpoint is on disk, `metrics.jsonl` is not
  yet rewritten.

And in a labelling run (`experiments.label`):

- `answer_written`: an answer is synced to `labels.jsonl`, not yet
  acknowledged;
- `batch_write`: the round's checkpoint and `metrics.jsonl` are written,
  the next batch's file (the round's commit) is not.
"""

import os
import signal

__all__ = ["ENV", "POINTS", "kill_point", "parse"]

ENV = "JAXDAL_KILL_AT"
POINTS = ("cache_write", "train_epoch", "scores", "checkpoint_write",
          "checkpoint_saved", "answer_written", "batch_write")
_reached: dict[str, int] = {}


def parse(text: str) -> tuple[str, int]:
  """`"name"` or `"name:n"` -> `(name, n)`; a one-line ValueError for an
  unknown name or a count below 1."""
  name, _, count = text.partition(":")
  if name not in POINTS:
    raise ValueError(f"unknown kill point {name!r} in {ENV}; valid: "
                     f"{', '.join(POINTS)}")
  try:
    n = int(count) if count else 1
  except ValueError:
    n = 0
  if n < 1:
    raise ValueError(f"{ENV}={text!r}: the count after ':' must be a "
                     f"positive integer")
  return name, n


def kill_point(name: str) -> None:
  """SIGKILLs this process if `JAXDAL_KILL_AT` names `name` and this is
  the n-th time (default: the first) the process reaches it."""
  wanted = os.environ.get(ENV)
  if not wanted:
    return
  target, n = parse(wanted)
  if target != name:
    return
  _reached[name] = _reached.get(name, 0) + 1
  if _reached[name] == n:
    os.kill(os.getpid(), signal.SIGKILL)
