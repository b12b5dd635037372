"""A labelling run: the rounds of a person-in-the-loop active learner,
kept in a workdir so that nothing acknowledged is ever lost.

Round r shows batch r, queried from state S_r (`pool.round == r`). Training
round r teaches batch r's answers to S_r, fits (S_{r+1}), evaluates, queries
batch r+1, then writes, in this order: `checkpoints/<r+1>/` (the fitted
state), `metrics.jsonl` (one record per fitted state) and
`batches/round_<r+1>.json`. The batch file is the commit: a run restarted
after a crash resumes at the newest batch file, from its checkpoint, and
since every key is `fold_in` of the state's round, the next round equals
the uninterrupted run's. Answers go to `labels.jsonl` (`jaxdal.journal`),
synced before they are acknowledged.

Layout: `config.json`, `labels.jsonl`, `batches/`, `checkpoints/`,
`metrics.jsonl`, `queries/round_NNN.csv` (+ `.png` contact sheets).
"""

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable

import jax
import numpy as np

from experiments.label import inputs as inputs_lib
from jaxdal import data, faults, learning, metrics, plan, recorder, settings
from jaxdal import journal as journal_lib
from jaxdal import workdir as workdir_lib
from jaxdal.acquisition import nearest_labeled_sqdist, scores
from jaxdal.data import fingerprint as fingerprint_lib
from jaxdal.network import initial_state
from jaxdal.state import Architecture

__all__ = ["LabelRun", "Progress", "open_run"]

_SCORES = {"entropy": scores.entropy, "least_confidence":
           scores.least_confidence, "margin": scores.margin,
           "bald": scores.bald, "batchbald": scores.bald}


class Progress:
  """Where a training round stands (read by the page while it runs)."""

  def __init__(self):
    self.phase, self.started, self.error = "", None, None

  def set(self, phase: str) -> None:
    self.phase = phase
    if self.started is None:
      self.started = time.time()

  def done(self) -> None:
    self.phase, self.started = "", None


def _learner(s: settings.Settings, x, num_classes: int) -> learning.Learner:
  """The learner of a labelling run: the method and fit settings of the
  preset, no validation split (every label is a person's)."""
  method = plan.build_method(s, num_classes)
  return learning.learner(
      method, None, x, acquisition=s.active.acquisition,
      num_classes=num_classes, learning_rate=s.fit.learning_rate,
      schedule=s.fit.schedule, batch_size=s.fit.batch_size,
      max_epochs=s.fit.max_epochs, patience=s.fit.patience,
      target_train_accuracy=s.fit.target_train_accuracy,
      mc_samples=s.active.mc_samples, chunk=s.active.chunk,
      query_pool=s.active.query_pool, augment=s.fit.augment,
      warm_start=s.fit.warm_start, train_arch=s.arch.train_arch,
      ensemble=s.fit.ensemble)


@dataclasses.dataclass
class LabelRun:
  """An open labelling workdir (`open_run`). Not thread-safe by itself: the
  server serialises calls."""
  workdir: str
  options: dict
  inputs: inputs_lib.Inputs
  learner: learning.Learner
  lock: workdir_lib.RunLock
  state: learning.LearnerState
  batch: dict
  records: list
  journal: journal_lib.Journal

  # ---- answers ------------------------------------------------------------
  def answers(self, round_: int | None = None) -> dict:
    """`{id: record}`: the last answer to each example of batch `round_`
    (default: the current one)."""
    r = self.batch["round"] if round_ is None else round_
    return journal_lib.latest(self.journal.read(), round_=r)

  def answer(self, ident: str, answer: str, client: str = "") -> dict | None:
    """Records `answer` to the current batch's example `ident`, synced to
    disk; returns the answer it replaces (None if first)."""
    where = f"example {ident!r}"
    inputs_lib.check_answer(answer, self.inputs.classes, where)
    if ident not in self.batch["ids"]:
      raise ValueError(f"{where} is not in batch {self.batch['round']} "
                       f"(answers are taken for the current batch only)")
    previous = self.answers().get(ident)
    self.journal.append({
        "id": ident, "index": int(self.inputs.index_of()[ident]),
        "answer": answer, "round": self.batch["round"], "client": client,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    faults.kill_point("answer_written")
    return previous

  # ---- a round -------------------------------------------------------------
  def train_round(self, progress: Progress | None = None) -> dict:
    """Teaches the current batch's answers, fits, evaluates, queries the
    next batch and commits them (see the module docstring); returns the
    round's record."""
    progress = progress or Progress()
    if self.batch["done"]:
      raise ValueError("the labelling budget is spent: nothing left to "
                       "train; `export` writes the labels")
    r = self.batch["round"]
    t0 = time.perf_counter()
    progress.set("teaching")
    given = self.answers()
    index = self.inputs.index_of()
    taught = [(index[i], self.inputs.classes.index(a["answer"]))
              for i, a in sorted(given.items())
              if a["answer"] not in inputs_lib.SKIP_ANSWERS]
    skipped = [index[i] for i, a in given.items()
               if a["answer"] in inputs_lib.SKIP_ANSWERS]
    state = self.state
    if skipped:  # never queried again, never trained on
      pool = state.pool
      state = state._replace(pool=pool._replace(
          candidate=pool.candidate.at[np.array(skipped)].set(False)))
    idx = np.array([t[0] for t in taught], np.int32)
    state = self.learner.teach(state, idx,
                               np.array([t[1] for t in taught], np.int32))
    if not bool(state.pool.labeled.any()):
      raise ValueError(f"label at least one example of batch {r} before "
                       f"training (skipped ones are never trained on)")
    progress.set("training")
    state, fit = self.learner.fit(state)
    record = self._record(state, fit, progress)
    record.update(round=r + 1, taught=len(taught), skipped=len(skipped))
    progress.set("querying the next batch")
    batch = self._query(state)
    record["time"] = {"round_s": round(time.perf_counter() - t0, 2)}
    self._commit(state, batch, record)
    progress.done()
    return record

  def _record(self, state, fit, progress: Progress) -> dict:
    labeled = np.asarray(state.pool.labeled)
    counts = np.bincount(np.asarray(state.labels)[labeled],
                         minlength=len(self.inputs.classes))
    record = {"labeled": int(labeled.sum()),
              "class_counts": dict(zip(self.inputs.classes,
                                       counts.tolist(), strict=True)),
              "train_accuracy": float(fit.train_accuracy),
              "epochs": int(fit.epochs), "stop_reason": fit.stop_reason,
              "test_accuracy": None, "host": recorder.host()}
    if self.inputs.x_test is not None:
      progress.set("evaluating")
      record["test_accuracy"] = float(self.learner.evaluate(
          state, self.inputs.x_test, self.inputs.y_test))
    return record

  def _query(self, state: learning.LearnerState) -> dict:
    """Batch `pool.round` of `state`: the acquisition's picks, their scores
    and the model's predictions (`done` once the budget is spent)."""
    r = int(state.pool.round)
    labeled = int(np.asarray(state.pool.labeled).sum())
    avail = int(np.asarray(data.available(state.pool)).sum())
    k = min(self.options["acquire"], self.options["budget"] - labeled, avail)
    batch = {"round": r, "indices": [], "ids": [], "scores": [],
             "score_name": "", "predicted": [], "confidence": [],
             "done": k <= 0}
    if k <= 0:
      return batch
    if state.train is None:  # nothing labeled yet: drawn at random
      picked = np.asarray(self.learner.query(state, k))
    else:
      cand, acq = self.learner.inputs(state)
      picked = self.learner.select(state, k, cand, acq)
      batch["score_name"], values = _shown_scores(
          self.options["acquisition"], acq, cand, picked,
          np.asarray(state.pool.labeled)[cand])
      batch["scores"] = [round(float(v), 5) for v in values]
      probs = np.asarray(self.learner.predict(
          state, self.learner.x[np.asarray(picked)])).mean(axis=0)
      batch["predicted"] = [self.inputs.classes[c]
                            for c in probs.argmax(-1).tolist()]
      batch["confidence"] = [round(float(p), 4) for p in probs.max(-1)]
    batch["indices"] = [int(i) for i in picked]
    batch["ids"] = [self.inputs.ids[i] for i in batch["indices"]]
    return batch

  def _commit(self, state, batch: dict, record: dict) -> None:
    r = batch["round"]
    path = _checkpoint(self.workdir, r)
    if os.path.exists(path):  # a crash's leftover: the batch file is not
      shutil.rmtree(path)     # there, so this state is not committed
    learning.save(path, state)
    records = [rec for rec in self.records if rec["round"] < r] + [record]
    metrics.write_jsonl(os.path.join(self.workdir, metrics.METRICS_FILE),
                        records)
    os.makedirs(os.path.join(self.workdir, "batches"), exist_ok=True)
    faults.kill_point("batch_write")
    metrics.write_json(_batch_file(self.workdir, r), batch)
    self.state, self.batch, self.records = state, batch, records

  # ---- reading -------------------------------------------------------------
  def status(self) -> dict:
    """Where the run stands."""
    given = self.answers()
    labeled = int(np.asarray(self.state.pool.labeled).sum())
    return {"round": self.batch["round"], "labeled": labeled,
            "budget": self.options["budget"],
            "batch_size": len(self.batch["ids"]),
            "answered": sum(1 for i in self.batch["ids"] if i in given),
            "done": self.batch["done"], "records": self.records,
            "unreadable": [list(u) for u in self.inputs.unreadable]}

  def all_answers(self) -> list[dict]:
    """Every answer in force: the initial labels, then each round's last
    answer per example (the current batch's included)."""
    out = [{"id": i, "label": a, "round": "initial"}
           for i, a in self.options.get("initial_labels", [])]
    records = self.journal.read()
    for r in range(self.batch["round"] + 1):
      for ident, rec in sorted(journal_lib.latest(records, round_=r).items()):
        out.append({"id": ident, "label": rec["answer"], "round": r})
    return out

  def close(self) -> None:
    self.lock.release()


def _shown_scores(name: str, acq: dict, cand, picked, labeled):
  """`(what, [k] values)` to show beside the picked examples: the
  acquisition's score where it has one, else the distance to the labeled
  set in feature space (coreset, BADGE), else nothing (random)."""
  pos = np.searchsorted(cand, picked)
  if acq["probs"] is not None and name in _SCORES:
    return name, np.asarray(_SCORES[name](acq["probs"]))[pos]
  if acq["features"] is not None:
    d2 = nearest_labeled_sqdist(acq["features"], jax.numpy.asarray(labeled))
    return "distance to labeled", np.sqrt(np.asarray(d2))[pos]
  return "", []


def _checkpoint(workdir: str, r: int) -> str:
  return os.path.join(workdir, "checkpoints", f"{r:03d}")


def _batch_file(workdir: str, r: int) -> str:
  return os.path.join(workdir, "batches", f"round_{r:03d}.json")


def _latest_batch(workdir: str) -> int | None:
  folder = os.path.join(workdir, "batches")
  rounds = [int(n[6:9]) for n in os.listdir(folder)
            if n.startswith("round_") and n.endswith(".json")] \
      if os.path.isdir(folder) else []
  return max(rounds) if rounds else None


def _restore(learner, workdir: str, r: int, like: learning.LearnerState,
             input_shape) -> learning.LearnerState:
  """State S_r from its checkpoint (fitted, so shaped like a fresh fit)."""
  path = _checkpoint(workdir, r)
  arch_file = os.path.join(path, "arch.json")
  if os.path.isfile(arch_file):
    with open(arch_file) as f:
      like = like._replace(arch=Architecture(f.read()))
  net = learner.network(like)
  ts = initial_state(net.method, net.tx, jax.random.key(0), input_shape,
                     learning.Start(), members=net.members)
  return learning.load(path, like._replace(train=ts))


def open_run(workdir: str, options: dict, s: settings.Settings,
             inputs: inputs_lib.Inputs, *, overwrite: bool = False,
             log: Callable[[str], None] = print) -> LabelRun:
  """Opens (creating or resuming) the labelling run in `workdir`, locked.

  Args:
    workdir: the run's folder.
    options: the app's settings (`config.json`): data, classes, acquire,
      budget, initial_labels, ...
    s: the learner's settings (preset, method, acquisition, seed).
    inputs: the examples (`inputs.load`).
    overwrite: move a run on other settings aside instead of refusing.
    log: where messages go.
  """
  config = {"label": options, **s.to_dict(),
            "data_fingerprint": inputs.fingerprint()}
  _check_same_run(workdir, config, overwrite)
  created, lock = workdir_lib.prepare_locked(workdir, config,
                                             overwrite=overwrite, defaults={},
                                             log=log)
  with workdir_lib.removed_on_failure(workdir, created):
    try:
      learner = _learner(s, inputs.x, len(inputs.classes))
      index = inputs.index_of()
      initial = options.get("initial_labels", [])
      state = learner.init(
          s.active.seed, labeled=[index[i] for i, _ in initial] or None,
          labels=[inputs.classes.index(a) for _, a in initial] or None)
      run = LabelRun(workdir, options, inputs, learner, lock, state, {}, [],
                     journal_lib.Journal(os.path.join(workdir,
                                                      "labels.jsonl")))
      latest = _latest_batch(workdir)
      if latest is None:
        if initial:
          state, fit = learner.fit(state)
          record = run._record(state, fit, Progress())
          record.update(round=0, taught=len(initial), skipped=0, time={})
        else:
          record = None
        batch = run._query(state)
        if record:
          run._commit(state, batch, record)
        else:
          _commit_first(run, batch)
        log(f"batch 0 of {len(batch['ids'])} examples ready")
      else:
        if latest > 0 or initial:
          state = _restore(learner, workdir, latest, state,
                           tuple(inputs.x.shape[1:]))
        run.state = state
        with open(_batch_file(workdir, latest)) as f:
          run.batch = json.load(f)
        path = os.path.join(workdir, metrics.METRICS_FILE)
        run.records = [rec for rec in (metrics.read_jsonl(path)
                                       if os.path.isfile(path) else [])
                       if rec["round"] <= latest]
        log(f"resumed at batch {latest} ({len(run.answers())} of "
            f"{len(run.batch['ids'])} answered)")
      return run
    except BaseException:
      lock.release()
      raise


def _check_same_run(workdir: str, config: dict, overwrite: bool):
  """A one-line WorkdirError if `workdir` holds a run on other data or
  options, naming the first difference."""
  path = os.path.join(workdir, metrics.CONFIG_FILE)
  if overwrite or not os.path.isfile(path):
    return
  with open(path) as f:
    old = json.load(f)
  change = fingerprint_lib.first_change(old.get("data_fingerprint") or {},
                                        config["data_fingerprint"])
  what = "data"
  if not change and isinstance(old.get("label"), dict):
    what = "options"
    change = next((f"--{k} {old['label'].get(k)!r} -> {v!r}"
                   for k, v in config["label"].items()
                   if k != "initial_labels" and old["label"].get(k) != v),
                  None)
  if change:
    raise workdir_lib.WorkdirError(
        f"workdir {workdir!r} was started with other {what} ({change}); "
        f"choose another --workdir, or pass --overwrite to move it aside")


def _commit_first(run: LabelRun, batch: dict) -> None:
  """Batch 0 drawn before any label: no state to save (init is
  deterministic from the seed)."""
  os.makedirs(os.path.join(run.workdir, "batches"), exist_ok=True)
  metrics.write_json(_batch_file(run.workdir, 0), batch)
  run.batch = batch
