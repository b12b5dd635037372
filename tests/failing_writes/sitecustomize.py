"""A patched writer for the bad-input table: with this folder on
PYTHONPATH and `JAXDAL_TEST_FAIL_WRITES=<ERRNO>:<path part>` set (e.g.
`ENOSPC:/checkpoints/`, `EROFS:/ro`), every Python-level write, folder
creation or rename whose path contains <path part> fails with that errno,
as on a full disk or a read-only filesystem. (Root ignores permission
bits, so a chmod-ed folder would not fail.)"""

import builtins
import errno
import io
import os

_SPEC = os.environ.get("JAXDAL_TEST_FAIL_WRITES", "")
if _SPEC:
  _NAME, _, _PART = _SPEC.partition(":")
  _CODE = getattr(errno, _NAME)

  def _check(path) -> None:
    if isinstance(path, int):
      return
    path = os.fsdecode(os.fspath(path))
    if _PART in os.path.abspath(path):
      raise OSError(_CODE, os.strerror(_CODE), path)

  def _writes(mode) -> bool:
    return any(c in str(mode) for c in "wax+")

  def _patched_open(real):
    def patched(file, mode="r", *args, **kwargs):
      if _writes(mode):
        _check(file)
      return real(file, mode, *args, **kwargs)
    return patched

  def _patched_os_open(real):
    def patched(path, flags, *args, **kwargs):
      if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        _check(path)
      return real(path, flags, *args, **kwargs)
    return patched

  def _patched_path_op(real, *, both=False):
    def patched(src, *args, **kwargs):
      _check(args[0] if both and args else src)
      return real(src, *args, **kwargs)
    return patched

  builtins.open = io.open = _patched_open(io.open)
  os.open = _patched_os_open(os.open)
  os.mkdir = _patched_path_op(os.mkdir)
  os.replace = _patched_path_op(os.replace, both=True)
  os.rename = _patched_path_op(os.rename, both=True)
