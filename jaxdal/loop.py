"""The active-learning loop into a workdir: the only module that knows
what a round of an experiment program is.

Round r, in two halves over an immutable `RunContext`: `start_round` finds
the round's architecture (a cached search, for searching runs) and asks
the run's learner (`jaxdal.learning`) for what to train; the caller trains
it (alone: `network.fit`, an ensemble's members together; with other
seeds: `jaxdal.lockstep`);
`finish_round` evaluates, queries and teaches through the learner (the
dataset's labels answering) and hands the round to the run's recorder
(`jaxdal.recorder`: checkpoint, `metrics.jsonl`, console). Each returns
the next context. Keys are derived, never carried: round r uses
`fold_in(fold_in(key(seed), 1), r)` (`context.round_key`), so a run
resumed from its latest checkpoint reproduces the uninterrupted run
exactly.
"""

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from jaxdal import (
    calibration,
    complexity,
    context,
    diagnostics,
    faults,
    modes,
    network,
    plots,
    sharding,
    stopping_criteria,
    train,
)
from jaxdal import data as data_lib
from jaxdal import predict as predict_lib
from jaxdal.context import RunContext, open_run
from jaxdal.settings import Settings
from jaxdal.workdir import WorkdirError

__all__ = ["DivergenceError", "FitRequest", "RunContext", "Settings",
           "WorkdirError", "extend", "finish_round", "is_done", "open_run",
           "run", "start_round"]


class FitRequest(NamedTuple):
  """What a round asks to train: `network` from `state` on `train_idx`
  (stopping by `val_idx`) with `key`."""
  network: context.Network
  state: train.TrainState
  train_idx: np.ndarray
  val_idx: np.ndarray
  key: jax.Array


def start_round(ctx: RunContext, r: int) -> tuple[RunContext, FitRequest]:
  """The first half of round r: its architecture (searched if the mode
  says so) and fresh (or warm-started) state. Returns the context holding
  them and the `FitRequest`."""
  compiles, t = diagnostics.compilations(), time.perf_counter()
  before = ctx.learner_state
  now = before._replace(arch=context.architecture_at(ctx, r, before.pool))
  search_s = time.perf_counter() - t
  learner = ctx.learner
  warm = (r > 0 and ctx.settings.fit.warm_start
          and learner.network(now) is learner.network(before))
  request = FitRequest(*learner.start(now, context.round_key(ctx, r),
                                      warm=warm))
  return ctx.replace(learner_state=now, clock=context.Clock(
      compiles, t, search_s, time.perf_counter())), request


def _acquisition_pass(ctx: RunContext, r: int) -> tuple:
  """`(candidates, inputs, seconds)`: the learner's pass over the
  candidates (`Learner.inputs`) for round r's query."""
  t0 = time.perf_counter()
  candidates, inputs = ctx.learner.inputs(ctx.learner_state,
                                          context.round_key(ctx, r))
  return candidates, inputs, time.perf_counter() - t0


def _acquire(ctx: RunContext, r: int, scored: tuple,
             temperature: float | None = None
             ) -> tuple[RunContext, list, float]:
  """Selects from the acquisition pass `scored` and labels (the learner's
  select and teach, the dataset's labels answering); returns the context
  with the new pool, the dataset indices acquired and the prediction
  time. A `temperature` scales the probabilities the acquisition reads
  (`calibration.temperature_scaled`)."""
  state, key_r = ctx.learner_state, context.round_key(ctx, r)
  candidates, inputs, predict_s = scored
  if temperature is not None and inputs.get("probs") is not None:
    inputs = {**inputs, "probs": calibration.temperature_scaled(
        inputs["probs"], temperature)}
  chosen = ctx.learner.select(state, ctx.settings.active.acquire, candidates,
                              inputs, key_r)
  faults.kill_point("scores")
  taught = ctx.learner.teach(state, chosen,
                             np.asarray(ctx.task.ds.y_train)[chosen])
  return (ctx.replace(learner_state=state._replace(pool=taught.pool)),
          chosen.tolist(), predict_s)


def _complexity(ctx: RunContext, r: int, variables,
                scored: tuple | None = None) -> dict:
  """Feature-space complexity of round r's network (`jaxdal.complexity`):
  penultimate features of a seeded sample of `initial` labeled examples
  (one size every round, so the estimates compare across rounds and
  nothing recompiles) and of a fixed seeded sample of pool candidates,
  each with its true labels (a measurement: selection never sees them).
  Features the acquisition pass `scored` already holds (BADGE, coreset:
  every candidate's) are taken from it, not computed again."""
  s, task = ctx.settings, ctx.task
  labeled = data_lib.sample(
      jax.random.fold_in(context.round_key(ctx, r), context.MEASURE),
      data_lib.labeled_indices(ctx.pool), s.active.initial,
      len(task.ds.y_train))
  out = {}
  for name, idx in (("labeled", labeled), ("pool", ctx.measured_pool)):
    feats = _features_from(scored, idx)
    if feats is None:  # through the acquisition pass's program
      feats = predict_lib.features_for(ctx.learner.acquisition,
                                       ctx.network.predictor, variables,
                                       task.x_train, idx)
    values = complexity.measures(feats, task.ds.y_train[idx],
                                 task.ds.num_classes)
    out[name] = {"n": len(idx), **{k: round(v, 6) if np.isfinite(v)
                                   else None for k, v in values.items()}}
  return out


def _features_from(scored: tuple | None, idx: np.ndarray):
  """The rows `idx` of the acquisition pass's features, if it computed
  features for all of them; else None."""
  if scored is None or scored[1].get("features") is None:
    return None
  candidates, feats = scored[0], scored[1]["features"]
  pos = np.searchsorted(candidates, idx)
  if (pos >= len(candidates)).any() or (candidates[np.minimum(
      pos, len(candidates) - 1)] != idx).any():
    return None
  return feats[pos]


def _evaluate(ctx: RunContext) -> tuple[float, dict | None,
                                        float | None]:
  """`(test accuracy, calibration, temperature)` from one logits pass over
  the test split: ECE, NLL and Brier of its probabilities, and with
  `calibrate` "temperature" the temperature fitted on the validation
  split's logits (rounded as recorded, so a resumed run scales as the
  uninterrupted one did) with the scaled probabilities' scores."""
  learner, state = ctx.learner, ctx.learner_state
  if not len(ctx.test_idx):
    return float("nan"), None, None
  logits = learner.logits(state, ctx.x_test, indices=ctx.test_idx)
  y = np.asarray(ctx.y_test)[ctx.test_idx]
  accuracy = int(np.sum(logits.argmax(-1) == y)) / len(y)
  scores = calibration.scores(jax.nn.softmax(logits), y)
  temperature = None
  if ctx.settings.active.calibrate == "temperature":
    val_idx = ctx.task.val_idx
    val_logits = learner.logits(state, ctx.task.x_train, indices=val_idx)
    temperature = round(float(calibration.fit_temperature(
        val_logits, np.asarray(ctx.task.y_train)[val_idx])), 6)
    scores = {**scores, "temperature": temperature,
              "scaled": calibration.scores(
                  jax.nn.softmax(logits / temperature), y)}
  return accuracy, scores, temperature


def _stopping(ctx: RunContext) -> dict:
  """The round's stopping criteria on the run's fixed stop set
  (`stopping_criteria.round_record`), from the inference-mode logits of
  the test accuracy's pass (one compiled program every round; the
  acquisition's pass may be MC samples, and the last round has none)."""
  logits = ctx.learner.logits(ctx.learner_state, ctx.task.x_train,
                              indices=ctx.stop_set)
  return stopping_criteria.round_record(
      ctx.records, logits.argmax(-1), jax.nn.softmax(logits),
      ctx.task.ds.num_classes)


def is_done(ctx: RunContext) -> bool:
  """Every round ran, or a stopping criterion (`stop_when`) ended the
  run."""
  return (ctx.next_round >= ctx.settings.active.rounds
          or bool(ctx.records and ctx.records[-1].get("stopped_by")))


class DivergenceError(ValueError):
  """A round's training loss stopped being finite."""


def _stop_diverged(ctx: RunContext, r: int, fit: train.FitResult) -> None:
  """Writes `failure.json` (why) and stops the run; the checkpoints of the
  rounds before r are kept, so nothing finished is lost."""
  ctx.recorder.failure({"round": r, "reason": "diverged", "epoch":
                        fit.epochs, "train_loss": str(fit.train_loss)})
  kept = (f"the {r} finished rounds are kept and "
          f"{ctx.task.workdir}/failure.json says why" if r
          else "no round had finished, so no run is kept")
  raise DivergenceError(
      f"training diverged in round {r} (mean loss {fit.train_loss} in "
      f"epoch {fit.epochs}); {kept}; lower --learning_rate (with "
      f"--overwrite) or choose another --workdir")


def finish_round(ctx: RunContext, r: int, state: train.TrainState,
                 fit: train.FitResult) -> tuple[RunContext, dict]:
  """The second half of round r: test accuracy, acquisition (all but the
  last round), then the recorder's checkpoint, `metrics.jsonl` and table
  row. Returns the next round's context and the record."""
  s, clock = ctx.settings, ctx.clock
  if fit.stop_reason == "diverged":
    _stop_diverged(ctx, r, fit)
  ctx = ctx.replace(learner_state=ctx.learner_state._replace(train=state))
  net, arch = ctx.network, ctx.learner_state.arch
  test_acc, calibrated, temperature = _evaluate(ctx)
  train_s = time.perf_counter() - clock.train_t
  labeled_count = int(ctx.pool.labeled.sum())
  first = network.member(state, 0, net.members)  # an ensemble's member 0
  variables = {"params": first.params, **first.model_state}
  stopping = _stopping(ctx)
  stopped_by = (stopping_criteria.reason_to_stop(
      s.active.stop_when, {"labeled": labeled_count, "stopping": stopping},
      max_labels=s.active.max_labels) if s.active.stop_when != "none"
      else None)
  # One pass over the candidates serves the acquisition and, where it
  # computes features, the complexity measures.
  scored = (_acquisition_pass(ctx, r)
            if r < s.active.rounds - 1 and stopped_by is None else None)
  t_measure = time.perf_counter()
  measured = (_complexity(ctx, r, variables, scored)
              if s.active.complexity == "all" else None)
  t1 = time.perf_counter()
  selected, predict_s = None, 0.0
  if scored is not None:
    ctx, selected, predict_s = _acquire(ctx, r, scored, temperature)
  select_s = time.perf_counter() - t1 if selected else 0.0
  record = {
      "round": r, "labeled": labeled_count, "test_accuracy": test_acc,
      "val_accuracy": fit.val_accuracy, "train_accuracy": fit.train_accuracy,
      "train_loss": round(fit.train_loss, 6),
      "epochs": fit.epochs, "steps": fit.steps,
      "stop_reason": fit.stop_reason, "acquired": selected,
      "architecture": net.method.architecture(variables),
      "time": {"train_s": round(train_s, 3), "predict_s": round(predict_s, 3),
               "select_s": round(select_s, 3),
               "search_s": round(clock.search_s, 3),
               "complexity_s": round(t1 - t_measure, 3),
               "compilations": diagnostics.compilations() - clock.compiles},
  }
  if arch is not None:
    record["search"] = ctx.method.info(arch.found)
  if measured is not None:
    record["complexity"] = measured
  record["calibration"] = calibrated
  record["stopping"] = stopping
  if stopped_by is not None:
    record["stopped_by"] = stopped_by
    ctx.task.log(f"stopped after round {r}: {stopped_by}")
  record["host"] = ctx.recorder.host
  records = (*ctx.records, record)
  ctx.recorder.round(r, records, train_state=state, pool=ctx.pool)
  return ctx.replace(records=records, next_round=r + 1, clock=None), record


def extend(ctx: RunContext) -> RunContext:
  """A run resumed with more `rounds` than it was made with: makes the
  acquisition its last round skipped (a last round acquires nothing),
  exactly as an uninterrupted run with the larger `rounds` made it (same
  state, pool and round key)."""
  r = ctx.next_round - 1
  if not 0 <= r < ctx.settings.active.rounds - 1 or ctx.records[r][
      "acquired"] is not None or is_done(ctx):
    return ctx
  t0 = time.perf_counter()
  temperature = (ctx.records[r].get("calibration") or {}).get("temperature")
  ctx, selected, predict_s = _acquire(ctx, r, _acquisition_pass(ctx, r),
                                      temperature)
  records = list(ctx.records)
  records[r] = {**records[r], "acquired": selected, "time": {
      **records[r]["time"], "predict_s": round(predict_s, 3),
      "select_s": round(time.perf_counter() - t0 - predict_s, 3)}}
  ctx = ctx.replace(records=tuple(records))
  # The next round's checkpoint holds the new pool and record.
  ctx.recorder.write(ctx.records)
  ctx.task.log(f"round {r}: acquired {len(selected)} more examples for the "
               f"added rounds")
  return ctx


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
    ctx = extend(ctx)
    while not is_done(ctx):
      r = ctx.next_round
      ctx, request = start_round(ctx, r)
      state, fit = network.fit(
          request.network, request.state, ctx.task.x_train,
          ctx.task.y_train, request.train_idx, request.val_idx, request.key,
          **modes.fit_kwargs(settings, progress))
      ctx, _ = finish_round(ctx, r, state, fit)
  if sharding.is_writer():
    plots.learning_curve(workdir)
  return list(ctx.records)


def __getattr__(name: str):
  # `loop.run_seeds` lives in `jaxdal.lockstep`, which builds on this
  # module (imported on first use: no import cycle).
  if name in ("run_seeds", "run_cells"):
    from jaxdal import lockstep
    return getattr(lockstep, name)
  raise AttributeError(f"module 'jaxdal.loop' has no attribute {name!r}")
