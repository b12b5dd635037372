"""The in-memory dataset every source returns."""

from typing import NamedTuple

import numpy as np

__all__ = ["Dataset", "DatasetNotFoundError", "from_uint8", "standardise"]


class DatasetNotFoundError(FileNotFoundError):
  """A dataset's files are missing here; the message says how to get them."""


class Dataset(NamedTuple):
  """Train and test arrays of one classification task.

  Attributes:
    name: registry name of the source.
    x_train: `[N, H, W, C]` float32, standardised with train statistics
      (images), or int32 packed tokens `[N, 3, L]` (text: ids, attention
      mask, token types; `data/text.py`).
    y_train: `[N]` int32 labels in `[0, num_classes)`.
    x_test: `[M, H, W, C]` float32, standardised like `x_train` (or
      `[M, 3, L]` tokens).
    y_test: `[M]` int32 labels.
    num_classes: number of classes C.
  """
  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int

  @property
  def input_shape(self) -> tuple[int, ...]:
    """`(H, W, C)` of one image, `(3, L)` of one text."""
    return tuple(self.x_train.shape[1:])


def from_uint8(name: str, x_train, y_train, x_test, y_test,
               num_classes: int) -> Dataset:
  """Builds a Dataset from uint8 images `[N, H, W(, C)]`.

  Pixels are scaled to [0, 1] and standardised per channel with the training
  split's mean and standard deviation (so every source is normalised alike).
  """
  x_train = _as_nhwc(np.asarray(x_train)).astype(np.float32) / 255.0
  x_test = _as_nhwc(np.asarray(x_test)).astype(np.float32) / 255.0
  return Dataset(
      name=name,
      x_train=standardise(x_train, x_train),
      y_train=np.asarray(y_train, np.int32),
      x_test=standardise(x_test, x_train),
      y_test=np.asarray(y_test, np.int32),
      num_classes=int(num_classes),
  )


def standardise(x: np.ndarray, like: np.ndarray) -> np.ndarray:
  """`x` `[N, H, W, C]` standardised per channel with the mean and standard
  deviation (+ 1e-6) of `like` (the training split, or a pool)."""
  mean = like.mean(axis=(0, 1, 2), keepdims=True)
  std = like.std(axis=(0, 1, 2), keepdims=True) + 1e-6
  return (x - mean) / std


def _as_nhwc(x: np.ndarray) -> np.ndarray:
  if x.ndim == 3:
    return x[..., None]
  if x.ndim != 4:
    raise ValueError(f"images must be [N, H, W] or [N, H, W, C], got {x.shape}")
  return x
