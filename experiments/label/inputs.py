"""What `experiments.label` labels: the user's images or texts, the classes,
an initial labeled set and a labelled test set, read and checked.

Every problem is a one-line ValueError naming the bad value: an empty
folder, an unknown class, duplicate ids, a missing column.
"""

import dataclasses
import os

import numpy as np

from jaxdal import data, models
from jaxdal.data import dataset as dataset_lib
from jaxdal.data import fingerprint as fingerprint_lib
from jaxdal.data import folders

__all__ = ["SKIP_ANSWERS", "Inputs", "check_answer", "load", "parse_classes",
           "read_labels"]

# Answers that say "not this one": recorded, never trained on.
SKIP_ANSWERS = ("skip", "unsure")


@dataclasses.dataclass(frozen=True)
class Inputs:
  """The examples to label.

  Attributes:
    kind: "images" or "texts".
    ids: N ids (an image's path in the folder, a text's id column).
    x: the model's inputs `[N, ...]` (standardised images, packed tokens).
    shown: per example, the image file or the text a person sees.
    classes: the class names, in class-id order.
    unreadable: `(id, reason)` of images left out.
    x_test: labelled held-out inputs, or None.
    y_test: their class ids, or None.
  """
  kind: str
  ids: list
  x: np.ndarray
  shown: list
  classes: tuple
  unreadable: list
  x_test: np.ndarray | None = None
  y_test: np.ndarray | None = None

  def index_of(self) -> dict:
    """`{id: dataset index}`."""
    return {i: n for n, i in enumerate(self.ids)}

  def fingerprint(self) -> dict:
    """What the data was (`config.json`): arrays' shapes and hashes, the
    ids and the classes."""
    out = {"x": fingerprint_lib.describe_array(self.x),
           "ids": fingerprint_lib.describe_array(np.array(self.ids, "U")),
           "classes": ",".join(self.classes)}
    if self.x_test is not None:
      out["x_test"] = fingerprint_lib.describe_array(self.x_test)
      out["y_test"] = fingerprint_lib.describe_array(self.y_test)
    return out


def parse_classes(text: str) -> tuple[str, ...]:
  """`"cat,dog"` -> `("cat", "dog")`: two or more distinct names."""
  names = tuple(c.strip() for c in text.split(","))
  if len(names) < 2 or any(not c for c in names):
    raise ValueError(f"--classes needs two or more comma-separated names, "
                     f"got {text!r}")
  dupes = sorted({c for c in names if names.count(c) > 1})
  if dupes:
    raise ValueError(f"--classes names a class twice: {', '.join(dupes)} "
                     f"(in {text!r})")
  taken = [c for c in names if c.lower() in SKIP_ANSWERS]
  if taken:
    raise ValueError(f"--classes may not use {taken[0]!r}: it is the "
                     f"answer for examples left unlabelled")
  return names


def check_answer(answer: str, classes: tuple[str, ...], where: str) -> str:
  """`answer` if it is a class name or a skip answer; else a one-line
  ValueError naming the valid ones."""
  if answer in classes or answer in SKIP_ANSWERS:
    return answer
  raise ValueError(f"{where}: unknown class {answer!r}; valid: "
                   f"{', '.join(classes)} (or {', '.join(SKIP_ANSWERS)})")


def read_labels(path: str, classes: tuple[str, ...], *,
                allow_skip: bool = True, id_column: str = "id",
                label_column: str = "label") -> list[tuple[str, str]]:
  """`(id, answer)` rows of a CSV or JSON-lines file; an empty label means
  no answer and is dropped.

  Raises:
    ValueError: a missing column, an unknown class, a duplicate id.
  """
  rows = folders.read_table(path, (id_column, label_column))
  out, seen = [], set()
  for n, row in enumerate(rows, 2):
    ident, answer = row[id_column].strip(), row[label_column].strip()
    if ident in seen:
      raise ValueError(f"{path}: duplicate id {ident!r} (row {n})")
    seen.add(ident)
    if not answer:
      continue
    if answer in SKIP_ANSWERS and not allow_skip:
      raise ValueError(f"{path}: row {n} has {answer!r}; this file must give "
                       f"a class ({', '.join(classes)})")
    out.append((ident, check_answer(answer, classes, f"{path} row {n}")))
  return out


def _test_images(path: str, size: int, channels: int, classes):
  """A test CSV of image paths (relative to the CSV's folder) and labels."""
  rows = read_labels(path, classes, allow_skip=False)
  root = os.path.dirname(os.path.abspath(path))
  files = [p if os.path.isabs(p) else os.path.join(root, p) for p, _ in rows]
  images = folders.read_images(files, [p for p, _ in rows], size=size,
                               channels=channels)
  if images.unreadable:
    bad = images.unreadable[0]
    raise ValueError(f"{path}: cannot read test image {bad[0]!r} ({bad[1]})")
  return images.x, np.array([classes.index(a) for _, a in rows], np.int32)


def load(data_path: str, classes: tuple[str, ...], *, tokenizer: str | None,
         image_size: int, max_length: int, test: str = "",
         id_column: str = "id", text_column: str = "text") -> Inputs:
  """The examples at `data_path`: a folder of images, or a CSV / JSON-lines
  file of texts (tokenised with `tokenizer`, a text backbone's)."""
  if not data_path:
    raise ValueError("--data is required: a folder of images, or a CSV or "
                     "JSONL file of texts with an id column")
  if os.path.isdir(data_path):
    images = folders.image_folder(data_path, size=image_size)
    if not images.ids:
      raise ValueError(f"no readable image in {data_path!r}: "
                       + "; ".join(f"{i} ({r})"
                                   for i, r in images.unreadable[:3]))
    pool = images.x
    x_test = y_test = None
    if test:
      x_test, y_test = _test_images(test, image_size, pool.shape[-1], classes)
      x_test = dataset_lib.standardise(x_test, pool)
    return Inputs("images", images.ids, dataset_lib.standardise(pool, pool),
                  images.files, classes, images.unreadable, x_test, y_test)
  if not os.path.isfile(data_path):
    raise ValueError(f"--data {data_path!r} is neither a folder of images "
                     f"nor a file of texts")
  if tokenizer is None:
    raise ValueError("texts need a text backbone (e.g. --backbone minilm)")
  ids, texts = folders.text_table(data_path, id_column=id_column,
                                  text_column=text_column)
  x = data.tokenize(texts, tokenizer=tokenizer, max_length=max_length)
  x_test = y_test = None
  if test:
    rows = folders.read_table(test, (text_column, "label"))
    answers = [check_answer(r["label"].strip(), classes, f"{test} row {n}")
               for n, r in enumerate(rows, 2)]
    x_test = data.tokenize([r[text_column] for r in rows],
                           tokenizer=tokenizer, max_length=max_length)
    y_test = np.array([classes.index(a) for a in answers], np.int32)
  return Inputs("texts", ids, x, texts, classes, [], x_test, y_test)


def tokenizer_for(backbone: str, method: str) -> str | None:
  """The tokenizer of a text backbone (None for image networks)."""
  if method:
    return None
  return models.tokenizer_of(models.build(backbone, 2))
