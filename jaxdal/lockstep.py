"""Several seeds of one configuration in lockstep: each round, the seeds'
networks train together in one `jax.vmap`-ed step over their stacked train
states (`jaxdal.seeds.together`), while each seed keeps its own workdir,
keys, pool, stopping rule and checkpoints (`jaxdal.loop`'s two round
halves).
"""

import contextlib
from collections.abc import Callable

from jaxdal import context, modes, plots, seeds, train
from jaxdal.context import RunContext, open_run
from jaxdal.loop import (
    FitRequest,
    extend,
    finish_round,
    is_done,
    start_round,
)
from jaxdal.settings import Settings

__all__ = ["VARIES", "run_cells", "run_seeds"]

# What the cells `run_cells` trains together may differ in.
VARIES = ("seed", "acquisition")


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
  return _lockstep(settings, workdirs, ("seed",), overwrite=overwrite,
                   progress=progress, log=log)


def run_cells(settings: list[Settings], workdirs: list[str], *,
              overwrite: bool = False, progress: bool = True,
              log: Callable[[str], None] = print,
              shared: str | None = None) -> list[list[dict]]:
  """`run_seeds` for the cells of a grid that differ in their seed and
  their acquisition (`VARIES`): one network, and after round 0 labeled
  sets of one size, so each round's cells train as one vmapped step
  (a grid row, e.g. 6 acquisitions x 3 seeds, as one training). Each cell
  keeps its workdir, keys, pool, stopping rule and checkpoints, and gets
  `run(settings[i], workdirs[i], shared=shared)`'s records up to the
  rounding of batched layers, as for seeds; a kill resumes as for seeds.

  Raises:
    ValueError: settings that differ in more than the seed and the
      acquisition; otherwise as `run`.
  """
  return _lockstep(settings, workdirs, VARIES, overwrite=overwrite,
                   progress=progress, log=log, shared=shared)


def _lockstep(settings, workdirs, varies, *, overwrite, progress, log,
              shared=None) -> list[list[dict]]:
  what = "seed" if varies == ("seed",) else "cell"
  if len(settings) != len(workdirs) or not settings:
    raise ValueError(f"need one workdir per {what}, got {len(settings)} "
                     f"settings and {len(workdirs)} workdirs")
  first = {**settings[0].to_dict(), **dict.fromkeys(varies)}
  for s in settings[1:]:
    other = {**s.to_dict(), **dict.fromkeys(varies)}
    if other != first:
      changed = sorted(k for k in first if first[k] != other[k])
      raise ValueError(f"run_{what}s needs settings equal but for the "
                       f"{' and '.join(varies)}; they differ in "
                       f"{', '.join(changed)}")
  if settings[0].fit.ensemble > 1:
    raise ValueError(f"run_{what}s trains one network per {what}; "
                     f"--ensemble {settings[0].fit.ensemble} trains its "
                     f"members together already: run the {what}s one by one")
  steppers: dict = {}
  with contextlib.ExitStack() as stack:
    tags = [(f"seed {s.active.seed}: " if what == "seed" else
             f"{s.active.acquisition} seed {s.active.seed}: ")
            if len(settings) > 1 else "" for s in settings]
    contexts = [stack.enter_context(open_run(
        s, w, overwrite=overwrite, progress=progress, shared=shared,
        log=lambda line, tag=tag: log(tag + line)))
        for s, w, tag in zip(settings, workdirs, tags, strict=True)]
    contexts = [extend(c) for c in _align(contexts)]
    while live := [i for i, c in enumerate(contexts) if not is_done(c)]:
      started = [start_round(contexts[i], contexts[i].next_round)
                 for i in live]
      for i, (ctx, _) in zip(live, started, strict=True):
        contexts[i] = ctx
      answers = _fit_wave([contexts[i] for i in live],
                          [request for _, request in started], steppers,
                          progress)
      for i, (state, fit) in zip(live, answers, strict=True):
        contexts[i], _ = finish_round(contexts[i], contexts[i].next_round,
                                      state, fit)
  for w in workdirs:
    plots.learning_curve(w)
  return [list(c.records) for c in contexts]


def _align(contexts: list[RunContext]) -> list[RunContext]:
  """Seeds trained together resume together. A run cut between the seeds'
  checkpoints of one round leaves some seeds a round ahead: they go back a
  round, so that round trains again in one vmapped group, exactly as it
  did uninterrupted (alone, it would round differently). Seeds further
  apart (run separately before) are left as they are."""
  behind = min(c.next_round for c in contexts)
  aligned = []
  for ctx in contexts:
    if ctx.next_round == behind + 1 and (behind == 0 or
                                         behind - 1 in ctx.ckpt.rounds()):
      ctx, asides = context.rewind(ctx, behind - 1)
      ctx.task.log(f"round {behind} goes again, together with the seeds "
                   f"that had not finished it (its checkpoint moved to "
                   f"{', '.join(asides)})")
    aligned.append(ctx)
  return aligned


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
