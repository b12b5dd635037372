"""A run's folder: preparing and guarding it, and caching what a resumed
run must not recompute (pre-optimised weights, searches).

Layout: `config.json`, `metrics.jsonl`, `checkpoints/<round>/`,
`figures/`, and caches: `pretrained/`, `preoptimised/` (Orbax trees),
`searches/<name>.json`.
"""

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

from jaxdal import checkpoint, metrics


class WorkdirError(ValueError):
  """The workdir holds something this run must not overwrite."""


def prepare(workdir: str, config: dict, *, overwrite: bool, defaults: dict,
            log: Callable[[str], None] = print) -> bool:
  """Checks or creates `workdir` for a run of `config`; writes
  `config.json`. Returns True if this call created the folder.

  A folder holding the same config (fields missing from an older
  `config.json` count as `defaults`) is resumed. A different config is
  refused unless `overwrite`, which moves the old run aside to
  `<workdir>.old-<timestamp>` (never deletes it). A non-empty folder that
  holds no jaxdal run is always refused. Call it only once the new run's
  settings are known to be valid.
  """
  config_path = os.path.join(workdir, metrics.CONFIG_FILE)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"workdir {workdir!r} is a file; choose a folder")
  if os.path.isfile(config_path):
    old = {**defaults, **_read_config(config_path)}
    if old == config:
      return False
    if not overwrite:
      changed = sorted(k for k in set(old) | set(config)
                       if old.get(k) != config.get(k))
      raise WorkdirError(
          f"workdir {workdir!r} holds a run with a different config "
          f"(differs in: {', '.join(changed)}); pass --overwrite to move it "
          f"aside or choose another --workdir")
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
  os.makedirs(workdir, exist_ok=True)
  tmp = config_path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
  os.replace(tmp, config_path)
  return created


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
  with open(path + ".tmp", "w") as f:
    json.dump(value, f, indent=1)
  os.replace(path + ".tmp", path)
  return value, True
