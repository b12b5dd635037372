"""A small image folder of three digit classes, and the options of a fast
labelling run over it (an MLP on 12 x 12 images)."""

import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest

CLASSES = ("zero", "one", "two")


def write_images(folder, x, y, indices) -> list[tuple[str, str]]:
  """Writes `x[i]` (standardised floats) as 8-bit PNGs named
  `img<i>_<class>.png`; returns `(file, class)` rows."""
  from PIL import Image
  os.makedirs(folder, exist_ok=True)
  rows = []
  for i in indices:
    a = x[i, ..., 0]
    a = ((a - a.min()) / (a.max() - a.min() + 1e-9) * 255).astype(np.uint8)
    name = f"img{i:04d}_{CLASSES[y[i]]}.png"
    Image.fromarray(a).save(os.path.join(folder, name))
    rows.append((name, CLASSES[y[i]]))
  return rows


def true_label(ident: str) -> str:
  """The class a file's name carries (what the annotator answers)."""
  return ident.rsplit("_", 1)[1][:-4]


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory, mnist5k):
  """`(pool folder, test CSV)`: 60 pool and 30 test digits of 0-2."""
  root = tmp_path_factory.mktemp("label_images")
  rng = np.random.default_rng(0)
  write_images(root / "pool", mnist5k.x_train, mnist5k.y_train,
               rng.choice(np.flatnonzero(mnist5k.y_train < 3), 60,
                          replace=False))
  rows = write_images(root / "test", mnist5k.x_test, mnist5k.y_test,
                      rng.choice(np.flatnonzero(mnist5k.y_test < 3), 30,
                                 replace=False))
  test_csv = root / "test" / "test.csv"
  with open(test_csv, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "label"])
    w.writerows(rows)
  return str(root / "pool"), str(test_csv)


def options(pool: str, test: str = "", **over) -> dict:
  """A labelling run's options (as the CLI makes them): an MLP, batches
  of 5, a budget of 15."""
  base = dict(data=pool, classes=list(CLASSES), labeled="", test=test,
              backbone="mlp", method="", acquisition="margin", acquire=5,
              budget=15, preset="quick", seed=0, image_size=12,
              max_length=64, id_column="id", text_column="text")
  return {**base, **over}


def flag_args(pool: str, test: str, workdir: str) -> list[str]:
  """The command-line flags of `options(pool, test)`."""
  return ["--data", pool, "--classes", ",".join(CLASSES), "--test", test,
          "--workdir", workdir, "--backbone", "mlp", "--acquisition",
          "margin", "--acquire", "5", "--budget", "15", "--image_size", "12",
          "--compile_cache", "off"]


def serve(args: list[str], env: dict):
  """Starts `python -m experiments.label ARGS --port 0`; returns
  `(process, page url)` once it serves (stdout piped: close it)."""
  proc = subprocess.Popen(
      [sys.executable, "-m", "experiments.label", *args, "--port", "0"],
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
  for line in proc.stdout:
    m = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if m:
      return proc, m.group(0)
  proc.stdout.close()
  raise AssertionError(f"the server did not start: {proc.wait()}")
