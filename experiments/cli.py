"""What every experiment CLI shares: flags from a config, `--import` of a
user's modules, one-line errors."""

import errno
import importlib
import importlib.util
import logging as logging_std
import os
import sys
import traceback
import types
from collections.abc import Callable, Sequence

import ml_collections
from absl import flags, logging

from jaxdal import compile_cache, sharding
from jaxdal.data import DatasetNotFoundError
from jaxdal.hub import CheckpointNotFoundError

# Errors a user causes with a bad flag or missing data: one line, exit 2.
USER_ERRORS = (ValueError, DatasetNotFoundError, CheckpointNotFoundError)

IMPORT_FLAG = "import"


def import_names(argv: Sequence[str]) -> list[str]:
  """The values of every `--import MODULE` and `--import=MODULE` in `argv`
  (one or two dashes, as absl accepts), up to a `--`."""
  found = []
  args = iter(argv[1:])
  for arg in args:
    if arg == "--":
      break
    if not arg.startswith("-"):
      continue
    name = arg[2:] if arg.startswith("--") else arg[1:]
    if name == IMPORT_FLAG:
      value = next(args, None)
      if value is not None:  # a missing value is absl's error to report
        found.append(value)
    elif name.startswith(IMPORT_FLAG + "="):
      found.append(name[len(IMPORT_FLAG) + 1:])
  return found


def _where(e: BaseException) -> str:
  """` (file, line N)` of the line in the user's code that failed: the
  innermost frame outside jaxdal and importlib, or a SyntaxError's own."""
  if isinstance(e, SyntaxError) and e.filename:
    return f" ({e.filename}, line {e.lineno})"
  jaxdal_dir = os.path.dirname(os.path.dirname(
      os.path.abspath(sharding.__file__))) + os.sep
  for frame in reversed(traceback.extract_tb(e.__traceback__)):
    if (frame.filename.startswith("<") or frame.filename == __file__
        or os.path.abspath(frame.filename).startswith(jaxdal_dir)):
      continue
    return f" ({frame.filename}, line {frame.lineno})"
  return ""


def _path_module_name(path: str) -> str:
  """The name a .py file is imported under (its stem); ValueError if the
  file is missing or another module already has that name."""
  if not os.path.isfile(path):
    raise ValueError(f"cannot import --import {path!r}: no such file")
  name = os.path.splitext(os.path.basename(path))[0]
  known = getattr(sys.modules.get(name), "__file__", None)
  if name in sys.modules and not (known and os.path.samefile(known, path)):
    raise ValueError(f"cannot import --import {path!r}: a module named "
                     f"{name!r} is already imported; rename the file")
  return name


def _import_path(name: str, path: str) -> types.ModuleType:
  """Imports the .py file at `path` as module `name`, once."""
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  # In sys.modules while it runs, as `import` does (dataclasses and
  # pickling look the module up by name).
  sys.modules[name] = module
  try:
    spec.loader.exec_module(module)
  except BaseException:
    del sys.modules[name]
    raise
  return module


def import_user_module(spec: str) -> types.ModuleType:
  """Imports `spec`: a dotted module name found from the current folder or
  PYTHONPATH, or a path to a .py file.

  Raises:
    ValueError: one line naming `spec` and why it could not be imported
      (not found, or the error its code raised, with the file and line).
  """
  is_path = spec.endswith(".py") or "/" in spec or os.sep in spec
  if is_path:
    name = _path_module_name(spec)
  elif os.getcwd() not in sys.path and "" not in sys.path:
    # `python -m` puts the current folder first on sys.path; an installed
    # script does not, so "my_acq" resolves the same either way. Appended,
    # so it never shadows an installed package.
    sys.path.append(os.getcwd())
  try:
    if is_path:
      return _import_path(name, spec)
    return importlib.import_module(spec)
  except ModuleNotFoundError as e:
    if e.name and (spec == e.name or spec.startswith(e.name + ".")):
      raise ValueError(f"cannot import --import {spec!r}: no module named "
                       f"{e.name!r} in the current folder or on PYTHONPATH"
                       ) from None
    raise ValueError(f"cannot import --import {spec!r}: {e}{_where(e)}"
                     ) from None
  except Exception as e:
    # Whatever the user's code raised, as one line that says where (a
    # SyntaxError's own text names the file without its folder).
    what = e.msg if isinstance(e, SyntaxError) else e
    raise ValueError(f"cannot import --import {spec!r}: "
                     f"{type(e).__name__}: {what}{_where(e)}") from None


def define_import_flag(argv: Sequence[str] | None = None) -> list[str]:
  """Imports the modules that `--import` names, then defines `--import`.

  A CLI calls this before it defines (or writes the help of) any flag whose
  choices come from a registry, so that an acquisition, backbone, method or
  dataset a user's module registers is accepted on the command line and
  listed by `--help`. absl defines flags when the CLI module is imported,
  before it parses the command line, so the names are read here from
  `argv` (default `sys.argv`); the flag itself is defined only so absl
  accepts and documents it. A module that cannot be imported is one line
  `error: ...` and exit 2, before anything is written.

  Returns:
    The flag's name; the calling CLI declares it a key flag so `--help`
    lists it.
  """
  specs = import_names(sys.argv if argv is None else argv)
  for spec in specs:
    try:
      import_user_module(spec)
    except ValueError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(2)
  # Defined once per process: tests import several CLIs into one.
  if IMPORT_FLAG not in flags.FLAGS:
    flags.DEFINE_multi_string(
        IMPORT_FLAG, [], "a Python module to import first, e.g. one that "
        "registers an acquisition function, backbone, method or dataset: a "
        "dotted name found from the current folder or PYTHONPATH, or a path "
        "to a .py file")
    # An --import that only absl sees (one in a --flagfile) would come too
    # late to register anything: refuse it rather than ignore it.
    flags.register_validator(
        IMPORT_FLAG, lambda value: list(value or []) == specs,
        "--import must be typed on the command line, not in a --flagfile")
  return [IMPORT_FLAG]


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
  flags.DEFINE_string(
      "compile_cache", None,
      f"folder of JAX's persistent compilation cache, so a later run loads "
      f"its compiled steps instead of compiling them again; 'off' turns it "
      f"off (default ${compile_cache.ENV}, else "
      f"{compile_cache.default_directory()})")
  return ["preset", "workdir", "overwrite", "progress", "mesh",
          "compile_cache"]


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
  if "compile_cache" in flags.FLAGS:
    compile_cache.enable(compile_cache.directory(flags.FLAGS.compile_cache))
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
