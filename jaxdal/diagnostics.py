"""Counting XLA compilations, to check that rounds reuse compiled steps,
and a timeline of first events (`mark`) for the start-up benchmark."""

import collections
import json
import os
import time

import jax

__all__ = ["TIMELINE_ENV", "compilations", "compilations_by_function",
           "mark"]

# A file that `mark` appends `{"event", "time"}` lines to, when set
# (benchmarks/startup.py); unset, `mark` does nothing.
TIMELINE_ENV = "JAXDAL_TIMELINE"
_marked: set = set()

_BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_count = 0
_by_function: collections.Counter = collections.Counter()
_registered = False


def _on_duration(event: str, duration: float, **kwargs) -> None:
  del duration
  global _count
  if event == _BACKEND_COMPILE_EVENT:
    _count += 1
    _by_function[kwargs.get("fun_name", "?")] += 1


def _register() -> None:
  global _registered
  if not _registered:
    jax.monitoring.register_event_duration_secs_listener(_on_duration)
    _registered = True


def compilations() -> int:
  """Number of backend compilations in this process since the first call."""
  _register()
  return _count


def compilations_by_function() -> dict[str, int]:
  """Backend compilations per compiled function's name (`train_step`,
  `_probs_chunk`, ...) in this process since the first call to this module;
  subtract two snapshots to count an interval."""
  _register()
  return dict(_by_function)


def mark(event: str) -> None:
  """Appends the wall-clock time of `event`'s first occurrence in this
  process to the file named by `$JAXDAL_TIMELINE` (nothing when unset)."""
  path = os.environ.get(TIMELINE_ENV)
  if not path or event in _marked:
    return
  _marked.add(event)
  with open(path, "a") as f:
    f.write(json.dumps({"event": event, "time": time.time()}) + "\n")
