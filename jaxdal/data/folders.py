"""A user's own examples: a folder of images, or a table of texts.

`image_folder` reads every PNG and JPEG under a folder (Pillow), resized to
one size, scaled to [0, 1]; a file that cannot be read is listed, not
fatal. `text_table` reads a CSV or JSON-lines file with an id and a text
column. Ids are what a person sees and answers by: an image's path
relative to the folder, a text's id column.
"""

import csv
import json
import os
from typing import NamedTuple

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "Images", "image_folder", "read_images",
           "read_table", "text_table"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class Images(NamedTuple):
  """Images read from files.

  Attributes:
    x: float32 `[N, size, size, C]` in [0, 1] (C = 1 when every image is
      greyscale, else 3).
    ids: the N files' paths relative to the folder, sorted.
    files: their full paths.
    unreadable: `(id, reason)` of each file left out.
  """
  x: np.ndarray
  ids: list[str]
  files: list[str]
  unreadable: list[tuple[str, str]]


def _open(path: str):
  """The decoded Pillow image at `path` (raises on a corrupt file)."""
  from PIL import Image
  with Image.open(path) as image:
    image.load()  # decodes now: a truncated file fails here
    return image.copy()


def read_images(files: list[str], ids: list[str], *, size: int,
                channels: int | None = None) -> Images:
  """Reads `files` (named `ids`) resized to `size` x `size`.

  Args:
    files: image paths.
    ids: their names, one per file.
    size: the side in pixels of every output image.
    channels: 1 or 3; None: 1 when every readable image is greyscale.

  Returns:
    `Images`; unreadable files are in `unreadable`, not in `x`.
  """
  from PIL import Image
  if size < 4:
    raise ValueError(f"image size must be at least 4 pixels, got {size}")
  kept, unreadable = [], []
  for name, path in zip(ids, files, strict=True):
    try:
      kept.append((name, path, _open(path)))
    except Exception as e:  # noqa: BLE001 - whatever Pillow raises
      unreadable.append((name, f"{type(e).__name__}: {e}"))
  if channels is None:
    channels = 1 if all(im.mode in _GREY_MODES for _, _, im in kept) else 3
  if channels not in (1, 3):
    raise ValueError(f"channels must be 1 or 3, got {channels}")
  mode = "L" if channels == 1 else "RGB"
  x = np.zeros((len(kept), size, size, channels), np.float32)
  for i, (_, _, image) in enumerate(kept):
    pixels = image.convert(mode).resize((size, size), Image.BILINEAR)
    x[i] = np.asarray(pixels, np.float32).reshape(size, size, channels) / 255
  return Images(x, [k[0] for k in kept], [k[1] for k in kept], unreadable)


def image_folder(folder: str, *, size: int,
                 channels: int | None = None) -> Images:
  """Every PNG and JPEG under `folder` (sub-folders too), by sorted
  relative path; see `read_images`.

  Raises:
    ValueError: `folder` is missing or holds no image.
  """
  if not os.path.isdir(folder):
    raise ValueError(f"image folder {folder!r} does not exist")
  ids = sorted(
      os.path.relpath(os.path.join(root, name), folder)
      for root, _, names in os.walk(folder) for name in names
      if name.lower().endswith(IMAGE_SUFFIXES))
  if not ids:
    raise ValueError(f"image folder {folder!r} holds no image (looked for "
                     f"{', '.join(IMAGE_SUFFIXES)})")
  files = [os.path.join(folder, i) for i in ids]
  return read_images(files, ids, size=size, channels=channels)


def read_table(path: str, columns: tuple[str, ...]) -> list[dict]:
  """The rows of a CSV (with a header) or a JSON-lines file (`.jsonl`,
  `.json`), each a dict of strings; every column in `columns` must exist.

  Raises:
    ValueError: unreadable file, a missing column, or no rows.
  """
  try:
    with open(path, newline="", encoding="utf-8") as f:
      if path.lower().endswith((".jsonl", ".json")):
        rows = []
        for n, line in enumerate(f, 1):
          if line.strip():
            row = json.loads(line)
            if not isinstance(row, dict):
              raise ValueError(f"line {n} is not a JSON object")
            rows.append(row)
        have = set().union(*rows) if rows else set()
      else:
        reader = csv.DictReader(f)
        rows = list(reader)
        have = set(reader.fieldnames or ())
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise ValueError(f"cannot read {path}: {e}") from None
  missing = [c for c in columns if c not in have]
  if missing:
    raise ValueError(f"{path} has no column {', '.join(map(repr, missing))}; "
                     f"its columns: {', '.join(sorted(have)) or 'none'}")
  if not rows:
    raise ValueError(f"{path} holds no rows")
  return [{k: ("" if v is None else str(v)) for k, v in row.items()}
          for row in rows]


def text_table(path: str, *, id_column: str = "id",
               text_column: str = "text") -> tuple[list[str], list[str]]:
  """`(ids, texts)` of a CSV or JSON-lines file.

  Raises:
    ValueError: a missing column, no rows, an empty or duplicate id.
  """
  rows = read_table(path, (id_column, text_column))
  ids = [r[id_column] for r in rows]
  empty = [n for n, i in enumerate(ids, 1) if not i.strip()]
  if empty:
    raise ValueError(f"{path}: row {empty[0]} has an empty {id_column!r}")
  seen, dupes = set(), []
  for i in ids:
    if i in seen:
      dupes.append(i)
    seen.add(i)
  if dupes:
    raise ValueError(f"{path}: duplicate ids {sorted(set(dupes))[:5]}")
  return ids, [r[text_column] for r in rows]
