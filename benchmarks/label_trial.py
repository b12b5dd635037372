r"""The labelling page tried as a person uses it: 200 Fashion-MNIST training
images written out as PNG files, a 500-image labelled test CSV, and batches
of 20 answered in the browser (headless Chromium from Debian's `chromium`,
through Playwright; each click is the image's true class, as a careful
person would give it), trained with "Train and get the next batch".

  python benchmarks/label_trial.py --workdir /tmp/label_trial --batches 3

Prints, per round, the labels, the test accuracy and the wall time from the
click on "Train and get the next batch" to the next batch on the page.
Needs Debian's dataset-fashion-mnist and chromium, and
`pip install -e '.[label,browser]'`.
"""

import argparse
import csv
import gzip
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

CLASSES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal",
           "shirt", "sneaker", "bag", "boot")
IDX = "/usr/share/datasets/fashion-mnist"


def _idx(name: str) -> np.ndarray:
  with gzip.open(os.path.join(IDX, name)) as f:
    data = f.read()
  dims = data[3]
  shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big")
           for i in range(dims)]
  return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_folders(root: str, pool: int, test: int, seed: int) -> None:
  """`root/pool/<n>.png` (names carry no class) and `root/test/` with
  `test.csv`; `root/truth.csv` is the annotator's key."""
  from PIL import Image
  rng = np.random.default_rng(seed)
  for split, n, prefix in (("pool", pool, "train"), ("test", test, "t10k")):
    x, y = _idx(f"{prefix}-images-idx3-ubyte.gz"), _idx(
        f"{prefix}-labels-idx1-ubyte.gz")
    pick = rng.choice(len(y), n, replace=False)
    os.makedirs(os.path.join(root, split))
    rows = []
    for i in pick:
      name = f"{split}{i:05d}.png"
      Image.fromarray(x[i]).save(os.path.join(root, split, name))
      rows.append((name, CLASSES[y[i]]))
    out = os.path.join(root, "test", "test.csv") if split == "test" else \
        os.path.join(root, "truth.csv")
    with open(out, "w", newline="") as f:
      w = csv.writer(f)
      w.writerow(["id", "label"])
      w.writerows(rows)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--workdir", default="/tmp/label_trial")
  ap.add_argument("--batches", type=int, default=3)
  ap.add_argument("--acquire", type=int, default=20)
  ap.add_argument("--pool", type=int, default=200)
  ap.add_argument("--test", type=int, default=500)
  ap.add_argument("--chromium", default=shutil.which("chromium") or
                  "/usr/bin/chromium")
  ap.add_argument("--screenshot", default="")
  args = ap.parse_args()
  from playwright.sync_api import sync_playwright
  root = args.workdir
  if os.path.exists(root):
    shutil.rmtree(root)
  write_folders(root, args.pool, args.test, seed=0)
  with open(os.path.join(root, "truth.csv")) as f:
    truth = {r["id"]: r["label"] for r in csv.DictReader(f)}
  proc = subprocess.Popen(
      [sys.executable, "-m", "experiments.label", "--data",
       os.path.join(root, "pool"), "--classes", ",".join(CLASSES),
       "--test", os.path.join(root, "test", "test.csv"), "--workdir",
       os.path.join(root, "run"), "--acquire", str(args.acquire),
       "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True)
  url = next(m.group(0) for line in proc.stdout
             if (m := re.search(r"http://127\.0\.0\.1:\d+/", line)))
  print(f"CPU: {_cpu()}; page at {url}")
  print("round  labels  test %   train+query s")
  try:
    with sync_playwright() as p:
      browser = p.chromium.launch(executable_path=args.chromium,
                                  args=["--no-sandbox"])
      page = browser.new_page(viewport={"width": 1400, "height": 900})
      page.goto(url)
      for r in range(args.batches):
        page.wait_for_selector(f"text=Round {r} ·")
        cards = page.locator(".card")
        for i in range(cards.count()):
          ident = cards.nth(i).locator("img").get_attribute("alt")
          cards.nth(i).locator(
              f"button[data-answer='{truth[ident]}']").click()
        n = cards.count()
        page.wait_for_selector(f"text={n} of {n} answered")
        t0 = time.perf_counter()
        page.click("#train")
        page.wait_for_selector(f"text=Round {r + 1} ·", timeout=900_000)
        wall = time.perf_counter() - t0
        state = page.evaluate("fetch('/api/state').then(r => r.json())")
        last = state["curve"][-1]
        print(f"{r + 1:>5}  {last['labeled']:>6}  "
              f"{100 * last['test_accuracy']:6.2f}  {wall:12.1f}", flush=True)
      if args.screenshot:
        page.screenshot(path=args.screenshot, full_page=True)
      browser.close()
  finally:
    proc.terminate()
    proc.wait()


def _cpu() -> str:
  with open("/proc/cpuinfo") as f:
    return next((line.split(":", 1)[1].strip() for line in f
                 if line.startswith("model name")), "unknown")


if __name__ == "__main__":
  main()
