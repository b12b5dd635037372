"""The active-learning loop into a workdir: the only module that knows
what a round of an experiment program is.

Round r, in two halves over an explicit `RunContext`: `start_round` builds
(or searches) the round's network and asks the run's learner
(`jaxdal.learning`) for what to train; the caller trains it (alone:
`train.fit`; with other seeds: `jaxdal.lockstep`); `finish_round`
evaluates, queries and teaches through the learner (the dataset's labels
answering), checkpoints and writes `metrics.jsonl`. Keys are derived,
never carried: round r uses `fold_in(fold_in(key(seed), 1), r)`
(`context.round_key`), so a run resumed from its latest checkpoint
reproduces the uninterrupted run exactly.
"""

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from jaxdal import (
    complexity,
    console,
    context,
    diagnostics,
    faults,
    metrics,
    modes,
    plots,
    sharding,
    train,
)
from jaxdal import data as data_lib
from jaxdal import predict as predict_lib
from jaxdal.context import RunContext, open_run
from jaxdal.settings import Settings
from jaxdal.workdir import WorkdirError

__all__ = ["DivergenceError", "FitRequest", "RunContext", "Settings",
           "WorkdirError", "extend", "finish_round", "open_run", "run",
           "start_round"]


class FitRequest(NamedTuple):
  """What a round asks to train: `network` from `state` on `train_idx`
  (stopping by `val_idx`) with `key`."""
  network: context.Network
  state: train.TrainState
  train_idx: np.ndarray
  val_idx: np.ndarray
  key: jax.Array


def start_round(ctx: RunContext, r: int) -> FitRequest:
  """The first half of round r: its network (searched if the mode says
  so) and fresh (or warm-started) state, as a `FitRequest`."""
  s = ctx.settings
  ctx.clock = {"compiles": diagnostics.compilations(),
               "t": time.perf_counter()}
  previous, ctx.network = ctx.network, context.network_at(ctx, r, ctx.pool)
  ctx.clock["search_s"] = time.perf_counter() - ctx.clock["t"]
  request = FitRequest(*ctx.learner.start(
      context.learner_state(ctx), context.round_key(ctx, r),
      warm=r > 0 and s.fit.warm_start and ctx.network is previous))
  ctx.clock["train_t"] = time.perf_counter()
  return request


def _acquire(ctx: RunContext, r: int) -> tuple[list, float]:
  """Scores the candidates, selects and labels (the learner's query and
  teach, the dataset's labels answering); returns the dataset indices
  acquired and the prediction time."""
  t0, state = time.perf_counter(), context.learner_state(ctx)
  key_r = context.round_key(ctx, r)
  candidates, inputs = ctx.learner.inputs(state, key_r)
  predict_s = time.perf_counter() - t0
  chosen = ctx.learner.select(state, ctx.settings.active.acquire, candidates,
                              inputs, key_r)
  faults.kill_point("scores")
  ctx.pool = ctx.learner.teach(
      state, chosen, np.asarray(ctx.task.ds.y_train)[chosen]).pool
  return chosen.tolist(), predict_s


def _complexity(ctx: RunContext, r: int, variables) -> dict:
  """Feature-space complexity of round r's network (`jaxdal.complexity`):
  penultimate features of a seeded sample of `initial` labeled examples
  (one size every round, so the estimates compare across rounds and
  nothing recompiles) and of a fixed seeded sample of pool candidates,
  each with its true labels (a measurement: selection never sees them)."""
  s, task = ctx.settings, ctx.task
  labeled = data_lib.sample(
      jax.random.fold_in(context.round_key(ctx, r), context.MEASURE),
      data_lib.labeled_indices(ctx.pool), s.active.initial,
      len(task.ds.y_train))
  out = {}
  for name, idx in (("labeled", labeled), ("pool", ctx.measured_pool)):
    feats = predict_lib.features(ctx.network.predictor, variables,
                                 task.x_train, idx)
    values = complexity.measures(feats, task.ds.y_train[idx],
                                 task.ds.num_classes)
    out[name] = {"n": len(idx), **{k: round(v, 6) if np.isfinite(v)
                                   else None for k, v in values.items()}}
  return out


class DivergenceError(ValueError):
  """A round's training loss stopped being finite."""


def _stop_diverged(ctx: RunContext, r: int, fit: train.FitResult) -> None:
  """Writes `failure.json` (why) and stops the run; the checkpoints of the
  rounds before r are kept, so nothing finished is lost."""
  failure = {"round": r, "reason": "diverged", "epoch": fit.epochs,
             "train_loss": str(fit.train_loss)}
  metrics.write_json(os.path.join(ctx.task.workdir, "failure.json"),
                     failure)
  kept = (f"the {r} finished rounds are kept and "
          f"{ctx.task.workdir}/failure.json says why" if r
          else "no round had finished, so no run is kept")
  raise DivergenceError(
      f"training diverged in round {r} (mean loss {fit.train_loss} in "
      f"epoch {fit.epochs}); {kept}; lower --learning_rate (with "
      f"--overwrite) or choose another --workdir")


def finish_round(ctx: RunContext, r: int, state: train.TrainState,
                 fit: train.FitResult) -> dict:
  """The second half of round r: test accuracy, acquisition (all but the
  last round), checkpoint and `metrics.jsonl`; returns the record."""
  s, net, clock = ctx.settings, ctx.network, ctx.clock
  if fit.stop_reason == "diverged":
    _stop_diverged(ctx, r, fit)
  ctx.state = state
  test_acc = ctx.learner.evaluate(context.learner_state(ctx), ctx.x_test,
                                  ctx.y_test, indices=ctx.test_idx)
  train_s = time.perf_counter() - clock["train_t"]
  labeled_count = int(ctx.pool.labeled.sum())
  variables = {"params": state.params, **state.model_state}
  t_measure = time.perf_counter()
  measured = (_complexity(ctx, r, variables)
              if s.active.complexity == "all" else None)
  t1 = time.perf_counter()
  selected, predict_s = None, 0.0
  if r < s.active.rounds - 1:
    selected, predict_s = _acquire(ctx, r)
  select_s = time.perf_counter() - t1 - predict_s if selected else 0.0
  record = {
      "round": r, "labeled": labeled_count, "test_accuracy": test_acc,
      "val_accuracy": fit.val_accuracy, "train_accuracy": fit.train_accuracy,
      "train_loss": round(fit.train_loss, 6),
      "epochs": fit.epochs, "steps": fit.steps,
      "stop_reason": fit.stop_reason, "acquired": selected,
      "architecture": net.method.architecture(variables),
      "time": {"train_s": round(train_s, 3), "predict_s": round(predict_s, 3),
               "select_s": round(select_s, 3),
               "search_s": round(clock["search_s"], 3),
               "complexity_s": round(t1 - t_measure, 3),
               "compilations": diagnostics.compilations() - clock["compiles"]},
  }
  if r in ctx.search_info:
    record["search"] = ctx.search_info[r]
  if measured is not None:
    record["complexity"] = measured
  ctx.records.append(record)
  ctx.ckpt.save(r, train_state=state, pool=ctx.pool, metrics=ctx.records,
                config=ctx.config)
  faults.kill_point("checkpoint_saved")
  context.write_records(ctx)
  for line in console.lines(record, ctx.describe):
    ctx.task.log(line)
  ctx.next_round = r + 1
  return record


def extend(ctx: RunContext) -> None:
  """A run resumed with more `rounds` than it was made with: makes the
  acquisition its last round skipped (a last round acquires nothing),
  exactly as an uninterrupted run with the larger `rounds` made it (same
  state, pool and round key)."""
  r = ctx.next_round - 1
  if not 0 <= r < ctx.settings.active.rounds - 1 or ctx.records[r][
      "acquired"] is not None:
    return
  t0 = time.perf_counter()
  selected, predict_s = _acquire(ctx, r)
  ctx.records[r] = {**ctx.records[r], "acquired": selected, "time": {
      **ctx.records[r]["time"], "predict_s": round(predict_s, 3),
      "select_s": round(time.perf_counter() - t0 - predict_s, 3)}}
  # The next round's checkpoint holds the new pool and record.
  context.write_records(ctx)
  ctx.task.log(f"round {r}: acquired {len(selected)} more examples for the "
               f"added rounds")


def run(settings: Settings, workdir: str, *, overwrite: bool = False,
        progress: bool = True, log: Callable[[str], None] = print,
        shared: str | None = None) -> list[dict]:
  """Runs (or resumes) an active-learning experiment in `workdir`.

  Args:
    settings: the run's definition.
    workdir: output folder (`config.json`, `metrics.jsonl`, `checkpoints/`,
      `figures/`). A folder holding the same config resumes from its latest
      checkpoint, and one with fewer `rounds` (but otherwise the same) is
      extended; a different config is refused unless `overwrite`.
    overwrite: replace whatever `workdir` holds.
    progress: show progress bars.
    log: where the per-round table goes.
    shared: a folder for results that runs differing only in their
      acquisition share (DeepCluster pretraining, which no acquisition
      changes): read from there when another run saved it, else computed
      and saved there too. A grid passes one folder to all its cells.

  Returns:
    The per-round metric records (as in `metrics.jsonl`).

  Raises:
    ValueError: a bad setting or a workdir conflict, before any file is
      written. `DatasetNotFoundError` for missing data, likewise.
  """
  if not sharding.is_writer():  # process 0 speaks for every process
    log, progress = (lambda line: None), False
  with open_run(settings, workdir, overwrite=overwrite, progress=progress,
                log=log, shared=shared) as ctx:
    extend(ctx)
    for r in range(ctx.next_round, settings.active.rounds):
      request = start_round(ctx, r)
      state, fit = train.fit(
          request.network.trainer, request.state, ctx.task.x_train,
          ctx.task.y_train, request.train_idx, request.val_idx, request.key,
          **modes.fit_kwargs(settings, progress))
      finish_round(ctx, r, state, fit)
  if sharding.is_writer():
    plots.learning_curve(workdir)
  return ctx.records


def __getattr__(name: str):
  # `loop.run_seeds` lives in `jaxdal.lockstep`, which builds on this
  # module (imported on first use: no import cycle).
  if name == "run_seeds":
    from jaxdal import lockstep
    return lockstep.run_seeds
  raise AttributeError(f"module 'jaxdal.loop' has no attribute {name!r}")
