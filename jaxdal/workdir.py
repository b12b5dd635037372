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


def prepare(workdir: str, config: dict, *, overwrite: bool,
            defaults: dict) -> bool:
  """Checks or creates `workdir` for a run of `config`; writes
  `config.json`. Returns True if this call created the folder.

  A folder holding the same config (fields missing from an older
  `config.json` count as `defaults`) is resumed; a different config, or a
  non-empty folder that is not a run, is refused unless `overwrite`.
  """
  config_path = os.path.join(workdir, metrics.CONFIG_FILE)
  if os.path.isfile(config_path):
    with open(config_path) as f:
      old = {**defaults, **json.load(f)}
    if old == config:
      return False
    if not overwrite:
      changed = sorted(k for k in set(old) | set(config)
                       if old.get(k) != config.get(k))
      raise WorkdirError(
          f"workdir {workdir!r} holds a run with a different config "
          f"(differs in: {', '.join(changed)}); pass --overwrite to replace "
          f"it or choose another --workdir")
    shutil.rmtree(workdir)
  elif os.path.isdir(workdir) and os.listdir(workdir):
    if not overwrite:
      raise WorkdirError(
          f"workdir {workdir!r} is not empty and holds no jaxdal run; pass "
          f"--overwrite to replace it or choose another --workdir")
    shutil.rmtree(workdir)
  created = not os.path.isdir(workdir)
  os.makedirs(workdir, exist_ok=True)
  tmp = config_path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
  os.replace(tmp, config_path)
  return created


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


def cached_tree(workdir: str, name: str, like: Any,
                compute: Callable[[], tuple[Any, str]],
                log: Callable[[str], None]) -> Any:
  """The pytree saved under `workdir/name`, computed and saved if absent.

  `compute() -> (tree, summary)`; the summary is logged with the time.
  Keeps a resumed run from redoing (deterministic) pre-optimisation.
  """
  path = os.path.join(workdir, name)
  if os.path.isdir(path):
    return checkpoint.restore_tree(path, like)
  t0 = time.perf_counter()
  tree, summary = compute()
  checkpoint.save_tree(path, tree)
  log(f"{name}: {summary} in {time.perf_counter() - t0:.1f}s")
  return tree


def cached_json(workdir: str, name: str, compute: Callable[[], dict]
                ) -> tuple[dict, bool]:
  """`workdir/searches/<name>.json`, computed and written (atomically) if
  absent, with its compute time under "time_s".

  Returns:
    `(value, computed)`: computed is False when it was read from disk.
  """
  path = os.path.join(workdir, "searches", f"{name}.json")
  if os.path.isfile(path):
    with open(path) as f:
      return json.load(f), False
  t0 = time.perf_counter()
  value = compute()
  value["time_s"] = round(time.perf_counter() - t0, 3)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + ".tmp", "w") as f:
    json.dump(value, f, indent=1)
  os.replace(path + ".tmp", path)
  return value, True
