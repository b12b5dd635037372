"""What every experiment CLI shares: flags from a config, one-line errors."""

import errno
import logging as logging_std
import os
import sys
from collections.abc import Callable

import ml_collections
from absl import flags, logging

from jaxdal import sharding
from jaxdal.data import DatasetNotFoundError
from jaxdal.hub import CheckpointNotFoundError

# Errors a user causes with a bad flag or missing data: one line, exit 2.
USER_ERRORS = (ValueError, DatasetNotFoundError, CheckpointNotFoundError)


def define_flags_from_config(config: ml_collections.ConfigDict,
                             helps: dict[str, str]) -> list[str]:
  """One absl flag per config field, defaulting to the config's value.

  Returns the flag names; the calling CLI declares them as its key flags so
  `--help` lists them.
  """
  for name, value in config.items():
    text = helps.get(name, name.replace("_", " "))
    if isinstance(value, bool):
      flags.DEFINE_bool(name, value, text)
    elif isinstance(value, int):
      flags.DEFINE_integer(name, value, text)
    elif isinstance(value, float):
      flags.DEFINE_float(name, value, text)
    else:
      flags.DEFINE_string(name, value, text)
  return list(config)


def define_run_flags(presets, workdir_default: str) -> list[str]:
  """The flags every experiment CLI has: preset, workdir, overwrite and
  progress bars. Returns their names; the calling CLI declares them as its
  key flags so `--help` lists them."""
  flags.DEFINE_enum("preset", "quick", presets,
                    "base settings; explicit flags override them")
  flags.DEFINE_string("workdir", "",
                      f"output folder (default {workdir_default})")
  flags.DEFINE_bool("overwrite", False,
                    "replace a workdir that holds a different run")
  flags.DEFINE_bool("progress", True, "show progress bars")
  flags.DEFINE_bool("mesh", False, "shard batches and pool chunks over all "
                    "devices (a jax.sharding.Mesh with a data axis); on by "
                    "itself under jax.distributed (JAX_COORDINATOR_ADDRESS, "
                    "JAX_NUM_PROCESSES, JAX_PROCESS_ID)")
  return ["preset", "workdir", "overwrite", "progress", "mesh"]


def apply_flag_overrides(config: ml_collections.ConfigDict,
                         flag_values: flags.FlagValues
                         ) -> ml_collections.ConfigDict:
  """`config` with every flag the user typed written over it."""
  config = config.copy_and_resolve_references()
  for name in config:
    if flag_values[name].present:
      config[name] = flag_values[name].value
  return config


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing with this project's convention: a bad flag is one
  line `error: ...` and exit code 2 (absl alone prints two lines and exits
  1). Pass as `app.run(main, flags_parser=cli.parse_flags)`."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}; see --help", file=sys.stderr)
    sys.exit(2)


def _quiet_exit(line: str, code: int) -> None:
  """Prints `line` and exits at once, without waiting for (or printing the
  tracebacks of) Orbax's and TensorStore's background threads, which after
  a failed write can wait minutes for a folder that was never made, or
  report on a closed event loop. `line` is the only thing on stderr: from
  here on fd 2 goes to /dev/null. Every file jaxdal keeps is written
  atomically, so nothing is left half-written."""
  logging_std.disable(logging_std.CRITICAL)
  sys.stdout.flush()
  sys.stderr.flush()
  stderr = os.dup(2)
  os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
  os.write(stderr, (line + "\n").encode())
  os._exit(code)


def os_error_line(e: OSError) -> str:
  """A filesystem failure in one line that names the path and the problem
  (a full disk, a read-only filesystem, a missing permission)."""
  what = e.strerror or str(e) or type(e).__name__
  if not e.filename:
    return what
  if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
    return (f"cannot write {e.filename}: {what}; free some space, then "
            f"rerun the same command to resume")
  if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
    return f"cannot write {e.filename}: {what}; choose a writable --workdir"
  return f"{e.filename}: {what}"


def run_reporting_errors(fn: Callable[[], None]) -> None:
  """Runs `fn`; a user error prints `error: ...` on one line and exits 2,
  a filesystem failure (a full disk, a read-only workdir) likewise with
  exit 1.

  Library INFO logs (Orbax reports every file it writes) are hidden unless
  the user asked for them with --verbosity.
  """
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  try:
    if "mesh" in flags.FLAGS:
      sharding.setup(flags.FLAGS.mesh, os.environ)
      if not sharding.is_writer():  # process 0 speaks for all
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    fn()
  except USER_ERRORS as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except OSError as e:
    _quiet_exit(f"error: {os_error_line(e)}", 1)
  except KeyboardInterrupt:
    print("interrupted; rerun the same command to resume", file=sys.stderr)
    sys.exit(130)
