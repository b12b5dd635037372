"""The labelling page in a real browser (headless Chromium from Debian's
`chromium`, driven by Playwright): two batches labelled by clicks and keys,
the server SIGKILLed between them, and the labels and the second round's
picks equal to the `query`/`teach` route's.

Runs in the slow step; skipped where Playwright or chromium is missing,
unless JAXDAL_BROWSER_TESTS=1 (as `.ci/run` sets), where that fails.
`JAXDAL_SCREENSHOTS=DIR` keeps the page's screenshot as `DIR/label.png`.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.experiments.label.conftest import flag_args, serve, true_label

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _needs_browser():
  try:
    import playwright.sync_api  # noqa: F401
  except ImportError:
    missing = "playwright (pip install -e '.[browser]')"
  else:
    missing = None if os.path.isfile(CHROMIUM) else "chromium (apt)"
  if missing and os.environ.get("JAXDAL_BROWSER_TESTS") == "1":
    pytest.fail(f"the browser test needs {missing}")
  if missing:
    pytest.skip(f"needs {missing}")


def _label_batch(page, round_):
  """Answers every card with its true class: the first by key, the rest by
  clicking its button; then trains and waits for the next batch."""
  page.wait_for_selector(f"text=Round {round_} ·")
  cards = page.locator(".card")
  n = cards.count()
  for i in range(n):
    ident = cards.nth(i).locator("img").get_attribute("alt")
    answer = true_label(ident)
    if i == 0:
      page.keyboard.press(str(["zero", "one", "two"].index(answer) + 1))
    else:
      cards.nth(i).locator(f"button[data-answer='{answer}']").click()
    page.wait_for_function(
        f"document.querySelectorAll('.card')[{i}].querySelector('.answer')"
        f".textContent === '{answer}'")
  page.wait_for_selector(f"text={n} of {n} answered")
  page.click("#train")
  page.wait_for_selector(f"text=Round {round_ + 1} ·", timeout=180_000)


def _fill(path):
  with open(path) as f:
    rows = list(csv.DictReader(f))
  for r in rows:
    r["label"] = true_label(r["id"])
  with open(path, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)


def _strip(path):
  with open(path) as f:
    return [{k: v for k, v in json.loads(line).items()
             if k not in ("time", "host")} for line in f]


def test_two_batches_in_the_browser(tmp_path, image_folder, subprocess_env):
  _needs_browser()
  from playwright.sync_api import sync_playwright
  pool, test = image_folder
  web, cli = str(tmp_path / "web"), str(tmp_path / "cli")
  args = flag_args(pool, test, web)
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM,
                                args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    proc, url = serve(args, subprocess_env)
    try:
      page.goto(url)
      _label_batch(page, 0)
    finally:
      proc.send_signal(signal.SIGKILL)
      proc.wait()
      proc.stdout.close()
    proc, url = serve(["--workdir", web, "--compile_cache", "off"],
                       subprocess_env)
    try:
      page.goto(url)
      _label_batch(page, 1)
      page.wait_for_selector("#curve circle >> nth=1", state="attached")
      shot = tmp_path / "label.png"
      page.screenshot(path=str(shot), full_page=True)
      if os.environ.get("JAXDAL_SCREENSHOTS"):
        shutil.copy(shot, os.path.join(os.environ["JAXDAL_SCREENSHOTS"],
                                       "label.png"))
    finally:
      proc.send_signal(signal.SIGINT)
      proc.wait(timeout=60)
      proc.stdout.close()
      browser.close()
  # The route without a browser, on the same data and settings.
  run = [sys.executable, "-m", "experiments.label"]
  subprocess.run([*run, "query", *flag_args(pool, test, cli)], check=True,
                 env=subprocess_env, capture_output=True)
  for r in (0, 1):
    path = os.path.join(cli, "queries", f"round_{r:03d}.csv")
    with open(path[:-4] + ".png", "rb") as f:  # the contact sheet
      assert f.read(4) == b"\x89PNG"
    _fill(path)
    subprocess.run([*run, "teach", "--workdir", cli, "--labels", path,
                    "--compile_cache", "off"], check=True,
                   env=subprocess_env, capture_output=True)
  for w in (web, cli):
    subprocess.run([*run, "export", "--workdir", w, "--compile_cache",
                    "off"], check=True, env=subprocess_env,
                   capture_output=True)
  with open(os.path.join(web, "labels.csv")) as a, \
       open(os.path.join(cli, "labels.csv")) as b:
    assert a.read() == b.read()
  with open(os.path.join(web, "batches", "round_002.json")) as a, \
       open(os.path.join(cli, "batches", "round_002.json")) as b:
    assert json.load(a) == json.load(b)
  assert _strip(os.path.join(web, "metrics.jsonl")) == _strip(
      os.path.join(cli, "metrics.jsonl"))
