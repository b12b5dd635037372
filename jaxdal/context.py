"""A run between its rounds: the `RunContext` (data, pool, keys, networks,
records, checkpointer) and how it is opened: settings checked, data
loaded, workdir prepared, pre-optimisation done (cached), latest round
restored. `jaxdal.loop` runs the rounds over it.
"""

import contextlib
import dataclasses
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import (
  acquisition,
  archopt,
  checkpoint,
  console,
  data,
  learning,
  metrics,
  models,
  modes,
  sharding,
  train,
)
from jaxdal import plan as plan_lib
from jaxdal import workdir as workdir_lib
from jaxdal.data import fingerprint as data_fingerprint
from jaxdal.learning import (  # the sub-streams of a round key
  INIT,
  MEASURE,
  PREDICT,
  QUERY_POOL,
  SEARCH,
  SELECT,
  TRAIN,
)
from jaxdal.network import Network
from jaxdal.settings import Settings

__all__ = ["INIT", "MEASURE", "MEASURED_POOL", "PREDICT", "QUERY_POOL",
           "SEARCH", "SELECT", "TRAIN", "Network", "RunContext",
           "learner_state", "network_at", "network_for", "open_run", "rewind",
           "round_key", "write_records"]

# Sub-streams of the run key.
_POOL, _ROUNDS, _PRETRAIN, _MEASURE_POOL = 0, 1, 2, 3
# Pool examples whose features' complexity every round records.
MEASURED_POOL = 2000


@dataclasses.dataclass
class RunContext:
  """One run (one seed) between rounds: its data, pool, keys, networks,
  records and checkpointer. `next_round` is the round `start_round` takes
  next."""
  task: modes.Task
  method: archopt.Method | archopt.SearchMethod
  describe: Callable
  acq: acquisition.Acquisition
  ckpt: checkpoint.RoundCheckpointer
  config: dict
  pool: data.PoolState
  initial_pool: data.PoolState
  x_test: jax.Array
  y_test: jax.Array
  test_idx: np.ndarray
  candidates: np.ndarray  # predictions cover this fixed set: fixed shapes
  measured_pool: np.ndarray | None  # fixed sample of candidates (complexity)
  rounds_root: jax.Array
  pretrain_key: jax.Array
  start: modes.Start = modes.Start()
  networks: dict = dataclasses.field(default_factory=dict)
  records: list = dataclasses.field(default_factory=list)
  search_info: dict = dataclasses.field(default_factory=dict)
  state: train.TrainState | None = None
  network: Network | None = None
  next_round: int = 0
  clock: dict = dataclasses.field(default_factory=dict)
  learner: learning.Learner | None = None  # the round's steps

  @property
  def settings(self) -> Settings:
    return self.task.settings


def network_for(ctx: RunContext, method: archopt.Method, tag: str
                ) -> Network:
  """`method`'s `Network`, built on first use and kept under `tag` (the
  architecture's identity), so rounds that train it again reuse its
  compiled steps."""
  if tag not in ctx.networks:
    s = ctx.settings
    train_arch = s.arch.mode == "joint" and s.arch.train_arch
    tx = method.optimizer(s.fit.learning_rate, train_arch=train_arch)
    ctx.networks[tag] = learning.make_network(
        method, tx, ctx.acq, mc_samples=s.active.mc_samples,
        chunk=s.active.chunk, augment=s.fit.augment)
  return ctx.networks[tag]


def network_at(ctx: RunContext, r: int, pool_r: data.PoolState) -> Network:
  """The network trained in round r (searching for it if needed)."""
  if not modes.searches(ctx.settings, ctx.method):
    return network_for(ctx, modes.network(ctx.method), "")
  found = modes.found_architecture(
      ctx.task, ctx.method, r, pool_r, ctx.initial_pool,
      jax.random.fold_in(round_key(ctx, r), SEARCH),
      ctx.pretrain_key, ctx.describe)
  ctx.search_info[r] = ctx.method.info(found)
  return network_for(ctx, ctx.method.adopt(found),
                     ctx.method.identity(found))


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
    acq = plan.acquisition
    task = modes.Task(s, ds, plan.method,
                      *sharding.replicated((jnp.asarray(ds.x_train),
                                            jnp.asarray(ds.y_train))),
                      np.flatnonzero(np.asarray(pool.validation)), workdir,
                      progress, log, shared)
    ctx = RunContext(
        task=task, method=plan.method, describe=plan.describe, acq=acq,
        ckpt=ckpt,
        config=config, pool=pool, initial_pool=pool,
        x_test=sharding.replicated(jnp.asarray(ds.x_test)),
        y_test=sharding.replicated(jnp.asarray(ds.y_test)),
        test_idx=data.test_indices(len(ds.y_test), s.data.test_size),
        candidates=np.flatnonzero(np.asarray(pool.candidate)),
        # Drawn only for runs that measure (a draw compiles: start-up).
        measured_pool=(data.sample(
            jax.random.fold_in(run_key, _MEASURE_POOL),
            np.flatnonzero(np.asarray(pool.candidate)), MEASURED_POOL,
            len(ds.y_train)) if s.active.complexity == "all" else None),
        rounds_root=jax.random.fold_in(run_key, _ROUNDS),
        pretrain_key=jax.random.fold_in(run_key, _PRETRAIN))
    ctx.start = modes.starting_weights(task, pool, ctx.pretrain_key)
    ctx.learner = _learner(ctx, s)
    _resume(ctx)
    yield ctx


def _learner(ctx: RunContext, s: Settings) -> learning.Learner:
  """The run's learner: the round's steps over the training set, on the
  network `network_at` chose for the round."""
  return learning.learner(
      ctx.method, None, ctx.task.x_train, acquisition=ctx.acq,
      learning_rate=s.fit.learning_rate, schedule=s.fit.schedule,
      batch_size=s.fit.batch_size, max_epochs=s.fit.max_epochs,
      patience=s.fit.patience,
      target_train_accuracy=s.fit.target_train_accuracy,
      mc_samples=s.active.mc_samples, chunk=s.active.chunk,
      query_pool=s.active.query_pool, augment=s.fit.augment,
      warm_start=s.fit.warm_start, start=ctx.start,
      network=lambda state: ctx.network, progress=ctx.task.progress)


def round_key(ctx: RunContext, r: int) -> jax.Array:
  """Round r's key (`learning.key_of_round` of the run's rounds root)."""
  return learning.key_of_round(ctx.rounds_root, r)


def learner_state(ctx: RunContext) -> learning.LearnerState:
  """The run's `LearnerState` now: the dataset's labels play the
  annotator, so the taught labels are the true ones."""
  return learning.LearnerState(ctx.state, ctx.pool, ctx.task.y_train,
                               ctx.rounds_root)


def _restore(ctx: RunContext, r: int) -> None:
  """Restores round r's state, pool and records into `ctx`."""
  # The pool of round r is needed to rebuild its network: the searches are
  # cached in the workdir, so this reads, not searches.
  pool_r = ctx.ckpt.restore_pool(r, ctx.pool)
  network = network_at(ctx, r, modes.pool_before(pool_r, r))
  like = modes.initial_state(network.method, network.tx, jax.random.key(0),
                             ctx.task.ds.input_shape, ctx.start)
  state, pool, records, _ = ctx.ckpt.restore(
      r, train_state_like=like, pool_like=ctx.pool)
  if len(records) < r + 1:
    raise ValueError(f"round {r}'s checkpoint holds {len(records)} records")
  ctx.network, ctx.state, ctx.pool = network, state, pool
  ctx.records, ctx.next_round = records[: r + 1], r + 1


def rewind(ctx: RunContext, r: int) -> list[str]:
  """Takes `ctx` back to just after round r (-1: before round 0), to train
  the later rounds again. Their checkpoints are moved to
  `<workdir>/replaced/` (never deleted); returns where they went."""
  asides = [ctx.ckpt.set_aside(newer, "replaced")
            for newer in ctx.ckpt.rounds() if newer > r]
  if r >= 0:
    _restore(ctx, r)
  else:
    ctx.pool, ctx.records, ctx.next_round = ctx.initial_pool, [], 0
    ctx.state = ctx.network = None
  write_records(ctx)
  return asides


def _resume(ctx: RunContext) -> None:
  """Restores the newest readable round, if any, and prints the table so
  far. An unreadable round (a truncated or emptied file) is moved aside
  with a one-line warning and the round before it is used."""
  for r, aside in ctx.ckpt.set_aside_at_open:
    ctx.task.log(f"warning: the checkpoint of round {r} is unreadable "
                 f"(its metrics); moved it to {aside} and went back to the "
                 f"round before")
  for r in reversed(ctx.ckpt.rounds()):
    try:
      _restore(ctx, r)
    except Exception as e:  # noqa: BLE001 - whatever a damaged file raises
      aside = ctx.ckpt.set_aside(r)
      ctx.task.log(f"warning: the checkpoint of round {r} is unreadable "
                   f"({type(e).__name__}); moved it to {aside} and went "
                   f"back to the round before")
      continue
    ctx.task.log(f"resuming {ctx.task.workdir} after round {r}")
    break
  write_records(ctx)
  s = ctx.settings
  ctx.task.log(console.network_line(
      *((s.arch.method, archopt.get(s.arch.method).make, s.arch.method_kwargs)
        if s.arch.method else
        (s.arch.backbone, models.get(s.arch.backbone),
         s.arch.backbone_kwargs))))
  ctx.task.log(console.TABLE_HEADER)
  for record in ctx.records:
    for line in console.lines(record, ctx.describe):
      ctx.task.log(line)


def write_records(ctx: RunContext) -> None:
  """Rewrites `metrics.jsonl` from `ctx.records` (atomically; process 0
  only)."""
  if not sharding.is_writer():
    return
  path = os.path.join(ctx.task.workdir, metrics.METRICS_FILE)
  with workdir_lib.naming(path):
    metrics.write_jsonl(path, ctx.records)
