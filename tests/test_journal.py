"""jaxdal.journal: answers survive a cut-off write; the last answer
counts."""

import json

from jaxdal import journal


def test_append_read_latest(tmp_path):
  j = journal.Journal(str(tmp_path / "labels.jsonl"))
  assert j.read() == []
  j.append({"id": "a", "answer": "x", "round": 0})
  j.append({"id": "b", "answer": "y", "round": 0})
  j.append({"id": "a", "answer": "z", "round": 0})
  j.append({"id": "a", "answer": "w", "round": 1})
  assert [r["answer"] for r in j.read()] == ["x", "y", "z", "w"]
  assert {k: v["answer"] for k, v in journal.latest(j.read(), round_=0)
          .items()} == {"a": "z", "b": "y"}
  with open(j.path) as f:  # one JSON object per line
    assert [json.loads(line)["id"] for line in f] == ["a", "b", "a", "a"]


def test_cut_off_line_left_out_then_new_line(tmp_path):
  path = tmp_path / "labels.jsonl"
  j = journal.Journal(str(path))
  j.append({"id": "a", "answer": "x", "round": 0})
  with open(path, "a") as f:
    f.write('{"id": "b", "ans')  # a crash mid-write
  assert [r["id"] for r in j.read()] == ["a"]
  j.append({"id": "c", "answer": "y", "round": 0})
  assert [r["id"] for r in j.read()] == ["a", "c"]
  assert path.read_text().count("\n") == 3  # the cut-off line stays apart
