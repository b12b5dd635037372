"""Round checkpoints (the only module that imports orbax).

One Orbax `CheckpointManager` per workdir, step = round. Each step holds the
train state, the pool state, the metrics history and the run's config, and
is written atomically: a run killed mid-save resumes from the step before.

A write that fails (a full disk, a read-only filesystem) raises one
`OSError` naming the folder; the tracebacks Orbax's background threads
print on the way are held back.
"""

import contextlib
import json
import os
import re
import sys
import threading
import time
from typing import Any

import jax
import numpy as np

from jaxdal import faults
from jaxdal.data.pool import PoolState
from jaxdal.lazy import lazy_module

# Orbax loads on first use (a CLI's --help needs none of it).
ocp = lazy_module("orbax.checkpoint")

__all__ = ["RoundCheckpointer", "read_round", "restore_tree", "save_tree",
           "write_error"]


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


# How TensorStore reports the errno of a failed file operation.
_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")


def write_error(error: BaseException, path: str) -> OSError | None:
  """The `OSError(errno, strerror, path)` behind a failed write (an
  `OSError` in `error`'s chain, or TensorStore's `os_error_code=...`), or
  None when `error` is no filesystem failure."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno:
      return OSError(error.errno, os.strerror(error.errno), path)
    match = _OS_ERROR_CODE.search(str(error))
    if match:
      code = int(match.group(1))
      return OSError(code, os.strerror(code), path)
    error = error.__cause__ or error.__context__
  return None


def _drain(fd: int, chunks: list[bytes]) -> None:
  while chunk := os.read(fd, 65536):
    chunks.append(chunk)
  os.close(fd)


def _wait_quiet(chunks: list[bytes], quiet_s: float = 1.0,
                limit_s: float = 15.0) -> None:
  """Waits until `chunks` has not grown for `quiet_s` (at most `limit_s`):
  after a failed write, TensorStore's outstanding operations finish one by
  one and each prints a traceback ("Event loop is closed") on its way."""
  start = last_change = time.monotonic()
  seen = len(chunks)
  while time.monotonic() - last_change < quiet_s:
    if time.monotonic() - start > limit_s:
      return
    time.sleep(0.05)
    if len(chunks) != seen:
      seen, last_change = len(chunks), time.monotonic()


@contextlib.contextmanager
def _writing(path: str, *, discard: bool = False):
  """Runs an Orbax write with the process's stderr (fd 2) held back.

  If the write fails on the filesystem, its background threads' tracebacks
  (hundreds of lines on a full disk, some arriving after the failure) are
  dropped and one `OSError` naming `path` is raised instead; otherwise what
  was held back is passed on. `discard=True` (closing after a failed write)
  drops what was held back either way.
  """
  sys.stderr.flush()
  saved = os.dup(2)
  read_end, write_end = os.pipe()
  chunks: list[bytes] = []
  reader = threading.Thread(target=_drain, args=(read_end, chunks),
                            daemon=True)
  reader.start()
  os.dup2(write_end, 2)
  os.close(write_end)
  failure = None
  try:
    yield
  except Exception as e:  # noqa: BLE001 - sorted below
    failure = write_error(e, path)
    if failure is None:
      raise
  finally:
    sys.stderr.flush()
    if failure is not None or discard:
      _wait_quiet(chunks)
    os.dup2(saved, 2)
    os.close(saved)
    reader.join()
    if failure is None and not discard:
      os.write(2, b"".join(chunks))
  if failure is not None:
    raise failure


class RoundCheckpointer:
  """Saves and restores `(train_state, pool, metrics, config)` per round."""

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self._directory = os.path.abspath(directory)
    self._max_to_keep = max_to_keep
    self._failed = False
    # Orbax reads every round's "metrics" item when it opens the folder:
    # an unreadable one is set aside first (`set_aside_at_open` says which).
    self.set_aside_at_open = [
        (r, self._move_aside(r)) for r in self._unreadable_metrics()]
    self._opened = None  # the CheckpointManager, made on first use

  @property
  def _manager(self):
    """Orbax's manager, opened on first use: a new run's first training
    step need not wait for Orbax to load."""
    if self._opened is None:
      # A save cut short (a killed run) leaves a temporary folder: removed
      # when the folder is opened again.
      self._opened = ocp.CheckpointManager(
          self._directory, options=ocp.CheckpointManagerOptions(
              max_to_keep=self._max_to_keep, create=True,
              cleanup_tmp_directories=True))
    return self._opened

  def _empty(self) -> bool:
    """True while nothing was opened and the folder holds nothing."""
    return self._opened is None and not (
        os.path.isdir(self._directory) and os.listdir(self._directory))

  def _unreadable_metrics(self) -> list[int]:
    if not os.path.isdir(self._directory):
      return []
    bad = []
    for name in os.listdir(self._directory):
      path = os.path.join(self._directory, name, "metrics", "metrics")
      if name.isdigit() and os.path.exists(path):
        try:
          with open(path) as f:
            json.load(f)
        except (OSError, ValueError):
          bad.append(int(name))
    return sorted(bad)

  def _move_aside(self, round_: int, folder: str = "corrupt") -> str:
    corrupt = os.path.join(os.path.dirname(self._directory), folder)
    os.makedirs(corrupt, exist_ok=True)
    aside = os.path.join(corrupt, f"round_{round_}-"
                         f"{time.strftime('%Y%m%d-%H%M%S')}")
    while os.path.exists(aside):
      aside += "+"
    os.replace(os.path.join(self._directory, str(round_)), aside)
    return aside

  def latest_round(self) -> int | None:
    """The newest saved round, or None."""
    return None if self._empty() else self._manager.latest_step()

  def rounds(self) -> list[int]:
    """The saved rounds, oldest first."""
    return [] if self._empty() else sorted(self._manager.all_steps())

  def set_aside(self, round_: int, folder: str = "corrupt") -> str:
    """Moves round `round_`'s files out of the checkpoints (to
    `<workdir>/<folder>/round_<r>-<time>`), so a run can fall back to an
    older round; returns where they went. Nothing is deleted."""
    self._manager.wait_until_finished()
    self._manager.close()
    aside = self._move_aside(round_, folder)
    self._opened = None  # opened again on next use
    return aside

  def save(self, round_: int, *, train_state: Any, pool: PoolState,
           metrics: list[dict], config: dict) -> None:
    """Writes round `round_` and waits until it is on disk; a failed write
    raises one `OSError` naming the round's folder."""
    try:
      with _writing(os.path.join(self._directory, str(round_))):
        self._manager.save(
            round_,
            args=ocp.args.Composite(
                train_state=ocp.args.StandardSave(train_state),
                # Host values: every process holds the same pool.
                pool=ocp.args.StandardSave(jax.device_get(pool._asdict())),
                metrics=ocp.args.JsonSave(metrics),
                config=ocp.args.JsonSave(config),
            ))
        faults.kill_point("checkpoint_write")
        self._manager.wait_until_finished()
    except OSError:
      self._failed = True
      raise

  def restore(self, round_: int, *, train_state_like: Any,
              pool_like: PoolState) -> tuple[Any, PoolState, list[dict], dict]:
    """Reads round `round_`; `*_like` give the pytree structures to fill."""
    out = self._manager.restore(
        round_,
        args=ocp.args.Composite(
            train_state=ocp.args.StandardRestore(_abstract(train_state_like)),
            pool=ocp.args.StandardRestore(_abstract(pool_like._asdict())),
            metrics=ocp.args.JsonRestore(),
            config=ocp.args.JsonRestore(),
        ))
    return (out.train_state, PoolState(**out.pool), list(out.metrics),
            dict(out.config))

  def restore_pool(self, round_: int, pool_like: PoolState) -> PoolState:
    """Reads only the pool of round `round_` (enough to rebuild the network
    a search chose for it, before the train state can be shaped)."""
    out = self._manager.restore(
        round_, args=ocp.args.Composite(
            pool=ocp.args.StandardRestore(_abstract(pool_like._asdict()))))
    return PoolState(**out.pool)

  def close(self) -> None:
    if self._opened is None:
      return
    if self._failed:
      # The failed save's error is on its way up: closing (which reports
      # it again) must neither replace it nor print it, nor pass on the
      # tracebacks of the failed save's late TensorStore operations.
      with contextlib.suppress(Exception), _writing(self._directory,
                                                    discard=True):
        self._manager.close()
      return
    self._manager.wait_until_finished()
    self._manager.close()


def read_round(directory: str, round_: int | None = None) -> dict:
  """Round `round_` (default: the newest) of the checkpoints in `directory`
  as saved, without knowing its structure: `{"train_state", "pool"}` as
  nested dicts of NumPy arrays and `"metrics"` (the records). For
  inspecting and comparing runs; a run resumes with `RoundCheckpointer`."""
  manager = ocp.CheckpointManager(
      os.path.abspath(directory),
      options=ocp.CheckpointManagerOptions(create=False))
  try:
    round_ = manager.latest_step() if round_ is None else round_
    if round_ is None:
      raise FileNotFoundError(f"no round checkpoint in {directory}")
    out = manager.restore(round_, args=ocp.args.Composite(
        train_state=ocp.args.StandardRestore(),
        pool=ocp.args.StandardRestore(), metrics=ocp.args.JsonRestore()))
  finally:
    manager.close()
  return {"round": round_, "metrics": list(out.metrics),
          **jax.tree.map(np.asarray, {"train_state": out.train_state,
                                      "pool": out.pool})}


def save_tree(path: str, tree: Any) -> None:
  """Writes one pytree to `path` (atomically; refuses to overwrite); a
  failed write raises one `OSError` naming `path`."""
  with _writing(path), ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(os.path.abspath(path), tree)
    faults.kill_point("cache_write")


def restore_tree(path: str, like: Any) -> Any:
  """Reads the pytree at `path`, shaped like `like`."""
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(os.path.abspath(path), _abstract(like))
