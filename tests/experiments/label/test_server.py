"""The page's endpoints, through Flask's test client."""

import time

import pytest

from experiments.label import server, start
from tests.experiments.label.conftest import options, true_label


@pytest.fixture
def client(tmp_path, image_folder):
  pool, test = image_folder
  run = start.open_options(str(tmp_path / "w"), options(pool, test),
                           log=lambda _: None)
  app = server.make_app(run, log=lambda _: None)
  yield app.test_client(), run
  run.close()


def _wait_trained(c, timeout=120):
  t0 = time.time()
  while time.time() - t0 < timeout:
    st = c.get("/api/state").get_json()
    if not st["training"]["running"]:
      return st
    time.sleep(0.2)
  raise AssertionError("training did not finish")


def test_page_and_state(client):
  c, run = client
  with c.get("/") as page:
    assert page.status_code == 200 and b"label.js" in page.data
  with c.get("/static/label.js") as js:
    assert js.status_code == 200
  st = c.get("/api/state").get_json()
  assert st["round"] == 0 and st["classes"] == ["zero", "one", "two"]
  assert [i["id"] for i in st["batch"]] == run.batch["ids"]
  assert st["budget"] == 15 and st["labeled"] == 0 and not st["done"]
  with c.get("/api/image/0/0") as img:
    assert img.status_code == 200 and img.data[:4] == b"\x89PNG"
  assert c.get("/api/image/0/5").status_code == 404
  assert c.get("/api/image/1/0").status_code == 404


def test_label_errors_and_two_tabs(client):
  c, run = client
  ident = run.batch["ids"][0]
  ok = c.post("/api/label", json={"id": ident, "answer": "one",
                                  "client": "a"})
  assert ok.status_code == 200 and ok.get_json()["previous"] is None
  again = c.post("/api/label", json={"id": ident, "answer": "two",
                                     "client": "b"}).get_json()
  assert again["previous"] == {"answer": "one", "client": "a"}
  st = c.get("/api/state").get_json()
  assert st["batch"][0]["answer"] == "two" and st["batch"][0]["client"] == "b"
  bad = c.post("/api/label", json={"id": ident, "answer": "seven"})
  assert bad.status_code == 400 and "unknown class 'seven'" in \
      bad.get_json()["error"]
  assert c.post("/api/label", json={"id": "x.png", "answer": "one"}
                ).status_code == 400
  assert c.post("/api/label", data="nonsense").status_code == 400


def test_train_in_background(client):
  c, run = client
  for ident in run.batch["ids"]:
    c.post("/api/label", json={"id": ident, "answer": true_label(ident)})
  assert c.post("/api/train").get_json() == {"started": True}
  during = c.post("/api/label", json={"id": run.batch["ids"][0],
                                      "answer": "one"})
  # Refused while training (or, if the round already finished, the old
  # batch's example is no longer asked for).
  assert during.status_code in (400, 409)
  st = _wait_trained(c)
  assert st["training"]["error"] is None and st["round"] == 1
  assert st["labeled"] == 5 and len(st["curve"]) == 1
  assert st["curve"][0]["test_accuracy"] is not None
  assert sum(st["class_counts"].values()) == 5
  assert all("score" in i and "predicted" in i for i in st["batch"])
  assert st["score_name"] == "margin"
