"""The active-learning loop: the only module that knows what a round is.

Round r, in two halves over an explicit `RunContext`:
`start_round` builds (or searches) the round's network and its fresh state
and returns what to train; the caller trains it (alone: `train.fit`; with
other seeds: `train.fit_group`); `finish_round` evaluates on the test
split, scores the pool, acquires, checkpoints and writes `metrics.jsonl`.
Keys are derived, never carried: round r uses
`fold_in(fold_in(key(seed), 1), r)`, so a run resumed from its latest
checkpoint reproduces the uninterrupted run exactly.
"""

import contextlib
import os
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from jaxdal import (
    acquisition,
    complexity,
    console,
    context,
    diagnostics,
    faults,
    metrics,
    modes,
    plots,
    seeds,
    sharding,
    train,
)
from jaxdal import data as data_lib
from jaxdal import predict as predict_lib
from jaxdal.context import RunContext, open_run
from jaxdal.settings import Settings
from jaxdal.workdir import WorkdirError

__all__ = ["FitRequest", "RunContext", "Settings", "DivergenceError",
           "WorkdirError",
           "finish_round", "open_run", "run", "run_seeds", "start_round"]


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
  key_r = jax.random.fold_in(ctx.rounds_root, r)
  previous, ctx.network = ctx.network, context.network_at(ctx, r, ctx.pool)
  ctx.clock["search_s"] = time.perf_counter() - ctx.clock["t"]
  net = ctx.network
  if r > 0 and s.fit.warm_start and net is previous:
    state = ctx.state._replace(opt_state=net.tx.init(ctx.state.params))
  else:
    state = modes.initial_state(net.method, net.tx,
                                jax.random.fold_in(key_r, context.INIT),
                                ctx.task.ds.input_shape, ctx.start)
  ctx.clock["train_t"] = time.perf_counter()
  return FitRequest(net, state, data_lib.labeled_indices(ctx.pool),
                    ctx.task.val_idx, jax.random.fold_in(key_r, context.TRAIN))


def query_candidates(candidates: np.ndarray, available: np.ndarray,
                     size: int | None, key: jax.Array) -> np.ndarray:
  """The candidates scored before a query: all of them (`size` None), or
  the labeled ones (coreset's centres) and a fresh random sample of `size`
  unlabeled ones, drawn from `key`.

  Args:
    candidates: int `[P]` dataset indices of the run's candidates.
    available: bool `[P]`, which of them are still unlabeled.
    size: Q, or None.
    key: the draw's key.

  Returns:
    int dataset indices, ascending.
  """
  available = np.asarray(available)
  if size is None or size >= available.sum():
    return candidates
  pool = candidates[available]
  drawn = np.asarray(jax.random.choice(key, len(pool), (size,),
                                       replace=False))
  return np.sort(np.concatenate([candidates[~available], pool[drawn]]))


def _acquire(ctx: RunContext, r: int, variables) -> tuple[list, float]:
  """Scores the candidates, selects and labels; returns the dataset
  indices acquired and the prediction time."""
  s, t0 = ctx.settings, time.perf_counter()
  key_r = jax.random.fold_in(ctx.rounds_root, r)
  candidates = query_candidates(
      ctx.candidates, np.asarray(data_lib.available(ctx.pool))[
          ctx.candidates], s.active.query_pool,
      jax.random.fold_in(key_r, context.QUERY_POOL))
  inputs = predict_lib.acquisition_inputs(
      ctx.acq, ctx.network.predictor, variables, ctx.task.x_train,
      jax.random.fold_in(key_r, context.PREDICT), candidates)
  predict_s = time.perf_counter() - t0
  avail = data_lib.available(ctx.pool)[candidates]
  acquisition.check_budget(s.active.acquire, avail)
  local = ctx.select(jax.random.fold_in(key_r, context.SELECT),
                     s.active.acquire, avail,
                     labeled=ctx.pool.labeled[candidates], **inputs)
  # The one place candidate positions become dataset indices.
  chosen = candidates[np.asarray(local)]
  faults.kill_point("scores")
  ctx.pool = data_lib.acquire(ctx.pool, chosen)
  return chosen.tolist(), predict_s


def _complexity(ctx: RunContext, r: int, variables) -> dict:
  """Feature-space complexity of round r's network (`jaxdal.complexity`):
  penultimate features of a seeded sample of `initial` labeled examples
  (one size every round, so the estimates compare across rounds and
  nothing recompiles) and of a fixed seeded sample of pool candidates,
  each with its true labels (a measurement: selection never sees them)."""
  s, task = ctx.settings, ctx.task
  labeled = data_lib.sample(
      jax.random.fold_in(jax.random.fold_in(ctx.rounds_root, r),
                         context.MEASURE),
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
  test_acc = train.evaluate(net.trainer, state, ctx.x_test, ctx.y_test,
                            ctx.test_idx)
  train_s = time.perf_counter() - clock["train_t"]
  labeled_count = int(ctx.pool.labeled.sum())
  variables = {"params": state.params, **state.model_state}
  t_measure = time.perf_counter()
  measured = (_complexity(ctx, r, variables)
              if s.active.complexity == "all" else None)
  t1 = time.perf_counter()
  selected, predict_s = None, 0.0
  if r < s.active.rounds - 1:
    selected, predict_s = _acquire(ctx, r, variables)
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


def _extend(ctx: RunContext) -> None:
  """A run resumed with more `rounds` than it was made with: makes the
  acquisition its last round skipped (a last round acquires nothing),
  exactly as an uninterrupted run with the larger `rounds` made it (same
  state, pool and round key)."""
  r = ctx.next_round - 1
  if not 0 <= r < ctx.settings.active.rounds - 1 or ctx.records[r][
      "acquired"] is not None:
    return
  t0 = time.perf_counter()
  selected, predict_s = _acquire(
      ctx, r, {"params": ctx.state.params, **ctx.state.model_state})
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
    _extend(ctx)
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


def run_seeds(settings: list[Settings], workdirs: list[str], *,
              overwrite: bool = False, progress: bool = True,
              log: Callable[[str], None] = print) -> list[list[dict]]:
  """Runs several seeds of one configuration in lockstep, training them
  together: one `jax.vmap`-ed step over the seeds' stacked train states.

  Each seed keeps its own workdir, keys, pool, stopping rule and
  checkpoints, and gets the records `run(settings[i], workdirs[i])` would
  give, up to floating-point rounding (batched dense layers round
  differently; long trainings can amplify the difference). Seeds whose
  rounds train different networks (PDARTS searches) or different numbers
  of examples (a seed run alone before, rounds ahead of the others) train
  one by one. A run killed between the seeds' checkpoints of a round
  resumes with that round trained again together, so it equals the
  uninterrupted run exactly (`_align`).

  Raises:
    ValueError: settings that differ in more than the seed; otherwise as
      `run`.
  """
  if len(settings) != len(workdirs) or not settings:
    raise ValueError(f"need one workdir per seed, got {len(settings)} "
                     f"settings and {len(workdirs)} workdirs")
  first = {**settings[0].to_dict(), "seed": None}
  for s in settings[1:]:
    other = {**s.to_dict(), "seed": None}
    if other != first:
      changed = sorted(k for k in first if first[k] != other[k])
      raise ValueError(f"run_seeds needs settings equal but for the seed; "
                       f"they differ in {', '.join(changed)}")
  rounds = settings[0].active.rounds
  steppers: dict = {}
  with contextlib.ExitStack() as stack:
    tags = [f"seed {s.active.seed}: " if len(settings) > 1 else ""
            for s in settings]
    contexts = [stack.enter_context(open_run(
        s, w, overwrite=overwrite, progress=progress,
        log=lambda line, tag=tag: log(tag + line)))
        for s, w, tag in zip(settings, workdirs, tags, strict=True)]
    _align(contexts)
    for ctx in contexts:
      _extend(ctx)
    while live := [c for c in contexts if c.next_round < rounds]:
      requests = [start_round(c, c.next_round) for c in live]
      answers = _fit_wave(live, requests, steppers, progress)
      for ctx, (state, fit) in zip(live, answers, strict=True):
        finish_round(ctx, ctx.next_round, state, fit)
  for w in workdirs:
    plots.learning_curve(w)
  return [c.records for c in contexts]


def _align(contexts: list[RunContext]) -> None:
  """Seeds trained together resume together. A run cut between the seeds'
  checkpoints of one round leaves some seeds a round ahead: they go back a
  round, so that round trains again in one vmapped group, exactly as it
  did uninterrupted (alone, it would round differently). Seeds further
  apart (run separately before) are left as they are."""
  behind = min(c.next_round for c in contexts)
  for ctx in contexts:
    if ctx.next_round == behind + 1 and (behind == 0 or
                                         behind - 1 in ctx.ckpt.rounds()):
      asides = context.rewind(ctx, behind - 1)
      ctx.task.log(f"round {behind} goes again, together with the seeds "
                   f"that had not finished it (its checkpoint moved to "
                   f"{', '.join(asides)})")


def _fit_wave(contexts: list[RunContext], requests: list[FitRequest],
              steppers: dict, progress: bool) -> list:
  """Answers a wave of fit requests: those with the same network and data
  sizes train together in one vmapped `fit_group`, the others alone."""
  groups: dict = {}
  for i, r in enumerate(requests):
    groups.setdefault((r.network.method.model, len(r.train_idx),
                       len(r.val_idx)), []).append(i)
  task, answers = contexts[0].task, [None] * len(requests)
  kwargs = modes.fit_kwargs(task.settings, progress)
  for members in groups.values():
    first = requests[members[0]].network
    if len(members) == 1:
      stepper = train.one_seed(first.trainer)
    else:
      stepper = steppers.setdefault(id(first), seeds.together(
          first.method.model, first.tx, first.method.loss,
          augment=task.settings.fit.augment))
    fitted = train.fit_group(
        stepper, [requests[i].state for i in members], task.x_train,
        task.y_train, [requests[i].train_idx for i in members],
        [requests[i].val_idx for i in members],
        [requests[i].key for i in members], **kwargs)
    for i, answer in zip(members, fitted, strict=True):
      answers[i] = answer
  return answers
