"""A run between its rounds: the `RunContext` (data, pool, keys, networks,
records, checkpointer) and how it is opened: settings checked, data
loaded, workdir prepared, pre-optimisation done (cached), latest round
restored. `jaxdal.loop` runs the rounds over it.
"""

import contextlib
import dataclasses
import os
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import (
    acquisition,
    archopt,
    checkpoint,
    console,
    data,
    metrics,
    models,
    modes,
    sharding,
    train,
)
from jaxdal import predict as predict_lib
from jaxdal import workdir as workdir_lib
from jaxdal.settings import Settings, build_method, describe, validate

# Sub-streams of a round key.
INIT, TRAIN, PREDICT, SELECT, SEARCH, MEASURE, QUERY_POOL = range(7)
# Sub-streams of the run key.
_POOL, _ROUNDS, _PRETRAIN, _MEASURE_POOL = 0, 1, 2, 3
# Pool examples whose features' complexity every round records.
MEASURED_POOL = 2000


class Network(NamedTuple):
  """A method's network with its optimiser, jitted steps and predictor;
  built once per architecture, so an unchanged one never recompiles."""
  method: archopt.Method
  tx: object
  trainer: train.Trainer
  predictor: predict_lib.Predictor


@dataclasses.dataclass
class RunContext:
  """One run (one seed) between rounds: its data, pool, keys, networks,
  records and checkpointer. `next_round` is the round `start_round` takes
  next."""
  task: modes.Task
  method: archopt.Method | archopt.SearchMethod
  describe: Callable
  acq: acquisition.Acquisition
  select: Callable
  ckpt: checkpoint.RoundCheckpointer
  config: dict
  pool: data.PoolState
  initial_pool: data.PoolState
  x_test: jax.Array
  y_test: jax.Array
  test_idx: np.ndarray
  candidates: np.ndarray  # predictions cover this fixed set: fixed shapes
  measured_pool: np.ndarray  # fixed sample of candidates (complexity)
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
    ctx.networks[tag] = Network(
        method, tx,
        train.make_trainer(method.model, tx, method.loss,
                           augment=s.fit.augment),
        predict_lib.make_predictor_for(method.model, ctx.acq,
                                       mc_samples=s.active.mc_samples,
                                       chunk=s.active.chunk))
  return ctx.networks[tag]


def network_at(ctx: RunContext, r: int, pool_r: data.PoolState) -> Network:
  """The network trained in round r (searching for it if needed)."""
  if not modes.searches(ctx.settings, ctx.method):
    return network_for(ctx, modes.network(ctx.method), "")
  found = modes.found_architecture(
      ctx.task, ctx.method, r, pool_r, ctx.initial_pool,
      jax.random.fold_in(jax.random.fold_in(ctx.rounds_root, r), SEARCH),
      ctx.pretrain_key, ctx.describe)
  ctx.search_info[r] = ctx.method.info(found)
  return network_for(ctx, ctx.method.adopt(found),
                     ctx.method.identity(found))


def _text_options(s: Settings) -> dict:
  """A text dataset is tokenised with the backbone's own tokenizer;
  images and tokens never meet a backbone of the other kind."""
  text = data.takes_tokenizer(s.data.dataset)
  tokenizer = (None if s.arch.method else models.tokenizer_of(
      modes.network(build_method(s, 2)).model))
  if text and tokenizer is None:
    raise ValueError(f"dataset {s.data.dataset!r} is text; it needs a text "
                     f"backbone (transformer, minilm, bert, distilbert, "
                     f"roberta), got {s.arch.method or s.arch.backbone!r}")
  if tokenizer is not None and not text:
    raise ValueError(f"backbone {s.arch.backbone!r} reads text; valid "
                     f"datasets: synthetic_text, reuters_tm, ag_news, "
                     f"banking77, dbpedia_14, qnli")
  return {"tokenizer": tokenizer} if text else {}


def _open_data(s: Settings):
  try:
    ds = data.load(s.data.dataset, data_dir=s.data.data_dir,
                   download=s.data.download,
                   **{**_text_options(s), **s.data.dataset_kwargs})
  except TypeError as e:
    raise ValueError(f"bad dataset_kwargs {s.data.dataset_kwargs} for "
                     f"{s.data.dataset!r}: {e}") from None
  if s.fit.augment and len(ds.input_shape) != 3:
    raise ValueError(f"augment needs images [H, W, C]; {s.data.dataset!r} "
                     f"has inputs of shape {ds.input_shape}")
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
  return ds, pool, run_key


def _check_builds(s: Settings, ds: data.Dataset) -> None:
  """Initialises the run's network abstractly (shapes only, no compute),
  so argument values that only fail at build time (`{"depth": "x"}`) stop
  the run before its workdir is touched."""
  model = modes.network(build_method(s, ds.num_classes)).model
  key = jax.random.key(0)
  try:
    jax.eval_shape(lambda: model.init(
        {"params": key, "dropout": key, "arch": key},
        jnp.zeros((1, *ds.input_shape), jnp.float32)))
  except (TypeError, ValueError) as e:
    what = (f"method_kwargs {s.arch.method_kwargs} of {s.arch.method!r}"
            if s.arch.method else
            f"backbone_kwargs {s.arch.backbone_kwargs} of "
            f"{s.arch.backbone!r}")
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(
        e).__name__
    raise ValueError(f"bad {what}: {first}") from None


@contextlib.contextmanager
def open_run(s: Settings, workdir: str, *, overwrite: bool = False,
             progress: bool = True, log: Callable[[str], None] = print,
             shared: str | None = None):
  """Checks `s`, loads the data, prepares `workdir`, pre-optimises (cached)
  and resumes from the latest checkpoint; yields the `RunContext`.

  Nothing is written before every check passed; a failure before the first
  checkpoint removes a workdir this call created. `shared`: as `loop.run`.
  """
  validate(s)
  ds, pool, run_key = _open_data(s)
  config = s.to_dict()
  _check_builds(s, ds)
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
    acq = acquisition.get(s.active.acquisition)
    task = modes.Task(s, ds,
                      *sharding.replicated((jnp.asarray(ds.x_train),
                                            jnp.asarray(ds.y_train))),
                      np.flatnonzero(np.asarray(pool.validation)), workdir,
                      progress, log, shared)
    ctx = RunContext(
        task=task, method=build_method(s, ds.num_classes),
        describe=describe(s), acq=acq,
        select=jax.jit(acq.select, static_argnums=1), ckpt=ckpt,
        config=config, pool=pool, initial_pool=pool,
        x_test=sharding.replicated(jnp.asarray(ds.x_test)),
        y_test=sharding.replicated(jnp.asarray(ds.y_test)),
        test_idx=data.test_indices(len(ds.y_test), s.data.test_size),
        candidates=np.flatnonzero(np.asarray(pool.candidate)),
        measured_pool=data.sample(jax.random.fold_in(run_key, _MEASURE_POOL),
                                  np.flatnonzero(np.asarray(pool.candidate)),
                                  MEASURED_POOL, len(ds.y_train)),
        rounds_root=jax.random.fold_in(run_key, _ROUNDS),
        pretrain_key=jax.random.fold_in(run_key, _PRETRAIN))
    ctx.start = modes.starting_weights(task, pool, ctx.pretrain_key)
    _resume(ctx)
    yield ctx


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
