"""TFDS array_record folders: finding, reading and writing them without TF.

Reading goes through `tfds.builder_from_directory(...).as_data_source()`, so a
folder prepared by TFDS itself (with TensorFlow, once) and one written by
`write_array_record` (no TensorFlow) are read by the same code.
"""

import glob
import os

import numpy as np

__all__ = ["DEFAULT_TFDS_DIR", "download_and_read", "find_prepared",
           "read_prepared", "search_dirs", "write_array_record"]

# Where TFDS looks when neither data_dir nor TFDS_DATA_DIR is given.
DEFAULT_TFDS_DIR = os.path.join("~", "tensorflow_datasets")


def _tfds():
  import tensorflow_datasets as tfds  # Heavy import; only when needed.
  tfds.disable_progress_bar()
  return tfds


def search_dirs(data_dir: str | None) -> list[str]:
  """Folders searched for prepared TFDS data, in order."""
  dirs = [data_dir, os.environ.get("TFDS_DATA_DIR"), DEFAULT_TFDS_DIR]
  return [os.path.expanduser(d) for d in dirs if d]


def _version_key(path: str) -> tuple[int, ...]:
  try:
    return tuple(int(p) for p in os.path.basename(path).split("."))
  except ValueError:
    return (-1,)


def find_prepared(tfds_name: str, data_dir: str | None) -> str | None:
  """Newest `<dir>/<tfds_name>/<version>` with array_record files, or None."""
  for d in search_dirs(data_dir):
    infos = glob.glob(os.path.join(d, tfds_name, "*", "dataset_info.json"))
    versions = [os.path.dirname(p) for p in infos
                if glob.glob(os.path.join(os.path.dirname(p),
                                          "*.array_record*"))]
    if versions:
      return max(versions, key=_version_key)
  return None


def _split_arrays(source, chunk: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
  images, labels = [], []
  for start in range(0, len(source), chunk):
    rows = source.__getitems__(range(start, min(start + chunk, len(source))))
    images.append(np.stack([np.asarray(r["image"]) for r in rows]))
    labels.append(np.asarray([r["label"] for r in rows], np.int64))
  return np.concatenate(images), np.concatenate(labels)


def read_prepared(path: str) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                                      int]:
  """Reads every split of a prepared folder.

  Returns:
    `({split: (images [N, H, W, C], labels [N])}, num_classes)`.
  """
  tfds = _tfds()
  builder = tfds.builder_from_directory(path)
  sources = builder.as_data_source()
  num_classes = builder.info.features["label"].num_classes
  return {s: _split_arrays(src) for s, src in sources.items()}, num_classes


def download_and_read(tfds_name: str, data_dir: str | None):
  """Lets TFDS fetch and prepare `tfds_name` (needs network), then reads it."""
  tfds = _tfds()
  sources = tfds.data_source(tfds_name, data_dir=data_dir, download=True)
  builder = tfds.builder(tfds_name, data_dir=data_dir)
  num_classes = builder.info.features["label"].num_classes
  return {s: _split_arrays(src) for s, src in sources.items()}, num_classes


def write_array_record(
    tfds_name: str,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    data_dir: str,
    *,
    num_classes: int,
    version: str = "1.0.0",
) -> str:
  """Writes arrays as a TFDS array_record folder, without TensorFlow.

  Useful to turn local files (e.g. Debian's Fashion-MNIST IDX files) into a
  folder that `tfds.data_source` and jaxdal read; images are stored as uint8
  tensors (TFDS's `Image` feature would need TensorFlow to encode).

  Args:
    tfds_name: dataset name, e.g. "fashion_mnist".
    splits: `{split: (images uint8 [N, H, W, C], labels int [N])}`.
    data_dir: root folder; the data lands in `data_dir/tfds_name/version`.
    num_classes: number of label classes.
    version: TFDS version string "x.y.z".

  Returns:
    The path of the written version folder.
  """
  tfds = _tfds()
  first_images = next(iter(splits.values()))[0]
  shape = tuple(first_images.shape[1:])
  builder_name, builder_version = tfds_name, version

  class _ArrayBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    name = builder_name
    VERSION = tfds.core.Version(builder_version)

    def _info(self):
      return tfds.core.DatasetInfo(
          builder=self,
          features=tfds.features.FeaturesDict({
              "image": tfds.features.Tensor(shape=shape, dtype=np.uint8),
              "label": tfds.features.ClassLabel(num_classes=num_classes),
          }),
          supervised_keys=("image", "label"),
      )

    def _split_generators(self, dl_manager):
      del dl_manager
      return {s: self._generate_examples(x, y) for s, (x, y) in splits.items()}

    def _generate_examples(self, images, labels):
      for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        yield i, {"image": np.asarray(image, np.uint8), "label": int(label)}

  builder = _ArrayBuilder(data_dir=data_dir, file_format="array_record")
  builder.download_and_prepare()
  return builder.data_dir
