"""Readers for the IDX files MNIST and Fashion-MNIST are distributed as."""

import gzip
import os

import numpy as np

__all__ = ["IDX_FILES", "has_idx_files", "read_idx", "read_idx_folder"]

# IDX type codes -> numpy dtypes (big-endian where it matters).
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
               0x0D: ">f4", 0x0E: ">f8"}

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path: str) -> np.ndarray:
  """Reads one (optionally gzipped) IDX file into an array of its shape."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    raw = f.read()
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
    raise ValueError(f"{path} is not an IDX file (bad magic number)")
  ndim = raw[3]
  shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big")
                for i in range(ndim))
  data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise ValueError(
        f"{path}: header says {shape} but holds {data.size} values")
  return data.reshape(shape)


def has_idx_files(folder: str) -> bool:
  """True when `folder` holds the four IDX gz files of an MNIST-like set."""
  return all(os.path.isfile(os.path.join(folder, f))
             for f in IDX_FILES.values())


def read_idx_folder(folder: str) -> dict[str, np.ndarray]:
  """The four arrays `x_train, y_train, x_test, y_test` of an IDX folder."""
  return {k: read_idx(os.path.join(folder, f)) for k, f in IDX_FILES.items()}
