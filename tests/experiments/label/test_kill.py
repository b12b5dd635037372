"""The labelling server SIGKILLed at every kind of point (`jaxdal.faults`):
no acknowledged answer is lost, the restart resumes at the same batch, and
the next round equals the uninterrupted run's (slow step)."""

import json
import os
import time
import urllib.error
import urllib.request

import pytest

from experiments.label import start
from tests.experiments.label.conftest import (
  flag_args,
  options,
  serve,
  true_label,
)

pytestmark = pytest.mark.slow

# Each point a round of the page passes (the 3rd answer; the 2nd epoch).
KILLS = ("answer_written:3", "train_epoch:2", "cache_write", "batch_write")


def _call(url, path, body=None):
  data = None if body is None else json.dumps(body).encode()
  req = urllib.request.Request(url + path, data=data, headers={
      "Content-Type": "application/json"})
  with urllib.request.urlopen(req, timeout=120) as r:
    return json.load(r)


def _label_and_train(url) -> list[str]:
  """Answers batch 0, trains, waits; returns the acknowledged ids (until
  the server dies)."""
  acked = []
  try:
    for item in _call(url, "api/state")["batch"]:
      _call(url, "api/label", {"id": item["id"],
                               "answer": true_label(item["id"])})
      acked.append(item["id"])
    _call(url, "api/train", {})
    while _call(url, "api/state")["training"]["running"]:
      time.sleep(0.2)
  except (urllib.error.URLError, ConnectionError):
    pass
  return acked


@pytest.fixture(scope="module")
def reference(tmp_path_factory, image_folder):
  """Batch 1 of the uninterrupted run."""
  pool, test = image_folder
  run = start.open_options(str(tmp_path_factory.mktemp("ref") / "w"),
                           options(pool, test), log=lambda _: None)
  try:
    for ident in run.batch["ids"]:
      run.answer(ident, true_label(ident))
    run.train_round()
    return run.batch
  finally:
    run.close()


@pytest.mark.parametrize("kill", KILLS)
def test_killed_server_loses_nothing(kill, tmp_path, image_folder, reference,
                                     subprocess_env):
  pool, test = image_folder
  work = str(tmp_path / "w")
  proc, url = serve(flag_args(pool, test, work),
                     {**subprocess_env, "JAXDAL_KILL_AT": kill})
  acked = _label_and_train(url)
  assert proc.wait(timeout=300) == -9, f"{kill} was not reached"
  proc.stdout.close()
  proc, url = serve(["--workdir", work, "--compile_cache", "off"],
                     subprocess_env)
  try:
    st = _call(url, "api/state")
    if st["round"] == 0:  # not committed: the same batch, answers kept
      answered = {i["id"] for i in st["batch"] if i["answer"]}
      assert set(acked) <= answered
      _label_and_train(url)
      st = _call(url, "api/state")
    assert st["round"] == 1
    assert [i["id"] for i in st["batch"]] == reference["ids"]
    assert [i["score"] for i in st["batch"]] == reference["scores"]
  finally:
    proc.kill()
    proc.wait()
    proc.stdout.close()
  with open(os.path.join(work, "batches", "round_001.json")) as f:
    assert json.load(f) == reference
