"""A run between its rounds: the `RunContext` (data, pool, keys, networks,
records, checkpointer) and how it is opened: settings checked, data
loaded, workdir prepared, pre-optimisation done (cached), latest round
restored. `jaxdal.loop` runs the rounds over it.
"""

import contextlib
import dataclasses
import json
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import (
  archopt,
  checkpoint,
  console,
  data,
  learning,
  models,
  modes,
  sharding,
  train,
)
from jaxdal import plan as plan_lib
from jaxdal import workdir as workdir_lib
from jaxdal.data import fingerprint as data_fingerprint
from jaxdal.network import Network
from jaxdal.recorder import Recorder
from jaxdal.settings import Settings
from jaxdal.state import (  # the sub-streams of a round key
  INIT,
  MEASURE,
  PREDICT,
  QUERY_POOL,
  SEARCH,
  SELECT,
  TRAIN,
  Architecture,
  LearnerState,
)

__all__ = ["INIT", "MEASURE", "MEASURED_POOL", "PREDICT", "QUERY_POOL",
           "SEARCH", "SELECT", "TRAIN", "Clock", "Network", "RunContext",
           "architecture_at", "open_run", "rewind", "round_key"]

# Sub-streams of the run key.
_POOL, _ROUNDS, _PRETRAIN, _MEASURE_POOL, _STOP_SET = 0, 1, 2, 3, 4
# Pool examples whose features' complexity every round records.
MEASURED_POOL = 2000


class Clock(NamedTuple):
  """When a round started: compilations so far, its start, its search's
  seconds and when its training began (`time.perf_counter`)."""
  compiles: int
  t: float
  search_s: float
  train_t: float


@dataclasses.dataclass(frozen=True)
class RunContext:
  """One run (one seed) between rounds, immutable: the round functions
  (`jaxdal.loop`) return a new one. What stays: the run's data, method,
  learner, recorder and keys; what moves: `learner_state` (train state,
  pool, architecture), `records`, `next_round` (the round `start_round`
  takes next) and the round's `clock`."""
  task: modes.Task
  method: archopt.Method | archopt.SearchMethod
  describe: Callable
  learner: learning.Learner  # the round's steps
  recorder: Recorder
  initial_pool: data.PoolState
  x_test: jax.Array
  y_test: jax.Array
  test_idx: np.ndarray
  candidates: np.ndarray  # predictions cover this fixed set: fixed shapes
  measured_pool: np.ndarray | None  # fixed sample of candidates (complexity)
  stop_set: np.ndarray  # fixed sample of candidates (stopping criteria)
  rounds_root: jax.Array
  pretrain_key: jax.Array
  learner_state: LearnerState
  start: modes.Start = modes.Start()
  records: tuple = ()
  next_round: int = 0
  clock: Clock | None = None

  @property
  def settings(self) -> Settings:
    return self.task.settings

  @property
  def pool(self) -> data.PoolState:
    return self.learner_state.pool

  @property
  def state(self) -> train.TrainState | None:
    return self.learner_state.train

  @property
  def network(self) -> Network:
    """The network of the state's architecture (the learner keeps one per
    architecture, so rounds that train it again reuse its compiled
    steps)."""
    return self.learner.network(self.learner_state)

  @property
  def ckpt(self) -> checkpoint.RoundCheckpointer:
    return self.recorder.ckpt

  def replace(self, **changes) -> "RunContext":
    return dataclasses.replace(self, **changes)


def architecture_at(ctx: RunContext, r: int, pool_r: data.PoolState
                    ) -> Architecture | None:
  """What round r's network was found by (a search, cached in the
  workdir), or None for a run that does not search."""
  if not modes.searches(ctx.settings, ctx.method):
    return None
  found = modes.found_architecture(
      ctx.task, ctx.method, r, pool_r, ctx.initial_pool,
      jax.random.fold_in(round_key(ctx, r), SEARCH),
      ctx.pretrain_key, ctx.describe)
  return Architecture(json.dumps(found))


def _open_pool(s: Settings, ds: data.Dataset):
  """The run key and its pool: the class-balanced initial set, the
  validation split and the candidates (checked to last the rounds)."""
  run_key = jax.random.key(s.active.seed)
  pool = data.init_pool(jax.random.fold_in(run_key, _POOL), ds.y_train,
                        initial=s.active.initial,
                        val_fraction=s.data.val_fraction,
                        val_size=s.data.val_size, pool_size=s.data.pool_size,
                        num_classes=ds.num_classes)
  n_available = int(data.available(pool).sum())
  needed = s.active.acquire * (s.active.rounds - 1)
  if needed > n_available:
    raise ValueError(
        f"{s.active.rounds - 1} acquisitions of {s.active.acquire} need "
        f"{needed} pool examples but the pool holds {n_available}; lower "
        f"--acquire or --rounds")
  return pool, run_key


@contextlib.contextmanager
def open_run(s: Settings, workdir: str, *, overwrite: bool = False,
             progress: bool = True, log: Callable[[str], None] = print,
             shared: str | None = None):
  """Makes the run's plan (`jaxdal.plan`: checks `s`, loads the data,
  builds the method), prepares `workdir`, pre-optimises (cached) and
  resumes from the latest checkpoint; yields the `RunContext`.

  Nothing is written before every check passed; a failure before the first
  checkpoint removes a workdir this call created. `shared`: as `loop.run`.
  """
  plan = plan_lib.make(s)  # the settings' one pass: checked, built once
  ds = plan.dataset
  if not modes.searches(s, plan.method):  # compiled while the rest opens
    train.warm_init(modes.network(plan.method).model, ds.input_shape)
  pool, run_key = _open_pool(s, ds)
  # The arrays behind the dataset's name too: a resume on changed data is
  # refused (`workdir.prepare`).
  config = {**s.to_dict(),
            data_fingerprint.KEY: data_fingerprint.fingerprint(ds)}
  # Process 0 checks, writes and locks the workdir; the others use it after.
  created, lock = False, None
  if sharding.is_writer():
    created, lock = workdir_lib.prepare_locked(
        workdir, config, overwrite=overwrite, defaults=Settings().to_dict(),
        log=log)
  sharding.barrier("workdir prepared")
  with contextlib.ExitStack() as held, \
      workdir_lib.removed_on_failure(workdir, created), \
      contextlib.closing(checkpoint.RoundCheckpointer(
          os.path.join(workdir, "checkpoints"))) as ckpt:
    if lock is not None:  # released last, once every write is done
      held.callback(lock.release)
    x_train, y_train = sharding.replicated((jnp.asarray(ds.x_train),
                                            jnp.asarray(ds.y_train)))
    task = modes.Task(s, ds, plan.method, x_train, y_train,
                      np.flatnonzero(np.asarray(pool.validation)), workdir,
                      progress, log, shared)
    rounds_root = jax.random.fold_in(run_key, _ROUNDS)
    pretrain_key = jax.random.fold_in(run_key, _PRETRAIN)
    start = modes.starting_weights(task, pool, pretrain_key)
    ctx = RunContext(
        task=task, method=plan.method, describe=plan.describe,
        learner=_learner(plan, task, start),
        recorder=Recorder(workdir, ckpt, config, log, plan.describe),
        initial_pool=pool,
        x_test=sharding.replicated(jnp.asarray(ds.x_test)),
        y_test=sharding.replicated(jnp.asarray(ds.y_test)),
        test_idx=data.test_indices(len(ds.y_test), s.data.test_size),
        candidates=np.flatnonzero(np.asarray(pool.candidate)),
        # Drawn only for runs that measure (a draw compiles: start-up).
        measured_pool=(data.sample(
            jax.random.fold_in(run_key, _MEASURE_POOL),
            np.flatnonzero(np.asarray(pool.candidate)), MEASURED_POOL,
            len(ds.y_train)) if s.active.complexity == "all" else None),
        stop_set=data.sample(
            jax.random.fold_in(run_key, _STOP_SET),
            np.flatnonzero(np.asarray(pool.candidate)), s.active.stop_set,
            len(ds.y_train)),
        rounds_root=rounds_root, pretrain_key=pretrain_key,
        # The dataset's labels play the annotator: the taught labels are
        # the true ones.
        learner_state=LearnerState(None, pool, y_train, rounds_root),
        start=start)
    yield _resume(ctx)


def _learner(plan: plan_lib.Plan, task: modes.Task, start: modes.Start
             ) -> learning.Learner:
  """The run's learner: the round's steps over the training set; a
  searching run sets each round's architecture in its state
  (`architecture_at`)."""
  s = plan.settings
  return learning.learner(
      plan.method, None, task.x_train, acquisition=plan.acquisition,
      learning_rate=s.fit.learning_rate, schedule=s.fit.schedule,
      batch_size=s.fit.batch_size, max_epochs=s.fit.max_epochs,
      patience=s.fit.patience,
      target_train_accuracy=s.fit.target_train_accuracy,
      mc_samples=s.active.mc_samples, chunk=s.active.chunk,
      query_pool=s.active.query_pool, augment=s.fit.augment,
      warm_start=s.fit.warm_start, start=start, ensemble=s.fit.ensemble,
      train_arch=s.arch.mode == "joint" and s.arch.train_arch,
      search=modes.searches(s, plan.method), progress=task.progress)


def round_key(ctx: RunContext, r: int) -> jax.Array:
  """Round r's key (`learning.key_of_round` of the run's rounds root)."""
  return learning.key_of_round(ctx.rounds_root, r)


def _restore(ctx: RunContext, r: int) -> RunContext:
  """`ctx` with round r's state, pool, architecture and records."""
  # The pool of round r is needed to find its architecture: the searches
  # are cached in the workdir, so this reads, not searches.
  pool_r = ctx.ckpt.restore_pool(r, ctx.pool)
  arch = architecture_at(ctx, r, modes.pool_before(pool_r, r))
  network = ctx.learner.network(ctx.learner_state._replace(arch=arch))
  like = modes.initial_state(network.method, network.tx, jax.random.key(0),
                             ctx.task.ds.input_shape, ctx.start,
                             members=network.members)
  state, pool, records, _ = ctx.ckpt.restore(
      r, train_state_like=like, pool_like=ctx.pool)
  if len(records) < r + 1:
    raise ValueError(f"round {r}'s checkpoint holds {len(records)} records")
  return ctx.replace(
      learner_state=ctx.learner_state._replace(train=state, pool=pool,
                                               arch=arch),
      records=tuple(records[: r + 1]), next_round=r + 1)


def rewind(ctx: RunContext, r: int) -> tuple[RunContext, list[str]]:
  """`ctx` taken back to just after round r (-1: before round 0), to train
  the later rounds again, and where their checkpoints went: they are moved
  to `<workdir>/replaced/` (never deleted)."""
  asides = [ctx.ckpt.set_aside(newer, "replaced")
            for newer in ctx.ckpt.rounds() if newer > r]
  if r >= 0:
    ctx = _restore(ctx, r)
  else:
    ctx = ctx.replace(learner_state=ctx.learner_state._replace(
        train=None, pool=ctx.initial_pool, arch=None), records=(),
                      next_round=0)
  ctx.recorder.write(ctx.records)
  return ctx, asides


def _resume(ctx: RunContext) -> RunContext:
  """`ctx` at the newest readable round, if any, with the table so far
  printed. An unreadable round (a truncated or emptied file) is moved
  aside with a one-line warning and the round before it is used."""
  log = ctx.task.log
  for r, aside in ctx.ckpt.set_aside_at_open:
    log(f"warning: the checkpoint of round {r} is unreadable (its "
        f"metrics); moved it to {aside} and went back to the round before")
  for r in reversed(ctx.ckpt.rounds()):
    try:
      resumed = _restore(ctx, r)
    except Exception as e:  # noqa: BLE001 - whatever a damaged file raises
      aside = ctx.ckpt.set_aside(r)
      log(f"warning: the checkpoint of round {r} is unreadable "
          f"({type(e).__name__}); moved it to {aside} and went back to "
          f"the round before")
      continue
    log(f"resuming {ctx.task.workdir} after round {r}")
    ctx = resumed
    break
  ctx.recorder.write(ctx.records)
  s = ctx.settings
  ctx.recorder.table(console.network_line(
      *((s.arch.method, archopt.get(s.arch.method).make, s.arch.method_kwargs)
        if s.arch.method else
        (s.arch.backbone, models.get(s.arch.backbone),
         s.arch.backbone_kwargs))), ctx.records)
  return ctx
