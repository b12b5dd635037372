"""The labelling run: rounds through the learner API, answers kept, resume
equal to an uninterrupted run."""

import json
import os
import shutil

import numpy as np
import pytest

from experiments.label import start
from jaxdal import workdir as workdir_lib
from tests.experiments.label.conftest import options, true_label


def _answer_all(run, skip=()):
  for ident in run.batch["ids"]:
    run.answer(ident, "skip" if ident in skip else true_label(ident), "t")


def _open(workdir, pool, test="", **over):
  return start.open_options(str(workdir), options(pool, test, **over),
                            log=lambda _: None)


def _replay_first_round(al, inputs, first):
  """The learner alone: seed 0's first batch (which must be `first`),
  taught the true labels by id order, as the run teaches them, and fit."""
  state = al.init(0)
  idx = al.query(state, 5)
  assert idx.tolist() == first
  labels = [inputs.classes.index(true_label(inputs.ids[i])) for i in idx]
  order = np.argsort([inputs.ids[i] for i in idx])  # taught by id
  state = al.teach(state, idx[order], np.array(labels)[order])
  state, _ = al.fit(state)
  return state


def test_rounds_equal_a_plain_learner_loop(tmp_path, image_folder):
  """Batch 1's picks are what `jaxdal.learner`'s query/teach/fit give with
  the same seed and answers."""
  pool, test = image_folder
  run = _open(tmp_path / "w", pool, test)
  try:
    first = list(run.batch["indices"])
    _answer_all(run)
    record = run.train_round()
    got = run.batch["indices"]
    al, inputs = run.learner, run.inputs
  finally:
    run.close()
  state = _replay_first_round(al, inputs, first)
  assert al.query(state, 5).tolist() == got
  assert record["labeled"] == 5 and record["round"] == 1
  assert record["test_accuracy"] == pytest.approx(al.evaluate(
      state, inputs.x_test, inputs.y_test))
  assert sum(record["class_counts"].values()) == 5


def test_resume_equals_uninterrupted(tmp_path, image_folder):
  pool, _ = image_folder
  a = _open(tmp_path / "a", pool)
  try:
    for _ in range(2):
      _answer_all(a)
      a.train_round()
    want, want_records = a.batch, a.records
  finally:
    a.close()
  # Interrupted: closed after answering, and after each round; a crash
  # after a checkpoint but before its batch file leaves a stale checkpoint.
  b = _open(tmp_path / "b", pool)
  _answer_all(b)
  b.close()
  b = _open(tmp_path / "b", pool)
  assert len(b.answers()) == 5  # kept over the restart
  b.train_round()
  b.close()
  os.remove(tmp_path / "b" / "batches" / "round_001.json")
  b = _open(tmp_path / "b", pool)  # at batch 0 again, its answers kept
  assert b.batch["round"] == 0 and len(b.answers()) == 5
  b.train_round()  # over the stale checkpoint 001
  b.close()
  b = _open(tmp_path / "b", pool)
  _answer_all(b)
  b.train_round()
  b.close()
  b = _open(tmp_path / "b", pool)
  try:
    assert b.batch == want
    strip = [{k: v for k, v in rec.items() if k not in ("time", "host")}
             for rec in want_records]
    assert [{k: v for k, v in rec.items() if k not in ("time", "host")}
            for rec in b.records] == strip
  finally:
    b.close()


def test_skipped_never_trained_or_asked_again(tmp_path, image_folder):
  pool, _ = image_folder
  run = _open(tmp_path / "w", pool)
  try:
    skipped, unanswered = run.batch["ids"][:2], run.batch["ids"][2]
    for ident in run.batch["ids"][3:]:
      run.answer(ident, true_label(ident))
    for ident in skipped:
      run.answer(ident, "unsure")
    record = run.train_round()
    index = run.inputs.index_of()
    labeled = np.asarray(run.state.pool.labeled)
    candidate = np.asarray(run.state.pool.candidate)
    assert record["labeled"] == 2 and record["skipped"] == 2
    assert not labeled[[index[i] for i in skipped]].any()
    assert not candidate[[index[i] for i in skipped]].any()
    assert candidate[index[unanswered]] and not labeled[index[unanswered]]
    exported = {a["id"]: a["label"] for a in run.all_answers()}
    assert {exported[i] for i in skipped} == {"unsure"}
  finally:
    run.close()


def test_last_answer_counts(tmp_path, image_folder):
  pool, _ = image_folder
  run = _open(tmp_path / "w", pool)
  try:
    ident = run.batch["ids"][0]
    assert run.answer(ident, "one", "tab-a") is None
    previous = run.answer(ident, "two", "tab-b")
    assert previous["answer"] == "one" and previous["client"] == "tab-a"
    assert run.answers()[ident]["answer"] == "two"
    with pytest.raises(ValueError, match="unknown class 'three'"):
      run.answer(ident, "three")
    with pytest.raises(ValueError, match="not in batch 0"):
      run.answer("nope.png", "one")
  finally:
    run.close()


def test_cut_off_label_line_is_ignored(tmp_path, image_folder):
  """A crash in the middle of writing an answer (never acknowledged)."""
  pool, _ = image_folder
  run = _open(tmp_path / "w", pool)
  ident = run.batch["ids"][0]
  run.answer(ident, "one")
  run.close()
  with open(tmp_path / "w" / "labels.jsonl", "a") as f:
    f.write(json.dumps({"id": run.batch["ids"][1], "answer": "two",
                        "round": 0})[:20])
  run = _open(tmp_path / "w", pool)
  try:
    assert list(run.answers()) == [ident]
    run.answer(run.batch["ids"][1], "zero")
    assert run.answers()[run.batch["ids"][1]]["answer"] == "zero"
  finally:
    run.close()


def test_other_data_refused(tmp_path, image_folder):
  """The same folder with an image removed, or another folder."""
  pool, _ = image_folder
  mine = tmp_path / "pool"
  shutil.copytree(pool, mine)
  _open(tmp_path / "w", str(mine)).close()
  os.remove(mine / sorted(os.listdir(mine))[0])
  with pytest.raises(workdir_lib.WorkdirError,
                     match=r"started with other data \(ids "):
    _open(tmp_path / "w", str(mine))
  with pytest.raises(workdir_lib.WorkdirError,
                     match=r"other options \(--data '.*/pool' -> "):
    _open(tmp_path / "w", pool)


def test_budget_ends_the_run(tmp_path, image_folder):
  pool, _ = image_folder
  run = _open(tmp_path / "w", pool, budget=8)
  try:
    _answer_all(run)
    run.train_round()
    assert len(run.batch["ids"]) == 3  # 5 + 3 = the budget
    _answer_all(run)
    run.train_round()
    assert run.batch["done"] and run.status()["labeled"] == 8
    with pytest.raises(ValueError, match="budget is spent"):
      run.train_round()
  finally:
    run.close()


@pytest.mark.slow
def test_texts_with_minilm_equal_a_plain_learner_loop(tmp_path):
  """A JSONL of texts, the offline MiniLM: batch 1 is what the learner API
  gives with the same answers."""
  texts = {f"s{i}": t for i, t in enumerate((
      "The team won the match", "A late goal decided the final",
      "The striker scored twice", "The runner broke the record"))}
  texts.update({f"m{i}": t for i, t in enumerate((
      "Shares fell as the bank cut its forecast", "Rates rose again",
      "Profits rose this quarter", "Investors sold bonds"))})
  path = tmp_path / "texts.jsonl"
  path.write_text("".join(json.dumps({"id": k, "text": v}) + "\n"
                          for k, v in texts.items()))
  opts = options(str(path), backbone="minilm", classes=["sports", "money"],
                 acquire=3, budget=6, acquisition="entropy")
  run = start.open_options(str(tmp_path / "w"), opts, log=lambda _: None)
  try:
    first = list(run.batch["indices"])
    truth = {i: "sports" if i[0] == "s" else "money" for i in texts}
    for ident in run.batch["ids"]:
      run.answer(ident, truth[ident])
    run.train_round()
    got, al, ids = run.batch["indices"], run.learner, run.inputs.ids
    assert run.inputs.kind == "texts" and run.inputs.x.shape == (8, 3, 64)
  finally:
    run.close()
  state = al.init(0)
  idx = al.query(state, 3)
  assert idx.tolist() == first
  order = np.argsort([ids[i] for i in idx])
  state = al.teach(state, idx[order], [("sports", "money").index(
      truth[ids[i]]) for i in idx[order]])
  state, _ = al.fit(state)
  assert al.query(state, 3).tolist() == got


def test_initial_labels_fit_first(tmp_path, image_folder):
  """`--labeled`: round 0 fits on them, and batch 0 is the acquisition's
  pick on that fit, as the learner API's."""
  pool, _ = image_folder
  ids = sorted(os.listdir(pool))[:6]
  labeled = tmp_path / "labeled.csv"
  labeled.write_text("id,label\n" + "".join(f"{i},{true_label(i)}\n"
                                             for i in ids))
  run = _open(tmp_path / "w", pool, labeled=str(labeled))
  try:
    assert run.records[0]["round"] == 0 and run.records[0]["labeled"] == 6
    assert run.batch["score_name"] == "margin"
    got, al, inputs = run.batch["indices"], run.learner, run.inputs
    exported = [(a["id"], a["label"]) for a in run.all_answers()]
    assert exported == [(i, true_label(i)) for i in ids]
  finally:
    run.close()
  index = inputs.index_of()
  state = al.init(0, labeled=[index[i] for i in ids],
                  labels=[inputs.classes.index(true_label(i)) for i in ids])
  state, _ = al.fit(state)
  assert al.query(state, 5).tolist() == got
  run = _open(tmp_path / "w", pool, labeled=str(labeled))  # resumed
  try:
    assert run.batch["indices"] == got and len(run.records) == 1
  finally:
    run.close()


def test_ensemble_rounds_equal_a_plain_learner_loop_and_resume(
    tmp_path, image_folder):
  """`--ensemble 2` with BALD: batch 1 is what the learner gives with the
  same members and answers, and a run reopened from its checkpoint (the
  members stacked) queries the same batch 2."""
  pool, _ = image_folder
  over = dict(acquisition="bald", ensemble=2)
  run = _open(tmp_path / "w", pool, **over)
  try:
    assert run.learner.network(run.state).members == 2
    first = list(run.batch["indices"])
    _answer_all(run)
    run.train_round()
    got = list(run.batch["indices"])
    _answer_all(run)
    run.train_round()
    want = list(run.batch["indices"])
    al, inputs = run.learner, run.inputs
  finally:
    run.close()
  state = _replay_first_round(al, inputs, first)
  assert al.query(state, 5).tolist() == got
  again = _open(tmp_path / "w", pool, **over)
  try:
    assert list(again.batch["indices"]) == want
    assert again.batch["round"] == 2
    assert again.learner.query(again.state, 5).tolist() == want
  finally:
    again.close()


def test_ensemble_with_a_method_refused(tmp_path, image_folder):
  pool, _ = image_folder
  with pytest.raises(ValueError, match="ensemble 2 trains fresh members"):
    _open(tmp_path / "w", pool, method="bbdropout", backbone="",
          ensemble=2)
  assert not os.path.exists(tmp_path / "w")
