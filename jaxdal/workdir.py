"""A run's folder: preparing and guarding it, and caching what a resumed
run must not recompute (pre-optimised weights, searches).

Layout: `config.json`, `metrics.jsonl`, `checkpoints/<round>/`,
`figures/`, and caches: `pretrained/`, `preoptimised/` (Orbax trees),
`searches/<name>.json`; `.lock` is held (advisory `flock`) by the process
running there. Runs may also share a folder of caches (`shared_tree`: a
grid's DeepCluster pretraining, the same for all its acquisitions).
"""

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

from jaxdal import checkpoint, faults, metrics
from jaxdal.data import fingerprint as fingerprint_lib

__all__ = ["LOCK_FILE", "RunLock", "SAFE_TO_GROW", "WorkdirError",
           "cached_json", "cached_tree", "fingerprint", "naming", "prepare",
           "prepare_locked", "removed_on_failure", "shared_tree"]


class WorkdirError(ValueError):
  """The workdir holds something this run must not overwrite."""


# Settings a resumed run may change, each only to a larger value: a run
# extended to more rounds continues exactly as if it had asked for them
# from the start. Display flags (--progress) are not settings at all.
SAFE_TO_GROW = ("rounds",)


LOCK_FILE = ".lock"


class RunLock:
  """An exclusive advisory lock on `<workdir>/.lock`, so two processes never
  run in one workdir. The kernel drops it when the process ends, however it
  ends; the file stays (it holds the last holder's pid). On a filesystem
  without `flock` the run goes on unguarded."""

  def __init__(self, workdir: str):
    """Takes the lock of an existing `workdir`.

    Raises:
      WorkdirError: another process holds it (the message names its pid).
    """
    self.path = os.path.join(workdir, LOCK_FILE)
    self._file = open(self.path, "a+")  # held until release()
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EAGAIN, errno.EACCES):
        return  # a filesystem without flock (some NFS): run unguarded
      self._file.seek(0)
      holder = self._file.read().strip() or "?"
      self._file.close()
      raise WorkdirError(
          f"workdir {workdir!r} is in use by another run (process "
          f"{holder}); wait for it to end, or choose another --workdir"
      ) from None
    # The holder's pid, for the message; the lock works without it.
    with contextlib.suppress(OSError):
      self._file.seek(0)
      self._file.truncate()
      self._file.write(f"{os.getpid()}\n")
      self._file.flush()

  def release(self) -> None:
    if not self._file.closed:
      with contextlib.suppress(OSError):
        fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()


def _changed(old: dict, new: dict) -> list[str]:
  return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def _grown(old: dict, new: dict, changed: list[str]) -> bool | None:
  """True if `new` only grows `SAFE_TO_GROW` settings of `old`, False if it
  shrinks one of them (and changes nothing else), None otherwise."""
  if not changed or not set(changed) <= set(SAFE_TO_GROW):
    return None
  return all(isinstance(new[k], int) and isinstance(old.get(k), int)
             and new[k] > old[k] for k in changed)


def prepare(workdir: str, config: dict, *, overwrite: bool, defaults: dict,
            log: Callable[[str], None] = print) -> bool:
  """Checks or creates `workdir` for a run of `config`; writes
  `config.json`. Returns True if this call created the folder.

  A folder holding the same config (fields missing from an older
  `config.json` count as `defaults`; a missing data fingerprint as the new
  one) is resumed, and so is one whose config
  differs only by a larger value of `SAFE_TO_GROW` settings (more rounds:
  the run is extended). Any other difference is refused unless
  `overwrite`, which moves the old run aside to `<workdir>.old-<timestamp>`
  (never deletes it). A non-empty folder that holds no jaxdal run is always
  refused. Call it only once the new run's settings are known to be valid.
  """
  config_path = os.path.join(workdir, metrics.CONFIG_FILE)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"workdir {workdir!r} is a file; choose a folder")
  if os.path.isfile(config_path):
    old = {**defaults, **_read_config(config_path)}
    if fingerprint_lib.KEY not in old and fingerprint_lib.KEY in config:
      old[fingerprint_lib.KEY] = config[fingerprint_lib.KEY]  # older run
      if old == config:  # recorded from now on
        _write_config(config_path, config)
    if old == config:
      return False
    changed = _changed(old, config)
    if changed == [fingerprint_lib.KEY] and not overwrite:
      raise WorkdirError(
          f"workdir {workdir!r} holds a run on other data with the same "
          f"settings (" + fingerprint_lib.first_change(
              old[fingerprint_lib.KEY], config[fingerprint_lib.KEY])
          + "); pass --overwrite to move it aside or choose another "
          "--workdir")
    grown = _grown(old, config, changed)
    if grown and not overwrite:
      _write_config(config_path, config)
      log(f"extending the run in {workdir}: "
          + ", ".join(f"{k} {old[k]} -> {config[k]}" for k in changed))
      return False
    if not overwrite:
      safe = (f"only {', '.join('--' + k for k in SAFE_TO_GROW)} may "
              f"change on resume, and only to a larger value")
      if grown is False:
        raise WorkdirError(
            f"workdir {workdir!r} holds a run with "
            + ", ".join(f"{k} {old[k]} (asked: {config[k]})"
                        for k in changed)
            + f"; {safe} (a finished round is never dropped); pass "
            f"--overwrite to move it aside or choose another --workdir")
      raise WorkdirError(
          f"workdir {workdir!r} holds a run with a different config "
          f"(differs in: {', '.join(changed)}); {safe}; pass --overwrite to "
          f"move it aside or choose another --workdir")
    aside = f"{workdir.rstrip(os.sep)}.old-{time.strftime('%Y%m%d-%H%M%S')}"
    while os.path.exists(aside):
      aside += "+"
    os.replace(workdir, aside)
    log(f"moved the old run in {workdir} to {aside}")
  elif os.path.isdir(workdir) and os.listdir(workdir):
    if any(os.path.exists(os.path.join(workdir, n))
           for n in ("checkpoints", metrics.METRICS_FILE)):
      raise WorkdirError(
          f"workdir {workdir!r} holds jaxdal results but no "
          f"{metrics.CONFIG_FILE}; restore it, or choose another --workdir "
          f"(nothing there is replaced)")
    raise WorkdirError(
        f"workdir {workdir!r} is not empty and holds no jaxdal run; choose "
        f"another --workdir (--overwrite replaces only jaxdal runs)")
  created = not os.path.isdir(workdir)
  try:
    os.makedirs(workdir, exist_ok=True)
    _write_config(config_path, config)
  except OSError:
    if created:  # A full disk or read-only folder leaves nothing behind.
      shutil.rmtree(workdir, ignore_errors=True)
    raise
  return created


@contextlib.contextmanager
def naming(path: str):
  """Gives an `OSError` raised inside that names no file (a write that
  fails on flush, e.g. on a full disk) the name `path`."""
  try:
    yield
  except OSError as e:
    if e.filename:
      raise
    raise OSError(e.errno, e.strerror, path) from None


def _write_config(path: str, config: dict) -> None:
  with naming(path):
    metrics.write_json(path, config, indent=2)


def _read_config(path: str) -> dict:
  try:
    with open(path) as f:
      config = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise WorkdirError(f"cannot read {path}: {e}; restore it or choose "
                       f"another --workdir") from None
  if not isinstance(config, dict):
    raise WorkdirError(f"{path} holds no settings object; restore it or "
                       f"choose another --workdir")
  return config


def _has_rounds(workdir: str) -> bool:
  ckpt_dir = os.path.join(workdir, "checkpoints")
  return os.path.isdir(ckpt_dir) and any(n.isdigit()
                                         for n in os.listdir(ckpt_dir))


def prepare_locked(workdir: str, config: dict, *, overwrite: bool,
                   defaults: dict, log: Callable[[str], None] = print
                   ) -> tuple[bool, RunLock]:
  """`prepare` under the workdir's lock: an existing run is locked before
  it is resumed, extended or moved aside, a new folder as soon as it
  exists. Returns (created, the held lock).

  Raises:
    WorkdirError: as `prepare`, or another process holds the lock.
  """
  existing = os.path.isfile(os.path.join(workdir, metrics.CONFIG_FILE))
  lock = RunLock(workdir) if existing else None
  try:
    created = prepare(workdir, config, overwrite=overwrite,
                      defaults=defaults, log=log)
  except BaseException:
    if lock is not None:
      lock.release()
    raise
  if lock is None or created:  # new, or the old run was moved aside
    if lock is not None:
      lock.release()
    try:
      lock = RunLock(workdir)
    except BaseException:
      if created:
        shutil.rmtree(workdir, ignore_errors=True)
      raise
  return created, lock


@contextlib.contextmanager
def removed_on_failure(workdir: str, created: bool):
  """A run that saved no round leaves nothing behind in a folder it
  created: on any exception the folder goes, then the exception goes on."""
  try:
    yield
  except BaseException:
    if created and not _has_rounds(workdir):
      shutil.rmtree(workdir, ignore_errors=True)
    raise


def _set_aside(workdir: str, path: str, error: Exception,
               log: Callable[[str], None]) -> None:
  """Moves a damaged cache to `<workdir>/corrupt/` and says so; the caller
  recomputes it (deterministically: the same keys give the same value)."""
  corrupt = os.path.join(workdir, "corrupt")
  os.makedirs(corrupt, exist_ok=True)
  aside = os.path.join(corrupt, f"{os.path.basename(path)}-"
                       f"{time.strftime('%Y%m%d-%H%M%S')}")
  while os.path.exists(aside):
    aside += "+"
  os.replace(path, aside)
  log(f"warning: {path} is unreadable ({type(error).__name__}); moved it "
      f"to {aside} and computing it again")


def cached_tree(workdir: str, name: str, like: Any,
                compute: Callable[[], tuple[Any, str]],
                log: Callable[[str], None]) -> Any:
  """The pytree saved under `workdir/name`, computed and saved if absent.

  `compute() -> (tree, summary)`; the summary is logged with the time.
  Keeps a resumed run from redoing (deterministic) pre-optimisation.
  """
  path = os.path.join(workdir, name)
  if os.path.isdir(path):
    try:
      return checkpoint.restore_tree(path, like)
    except Exception as e:  # noqa: BLE001 - whatever a damaged file raises
      _set_aside(workdir, path, e, log)
  t0 = time.perf_counter()
  tree, summary = compute()
  checkpoint.save_tree(path, tree)
  log(f"{name}: {summary} in {time.perf_counter() - t0:.1f}s")
  return tree


def fingerprint(config: dict, ignore: tuple[str, ...] = ()) -> str:
  """A short hex digest of `config` (JSON, sorted keys) without the keys
  in `ignore`: the same for configs equal but for those keys."""
  kept = {k: v for k, v in config.items() if k not in ignore}
  text = json.dumps(kept, sort_keys=True, default=str)
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def shared_tree(root: str, name: str, like: Any,
                compute: Callable[[], tuple[Any, str]]) -> tuple[Any, str]:
  """`(tree, summary)` read from `root/name`, or computed and saved there
  for the next run that shares it. An unreadable copy is moved to
  `root/corrupt/` and recomputed (as `cached_tree` does); when another
  process saved it first, its copy stays."""
  path = os.path.join(root, name)
  notes: list[str] = []
  if os.path.isdir(path):
    try:
      return checkpoint.restore_tree(path, like), f"shared, read from {path}"
    except Exception as e:  # noqa: BLE001 - whatever a damaged file raises
      _set_aside(root, path, e, notes.append)
  tree, summary = compute()
  summary = "; ".join([*notes, summary])
  try:
    os.makedirs(root, exist_ok=True)
    checkpoint.save_tree(path, tree)
  except (OSError, ValueError) as e:  # saved meanwhile by another run, or
    # unwritable: this run has its tree all the same.
    return tree, f"{summary}, not shared ({type(e).__name__})"
  return tree, f"{summary}, saved to {path}"


def cached_json(workdir: str, name: str, compute: Callable[[], dict],
                log: Callable[[str], None] = print) -> tuple[dict, bool]:
  """`workdir/searches/<name>.json`, computed and written (atomically) if
  absent or unreadable, with its compute time under "time_s".

  Returns:
    `(value, computed)`: computed is False when it was read from disk.
  """
  path = os.path.join(workdir, "searches", f"{name}.json")
  if os.path.isfile(path):
    try:
      with open(path) as f:
        value = json.load(f)
      if isinstance(value, dict):
        return value, False
      raise ValueError(f"{path} holds no JSON object")
    except (OSError, ValueError) as e:
      _set_aside(workdir, path, e, log)
  t0 = time.perf_counter()
  value = compute()
  value["time_s"] = round(time.perf_counter() - t0, 3)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with naming(path), open(path + ".tmp", "w") as f:
    json.dump(value, f, indent=1)
    faults.kill_point("cache_write")
  os.replace(path + ".tmp", path)
  return value, True
