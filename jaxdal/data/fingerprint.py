"""What a run's data was: shape, dtype and a hash of each array, recorded
in `config.json`, so a workdir resumed on changed data is refused instead
of silently mixing two datasets' rounds.

  >>> import numpy as np
  >>> describe_array(np.zeros((2, 3), np.float32))[:28]
  'float32[2,3] sha256:9d908ecf'
"""

import hashlib

import numpy as np

__all__ = ["KEY", "describe_array", "fingerprint", "first_change"]

# The config.json entry that holds the fingerprint.
KEY = "data_fingerprint"


def describe_array(a) -> str:
  """`dtype[shape] sha256:<16 hex>` of an array's bytes (C order)."""
  a = np.ascontiguousarray(np.asarray(a))
  digest = hashlib.sha256(a.tobytes()).hexdigest()[:16]
  return f"{a.dtype}[{','.join(map(str, a.shape))}] sha256:{digest}"


def fingerprint(dataset) -> dict:
  """`{"x_train", "y_train", "x_test", "y_test"}` of a `Dataset`, each
  described by `describe_array`."""
  return {name: describe_array(getattr(dataset, name))
          for name in ("x_train", "y_train", "x_test", "y_test")}


def first_change(old: dict, new: dict) -> str | None:
  """`"x_train float32[..] sha256:a -> float32[..] sha256:b"` for the first
  array that differs between two fingerprints, or None."""
  for name in sorted(set(old) | set(new)):
    if old.get(name) != new.get(name):
      return f"{name} {old.get(name)} -> {new.get(name)}"
  return None
