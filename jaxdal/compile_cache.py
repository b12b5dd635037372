"""JAX's persistent compilation cache, on for the experiment programs.

A run compiles the same small programs every time (the PRNG draws of the
pool, the init, the train and evaluation steps); on a CPU these compiles
are most of the seconds before the first training step. With the cache on,
a later run with the same shapes loads them from disk instead: the same
executables, so the same values.

The directory is, in order: the `--compile_cache` flag, `$JAXDAL_COMPILE_CACHE`,
then `$XDG_CACHE_HOME/jaxdal/xla` (`~/.cache/jaxdal/xla`); `off` turns the
cache off. A directory the user gave JAX itself (`JAX_COMPILATION_CACHE_DIR`)
is left as it is. Entries past `max_bytes` are evicted least recently used
first, under a file lock, so grid tasks can share one directory.
"""

import os

import jax
from absl import logging

__all__ = ["ENV", "OFF", "default_directory", "directory", "enable"]

ENV = "JAXDAL_COMPILE_CACHE"
OFF = "off"
_MAX_BYTES = 2 << 30


def default_directory(environ=os.environ) -> str:
  """`$XDG_CACHE_HOME/jaxdal/xla`, or `~/.cache/jaxdal/xla`."""
  base = environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxdal", "xla")


def directory(flag_value: str | None = None, environ=os.environ
              ) -> str | None:
  """The cache directory to use, or None when the cache is off.

  Args:
    flag_value: the `--compile_cache` flag (None or "" when not given).
    environ: the environment (`$JAXDAL_COMPILE_CACHE`, `$XDG_CACHE_HOME`).
  """
  chosen = flag_value or environ.get(ENV) or default_directory(environ)
  return None if chosen.strip().lower() == OFF else os.path.expanduser(chosen)


def enable(path: str | None, *, max_bytes: int = _MAX_BYTES) -> str | None:
  """Turns the persistent cache on at `path` (None: leaves it as it is).

  Every compile is cached, however short: the ones before the first
  training step take a tenth of a second each. Call before the first
  compilation of the process; a directory JAX already has is kept.

  Returns:
    The directory in use, or None when the cache is off.
  """
  current = jax.config.jax_compilation_cache_dir
  if current or path is None:
    return current or None
  try:
    os.makedirs(path, exist_ok=True)
  except OSError as e:  # a read-only home: run on, compiling as before
    logging.warning("compilation cache off: cannot create %s (%s)", path,
                    e.strerror or e)
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_compilation_cache_max_size", max_bytes)
  return path
