"""The active-learning loop: the only module that knows what a round is.

Round r: (re)initialise -> train on the labeled set -> evaluate on the test
split -> predict on the pool -> select -> acquire -> save a checkpoint ->
rewrite `metrics.jsonl`. Keys are derived, never carried: round r uses
`fold_in(fold_in(key(seed), 1), r)`, so a run resumed from its latest
checkpoint reproduces the uninterrupted run exactly.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal import (
    acquisition,
    archopt,
    checkpoint,
    data,
    diagnostics,
    metrics,
    models,
    plots,
    pretrain,
)
from jaxdal import predict as predict_lib
from jaxdal import seeds as seeds_lib
from jaxdal import train as train_lib

# Sub-streams of a round key.
_INIT, _TRAIN, _PREDICT, _SELECT, _SEARCH = 0, 1, 2, 3, 4
# Sub-streams of the run key.
_POOL, _ROUNDS, _PRETRAIN = 0, 1, 2


PRETRAINING = ("none", "deepcluster")


class WorkdirError(ValueError):
  """The workdir holds something this run must not overwrite."""


@dataclasses.dataclass(frozen=True)
class Settings:
  """Everything that defines a run; saved as `config.json`.

  `rounds` counts training rounds: the labeled set grows by `acquire` between
  consecutive rounds, so the last round trains on
  `initial + (rounds - 1) * acquire` examples.
  """
  dataset: str = "mnist5k"
  backbone: str = "cnn"
  backbone_kwargs: dict = dataclasses.field(default_factory=dict)
  # An architecture-optimisation method (jaxdal.archopt) replaces the
  # backbone when set; `mode` says when its architecture is optimised.
  method: str = ""
  method_kwargs: dict = dataclasses.field(default_factory=dict)
  mode: str = "joint"
  # False freezes the architecture parameters at their initial values in
  # joint mode (the ArchDAL code's behaviour for BBDropout and
  # Depth-Dropout: train_gates / train_structure = False).
  train_arch: bool = True
  dataset_kwargs: dict = dataclasses.field(default_factory=dict)
  acquisition: str = "entropy"
  rounds: int = 5
  initial: int = 100
  acquire: int = 100
  seed: int = 0
  val_fraction: float = 0.1
  val_size: int | None = None
  # Evaluate on `test_size` evenly spaced test examples (None = all).
  test_size: int | None = None
  pool_size: int | None = None
  batch_size: int = 64
  max_epochs: int = 50
  patience: int = 10
  target_train_accuracy: float = 0.99
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  momentum: float = 0.9
  weight_decay: float = 0.0
  schedule: str = "cosine"
  mc_samples: int = 10
  warm_start: bool = False
  augment: bool = False
  pretrain: str = "none"
  pretrain_epochs: int = 5
  pretrain_steps: int = 50
  chunk: int = 1024
  data_dir: str | None = None
  download: bool = False

  def to_dict(self) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(self)))


def _check_settings(s: Settings) -> None:
  """Raises ValueError naming the bad value before anything is written."""
  if s.dataset not in data.SOURCES:
    raise ValueError(f"unknown dataset {s.dataset!r}; valid: "
                     f"{', '.join(data.names())}")
  bundle = _bundle(s, 2)
  if s.mode not in archopt.MODES:
    raise ValueError(f"unknown mode {s.mode!r}; valid: "
                     f"{', '.join(archopt.MODES)}")
  if s.mode != "joint" and not bundle.searchable:
    raise ValueError(f"mode {s.mode!r} needs an architecture to optimise; "
                     f"{s.method or s.backbone!r} is fixed (use --mode joint "
                     f"or a method among bbdropout, depth_dropout)")
  if s.mode == "upo" and s.pretrain != "none":
    raise ValueError("mode 'upo' already pretrains with DeepCluster; leave "
                     "--pretrain at none")
  if bundle.search is not None and s.pretrain != "none":
    raise ValueError(f"--pretrain {s.pretrain} transfers a body into a "
                     f"fixed network; {s.method!r} searches its network, so "
                     f"leave --pretrain at none (mode 'upo' searches on "
                     f"DeepCluster pseudo-labels)")
  acquisition.get(s.acquisition)
  if s.schedule not in train_lib.SCHEDULES:
    raise ValueError(f"unknown schedule {s.schedule!r}; valid: "
                     f"{', '.join(train_lib.SCHEDULES)}")
  if s.optimizer not in train_lib.OPTIMIZERS:
    raise ValueError(f"unknown optimizer {s.optimizer!r}; valid: "
                     f"{', '.join(train_lib.OPTIMIZERS)}")
  positive = {"rounds": s.rounds, "initial": s.initial, "acquire": s.acquire,
              "batch_size": s.batch_size, "max_epochs": s.max_epochs,
              "patience": s.patience, "chunk": s.chunk}
  for name, value in positive.items():
    if not isinstance(value, int) or value <= 0:
      raise ValueError(f"{name} must be a positive integer, got {value!r}")
  if s.pretrain not in PRETRAINING:
    raise ValueError(f"unknown pretraining {s.pretrain!r}; valid: "
                     f"{', '.join(PRETRAINING)}")
  if s.test_size is not None and (not isinstance(s.test_size, int)
                                  or s.test_size <= 0):
    raise ValueError(f"test_size must be a positive integer or None, got "
                     f"{s.test_size!r}")
  if acquisition.get(s.acquisition).uses_mc and s.mc_samples < 2:
    raise ValueError(f"acquisition {s.acquisition!r} needs mc_samples >= 2, "
                     f"got {s.mc_samples}")


def _bundle(s: Settings, num_classes: int) -> archopt.Bundle:
  """The model, loss, optimiser and architecture summary of a run."""
  if s.method:
    return archopt.build(s.method, num_classes, **s.method_kwargs)
  try:
    model = models.build(s.backbone, num_classes, **s.backbone_kwargs)
  except TypeError as e:
    raise ValueError(f"bad backbone_kwargs {s.backbone_kwargs} for "
                     f"{s.backbone!r}: {e}") from None
  return archopt.fixed_bundle(model, None, optimizer=s.optimizer,
                              momentum=s.momentum,
                              weight_decay=s.weight_decay)


def _prepare_workdir(workdir: str, config: dict, overwrite: bool) -> bool:
  """Checks or creates `workdir`; returns True if this call created it."""
  config_path = os.path.join(workdir, metrics.CONFIG_FILE)
  if os.path.isfile(config_path):
    with open(config_path) as f:
      # Fields added to Settings since the run started count as defaults.
      old = {**Settings().to_dict(), **json.load(f)}
    if old == config:
      return False
    if not overwrite:
      changed = sorted(k for k in set(old) | set(config)
                       if old.get(k) != config.get(k))
      raise WorkdirError(
          f"workdir {workdir!r} holds a run with a different config "
          f"(differs in: {', '.join(changed)}); pass --overwrite to replace "
          f"it or choose another --workdir")
    shutil.rmtree(workdir)
  elif os.path.isdir(workdir) and os.listdir(workdir):
    if not overwrite:
      raise WorkdirError(
          f"workdir {workdir!r} is not empty and holds no jaxdal run; pass "
          f"--overwrite to replace it or choose another --workdir")
    shutil.rmtree(workdir)
  created = not os.path.isdir(workdir)
  os.makedirs(workdir, exist_ok=True)
  tmp = config_path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(config, f, indent=2, sort_keys=True)
  os.replace(tmp, config_path)
  return created


def _format_row(record: dict) -> str:
  t = record["time"]
  return (f"{record['round']:>5} {record['labeled']:>7} "
          f"{100 * record['test_accuracy']:>7.2f} "
          f"{100 * record['val_accuracy']:>7.2f} {record['epochs']:>6} "
          f"{record['stop_reason']:>14} {t['train_s']:>7.1f} "
          f"{t['select_s']:>7.2f}")


_SHORT_OPS = {"max_pool_3x3": "max", "avg_pool_3x3": "avg",
              "skip_connect": "skip", "sep_conv_3x3": "sep3",
              "sep_conv_5x5": "sep5", "dil_conv_3x3": "dil3",
              "dil_conv_5x5": "dil5"}


def _format_architecture(arch: dict | None) -> str:
  """One line: active filters per layer and/or depth, or a genotype."""
  if not arch:
    return ""
  parts = []
  if "genotype" in arch:
    for cell in ("normal", "reduce"):
      ops = " ".join(f"{_SHORT_OPS.get(op, op)}({j})"
                     for op, j in arch["genotype"][cell])
      parts.append(f"{cell} {ops}")
  if "depth" in arch:
    parts.append(f"depth {arch['depth']:.2f}")
  if "active_filters" in arch:
    filters = " ".join(f"{v:g}" for v in arch["active_filters"])
    parts.append(f"active filters per layer [{filters}] of "
                 f"{arch.get('filters', '?')}")
  return "      architecture: " + "; ".join(parts)


TABLE_HEADER = (f"{'round':>5} {'labeled':>7} {'test%':>7} {'val%':>7} "
                f"{'epochs':>6} {'stopped by':>14} {'train_s':>7} "
                f"{'select_s':>7}")


@contextlib.contextmanager
def _session(settings: Settings, workdir: str, overwrite: bool):
  """Checks `settings`, loads data, prepares `workdir`; yields
  `(ds, pool, run_key, config, ckpt)`. Nothing is written before every
  check passed; a failure before the first checkpoint removes a workdir
  this session created."""
  _check_settings(settings)
  try:
    ds = data.load(settings.dataset, data_dir=settings.data_dir,
                   download=settings.download, **settings.dataset_kwargs)
  except TypeError as e:
    raise ValueError(f"bad dataset_kwargs {settings.dataset_kwargs} for "
                     f"{settings.dataset!r}: {e}") from None
  if settings.augment and len(ds.input_shape) != 3:
    raise ValueError(f"augment needs images [H, W, C]; {settings.dataset!r} "
                     f"has inputs of shape {ds.input_shape}")
  run_key = jax.random.key(settings.seed)
  pool = data.init_pool(jax.random.fold_in(run_key, _POOL), ds.y_train,
                        initial=settings.initial,
                        val_fraction=settings.val_fraction,
                        val_size=settings.val_size,
                        pool_size=settings.pool_size,
                        num_classes=ds.num_classes)
  n_available = int(data.available(pool).sum())
  needed = settings.acquire * (settings.rounds - 1)
  if needed > n_available:
    raise ValueError(
        f"{settings.rounds - 1} acquisitions of {settings.acquire} need "
        f"{needed} pool examples but the pool holds {n_available}; lower "
        f"--acquire or --rounds")

  config = settings.to_dict()
  created = _prepare_workdir(workdir, config, overwrite)
  ckpt = None
  try:
    ckpt = checkpoint.RoundCheckpointer(os.path.join(workdir, "checkpoints"))
    yield ds, pool, run_key, config, ckpt
  except BaseException:
    if ckpt is not None:
      ckpt.close()
      ckpt = None
    # A run that saved nothing leaves nothing behind in a folder it created.
    ckpt_dir = os.path.join(workdir, "checkpoints")
    if created and not (os.path.isdir(ckpt_dir) and any(
        n.isdigit() for n in os.listdir(ckpt_dir))):
      shutil.rmtree(workdir, ignore_errors=True)
    raise
  finally:
    if ckpt is not None:
      ckpt.close()


class _FitRequest(NamedTuple):
  """What a round asks its driver to train (answered with `fit`'s
  `(state, FitResult)`)."""
  machine: "_Machine"
  state: train_lib.TrainState
  x_train: jax.Array
  y_train: jax.Array
  train_idx: np.ndarray
  val_idx: np.ndarray
  key: jax.Array
  kwargs: dict
  augment: bool


def _fit_one(request: _FitRequest):
  return train_lib.fit(request.machine.trainer, request.state,
                       request.x_train, request.y_train, request.train_idx,
                       request.val_idx, request.key, **request.kwargs)


def _drive(rounds, answer: Callable[[_FitRequest], tuple]):
  """Runs a `_run_rounds` generator, answering its fit requests."""
  try:
    request = next(rounds)
    while True:
      request = rounds.send(answer(request))
  except StopIteration as done:
    return done.value


def run(settings: Settings, workdir: str, *, overwrite: bool = False,
        progress: bool = True, log: Callable[[str], None] = print
        ) -> list[dict]:
  """Runs (or resumes) an active-learning experiment in `workdir`.

  Args:
    settings: the run's definition.
    workdir: output folder (`config.json`, `metrics.jsonl`, `checkpoints/`,
      `figures/`). A folder holding the same config resumes from its latest
      checkpoint; a different config is refused unless `overwrite`.
    overwrite: replace whatever `workdir` holds.
    progress: show progress bars.
    log: where the per-round table goes.

  Returns:
    The per-round metric records (as in `metrics.jsonl`).

  Raises:
    ValueError: a bad setting or a workdir conflict, before any file is
      written. `DatasetNotFoundError` for missing data, likewise.
  """
  with _session(settings, workdir, overwrite) as (ds, pool, run_key, config,
                                                  ckpt):
    records = _drive(_run_rounds(settings, ds, pool, run_key, workdir,
                                 config, ckpt, progress, log), _fit_one)
  plots.learning_curve(workdir)
  return records


def run_seeds(settings: list[Settings], workdirs: list[str], *,
              overwrite: bool = False, progress: bool = True,
              log: Callable[[str], None] = print) -> list[list[dict]]:
  """Runs several seeds of one configuration in lockstep, training them
  together: one `jax.vmap`-ed step over the seeds' stacked train states.

  Each seed keeps its own workdir, keys, pool, stopping rule and
  checkpoints, and gets the records `run(settings[i], workdirs[i])` would
  give, up to floating-point rounding (batched dense layers round
  differently; long trainings can amplify the difference). A seed that stops
  early is frozen while the others go on. Seeds whose rounds train
  different networks (PDARTS searches) or different numbers of examples (a
  resumed seed ahead of the others) train one by one.

  Args:
    settings: one `Settings` per seed, equal but for `seed`.
    workdirs: one output folder per seed.
    overwrite, progress, log: as in `run`.

  Returns:
    The per-round records of every seed.

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
  with contextlib.ExitStack() as stack:
    generators = []
    for s, workdir in zip(settings, workdirs, strict=True):
      ds, pool, run_key, config, ckpt = stack.enter_context(
          _session(s, workdir, overwrite))
      tag = f"seed {s.seed}: " if len(settings) > 1 else ""
      generators.append(_run_rounds(s, ds, pool, run_key, workdir, config,
                                    ckpt, progress,
                                    lambda line, tag=tag: log(tag + line)))
    records = _drive_together(generators)
  for workdir in workdirs:
    plots.learning_curve(workdir)
  return records


def _drive_together(generators):
  """Runs `_run_rounds` generators in lockstep, answering each wave of fit
  requests together (`_fit_together`)."""
  results: list = [None] * len(generators)
  pending: dict[int, _FitRequest] = {}
  for i, g in enumerate(generators):
    try:
      pending[i] = next(g)
    except StopIteration as done:
      results[i] = done.value
  seed_trainers: dict = {}
  while pending:
    order = sorted(pending)
    answers = _fit_together([pending[i] for i in order], seed_trainers)
    for i, answer in zip(order, answers, strict=True):
      try:
        pending[i] = generators[i].send(answer)
      except StopIteration as done:
        results[i] = done.value
        del pending[i]
  return results


def _fit_together(requests: list[_FitRequest], seed_trainers: dict):
  """Answers fit requests; those with the same network and data shapes
  train together in one vmapped fit, the others one by one."""
  groups: dict = {}
  for i, r in enumerate(requests):
    groups.setdefault((r.machine.bundle.model, len(r.train_idx),
                       len(r.val_idx)), []).append(i)
  answers: list = [None] * len(requests)
  for members in groups.values():
    if len(members) == 1:
      answers[members[0]] = _fit_one(requests[members[0]])
      continue
    first = requests[members[0]]
    trainer_key = id(first.machine)
    if trainer_key not in seed_trainers:
      seed_trainers[trainer_key] = seeds_lib.make_seed_trainer(
          first.machine.bundle.model, first.machine.tx,
          first.machine.bundle.loss, augment=first.augment)
    fitted = seeds_lib.fit_seeds(
        seed_trainers[trainer_key], [requests[i].state for i in members],
        first.x_train, first.y_train,
        [requests[i].train_idx for i in members],
        [requests[i].val_idx for i in members],
        [requests[i].key for i in members], **first.kwargs)
    for i, answer in zip(members, fitted, strict=True):
      answers[i] = answer
  return answers


class _Machine(NamedTuple):
  """A bundle with its optimiser and compiled trainer and predictor."""
  bundle: archopt.Bundle
  tx: optax.GradientTransformation
  trainer: train_lib.Trainer
  predictor: predict_lib.Predictor


def _run_rounds(settings, ds, pool, run_key, workdir, config, ckpt, progress,
                log):
  """The rounds of one run, as a generator: it yields a `_FitRequest` per
  round, is sent back `(state, FitResult)`, and returns the records. The
  driver decides how requests are trained (`_drive`, `_drive_together`)."""
  base = _bundle(settings, ds.num_classes)
  acq = acquisition.get(settings.acquisition)
  # Joint: architecture and weights train every round. SPO/UPO: the
  # architecture is optimised once, before round 0, then frozen. A discrete
  # search (PDARTS) replaces the network instead; --notrain_arch keeps the
  # method's default network.
  train_arch = settings.mode == "joint" and settings.train_arch
  searches = base.search is not None and settings.train_arch
  machines: dict[str, _Machine] = {}

  def machine_for(bundle: archopt.Bundle, tag: str) -> _Machine:
    """Built once per architecture, so unchanged ones never recompile."""
    if tag not in machines:
      tx = bundle.optimizer(settings.learning_rate, train_arch=train_arch)
      machines[tag] = _Machine(
          bundle, tx,
          train_lib.make_trainer(bundle.model, tx, bundle.loss,
                                 augment=settings.augment),
          predict_lib.make_predictor(
              bundle.model,
              mc_samples=settings.mc_samples if acq.uses_mc else 0,
              chunk=settings.chunk))
    return machines[tag]

  select = jax.jit(acq.select, static_argnums=1)
  x_train, y_train = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  x_test, y_test = jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)
  test_idx = data.test_indices(len(ds.y_test), settings.test_size)
  val_idx = np.flatnonzero(np.asarray(pool.validation))
  # Predictions cover the fixed candidate set, so their shapes never change.
  candidates = np.flatnonzero(np.asarray(pool.candidate))
  rounds_root = jax.random.fold_in(run_key, _ROUNDS)
  pretrain_key = jax.random.fold_in(run_key, _PRETRAIN)

  # Starting weights of every round: DeepCluster's body (focus 1's
  # --pretrain, and UPO), or the whole SPO network. A searched network
  # starts fresh (nothing pre-trained fits it); its search uses the data
  # instead (UPO: on DeepCluster pseudo-labels).
  init_from, keep = None, "body"
  if not searches and (settings.pretrain == "deepcluster"
                       or settings.mode == "upo"):
    init_from = _deepcluster(settings, ds, x_train, pretrain_key, workdir,
                             progress, log)
  elif not searches and settings.mode == "spo":
    init_from, keep = _supervised_preoptimisation(
        settings, ds, pool, x_train, y_train, val_idx, pretrain_key, workdir,
        progress, log), "all"

  search_info: dict[int, dict] = {}
  initial_pool = pool

  def machine_at(r: int, pool_r: data.PoolState) -> _Machine:
    """The network trained in round r (searching for it if needed)."""
    if not searches:
      return machine_for(base, "")
    if settings.mode == "joint":
      found = _cached_search(
          base, f"round_{r:03d}", x_train, y_train,
          data.labeled_indices(pool_r), val_idx,
          jax.random.fold_in(jax.random.fold_in(rounds_root, r), _SEARCH),
          workdir, progress, log)
    elif settings.mode == "spo":
      found = _cached_search(base, "spo", x_train, y_train,
                             data.labeled_indices(initial_pool), val_idx,
                             pretrain_key, workdir, progress, log)
    else:
      found = _cached_unsupervised_search(settings, base, ds, x_train,
                                          initial_pool, pretrain_key, workdir,
                                          progress, log)
    search_info[r] = {k: v for k, v in found.items() if k != "genotype"}
    return machine_for(base.adopt(found), json.dumps(found["genotype"]))

  def fresh_state(machine: _Machine, key):
    state = train_lib.init_state(machine.bundle.model, machine.tx, key,
                                 ds.input_shape)
    if init_from is None:
      return state
    fresh = {"params": state.params, **state.model_state}
    v = (dict(init_from) if keep == "all"
         else pretrain.transfer_body(init_from, fresh))
    params = v.pop("params")
    return state._replace(params=params, model_state=v,
                          opt_state=machine.tx.init(params))

  records: list[dict] = []
  start, state, machine = 0, None, None
  latest = ckpt.latest_round()
  metrics_path = os.path.join(workdir, metrics.METRICS_FILE)
  if latest is not None:
    # The pool of round `latest` is needed to rebuild its network: the
    # searches are cached in the workdir, so this reads, not searches.
    pool_latest = ckpt.restore_pool(latest, pool)
    machine = machine_at(latest, _pool_before(pool_latest, latest))
    like = fresh_state(machine, jax.random.key(0))
    state, pool, records, _ = ckpt.restore(latest, train_state_like=like,
                                           pool_like=pool)
    records = records[: latest + 1]
    start = latest + 1
    log(f"resuming {workdir} after round {latest}")
  metrics.write_jsonl(metrics_path, records)
  log(TABLE_HEADER)
  for r in records:
    log(_format_row(r))
    if r.get("architecture"):
      log(_format_architecture(r["architecture"]))

  for r in range(start, settings.rounds):
    compiles_before = diagnostics.compilations()
    key_r = jax.random.fold_in(rounds_root, r)
    t_search = time.perf_counter()
    previous, machine = machine, machine_at(r, pool)
    search_s = time.perf_counter() - t_search
    trainer, predictor = machine.trainer, machine.predictor
    if r > 0 and settings.warm_start and machine is previous:
      state = state._replace(opt_state=machine.tx.init(state.params))
    else:
      state = fresh_state(machine, jax.random.fold_in(key_r, _INIT))
    t0 = time.perf_counter()
    # The driver trains (alone, or with other seeds: `run_seeds`).
    state, fit = yield _FitRequest(
        machine, state, x_train, y_train, data.labeled_indices(pool), val_idx,
        jax.random.fold_in(key_r, _TRAIN), dict(
            batch_size=settings.batch_size, max_epochs=settings.max_epochs,
            learning_rate=settings.learning_rate, patience=settings.patience,
            target_train_accuracy=settings.target_train_accuracy,
            schedule=settings.schedule, progress=progress),
        settings.augment)
    test_acc = train_lib.evaluate(trainer, state, x_test, y_test, test_idx)
    train_s = time.perf_counter() - t0
    labeled_count = int(pool.labeled.sum())

    t1 = time.perf_counter()
    selected: list[int] | None = None
    if r < settings.rounds - 1:
      variables = {"params": state.params, **state.model_state}
      inputs = {"probs": None, "features": None}
      k_predict = jax.random.fold_in(key_r, _PREDICT)
      if acq.uses_probs and acq.uses_features and not acq.uses_mc:
        inputs["probs"], inputs["features"] = predict_lib.probs_and_features(
            predictor, variables, x_train, k_predict, candidates)
      elif acq.uses_probs:
        inputs["probs"] = predict_lib.predict_probs(
            predictor, variables, x_train, k_predict, candidates)
      if acq.uses_features and inputs["features"] is None:
        inputs["features"] = predict_lib.features(predictor, variables,
                                                  x_train, candidates)
      jax.block_until_ready(inputs)
      t2 = time.perf_counter()
      avail = data.available(pool)[candidates]
      acquisition.check_budget(settings.acquire, avail)
      local = select(jax.random.fold_in(key_r, _SELECT), settings.acquire,
                     avail, labeled=pool.labeled[candidates], **inputs)
      # The one place candidate positions become dataset indices.
      chosen = candidates[np.asarray(local)]
      pool = data.acquire(pool, chosen)
      selected = chosen.tolist()
      predict_s, select_s = t2 - t1, time.perf_counter() - t2
    else:
      predict_s = select_s = 0.0

    architecture = machine.bundle.architecture(
        {"params": state.params, **state.model_state})
    record = {
        "round": r,
        "labeled": labeled_count,
        "test_accuracy": test_acc,
        "val_accuracy": fit.val_accuracy,
        "train_accuracy": fit.train_accuracy,
        "epochs": fit.epochs,
        "steps": fit.steps,
        "stop_reason": fit.stop_reason,
        "acquired": selected,
        "architecture": architecture,
        "time": {"train_s": round(train_s, 3), "predict_s": round(predict_s, 3),
                 "select_s": round(select_s, 3),
                 "search_s": round(search_s, 3),
                 "compilations": diagnostics.compilations() - compiles_before},
    }
    if r in search_info:
      record["search"] = search_info[r]
    records.append(record)
    ckpt.save(r, train_state=state, pool=pool, metrics=records, config=config)
    metrics.write_jsonl(metrics_path, records)
    log(_format_row(record))
    if architecture:
      log(_format_architecture(architecture))
  return records


def _cached_variables(workdir, name, like, compute, log):
  """Variables saved under `workdir/name`, computed and saved if absent.

  Keeps a resumed run from redoing (deterministic) pre-optimisation.
  """
  path = os.path.join(workdir, name)
  if os.path.isdir(path):
    return checkpoint.restore_tree(path, like)
  t0 = time.perf_counter()
  variables, summary = compute()
  checkpoint.save_tree(path, variables)
  log(f"{name}: {summary} in {time.perf_counter() - t0:.1f}s")
  return variables


def _init_variables(bundle, key, input_shape):
  v = bundle.model.init({"params": key, **train_lib.rngs_for(key)},
                        jnp.zeros((1, *input_shape)))
  return dict(v)


def _deepcluster(settings, ds, x_train, key, workdir, progress, log):
  """DeepCluster (pseudo-labels from k-means, k = classes) on every
  training image, with the run's model, loss and optimiser."""
  def compute():
    result = pretrain.deepcluster(
        lambda k: _bundle(settings, k), x_train, key,
        num_clusters=ds.num_classes, epochs=settings.pretrain_epochs,
        steps_per_epoch=settings.pretrain_steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, progress=progress)
    return result.variables, (f"DeepCluster, {settings.pretrain_epochs} "
                              f"epochs, loss {result.losses[-1]:.3f}")

  like = _init_variables(_bundle(settings, ds.num_classes), key,
                         ds.input_shape)
  return _cached_variables(workdir, "pretrained", like, compute, log)


def _supervised_preoptimisation(settings, ds, pool, x_train, y_train,
                                val_idx, key, workdir, progress, log):
  """SPO: architecture and weights optimised once on the initial labeled
  set (same stopping rule as a round)."""
  bundle = _bundle(settings, ds.num_classes)

  def compute():
    tx = bundle.optimizer(settings.learning_rate, train_arch=True)
    trainer = train_lib.make_trainer(bundle.model, tx, bundle.loss)
    state = train_lib.init_state(bundle.model, tx, jax.random.fold_in(key, 0),
                                 ds.input_shape)
    state, fit = train_lib.fit(
        trainer, state, x_train, y_train, data.labeled_indices(pool),
        val_idx, jax.random.fold_in(key, 1), batch_size=settings.batch_size,
        max_epochs=settings.max_epochs, learning_rate=settings.learning_rate,
        patience=settings.patience,
        target_train_accuracy=settings.target_train_accuracy,
        schedule=settings.schedule, progress=progress)
    return ({"params": state.params, **state.model_state},
            f"supervised pre-optimisation, {fit.epochs} epochs")

  like = _init_variables(bundle, key, ds.input_shape)
  return _cached_variables(workdir, "preoptimised", like, compute, log)


def _pool_before(pool: data.PoolState, r: int) -> data.PoolState:
  """The pool as round r trained on it (labels acquired in rounds <= r)."""
  label_round = np.asarray(pool.label_round)
  labeled = (label_round >= 0) & (label_round <= r)
  return pool._replace(labeled=jnp.asarray(labeled),
                       round=jnp.asarray(r, jnp.int32))


def _cached_json(workdir, name, compute, log):
  """`workdir/searches/<name>.json`, computed and written if absent (a
  resumed run never searches twice)."""
  path = os.path.join(workdir, "searches", f"{name}.json")
  if os.path.isfile(path):
    with open(path) as f:
      return json.load(f)
  t0 = time.perf_counter()
  found = compute()
  found["time_s"] = round(time.perf_counter() - t0, 3)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + ".tmp", "w") as f:
    json.dump(found, f, indent=1)
  os.replace(path + ".tmp", path)
  log(f"search {name}: {_format_architecture(found).strip()} "
      f"({found['time_s']:.1f}s)")
  return found


def _cached_search(bundle, name, x_train, y_train, weight_idx, arch_idx, key,
                   workdir, progress, log):
  """A search with weights on `weight_idx` (the labeled set) and the
  architecture on `arch_idx` (the validation split), as ArchDAL does."""
  weight_idx, arch_idx = np.asarray(weight_idx), np.asarray(arch_idx)
  return _cached_json(workdir, name, lambda: bundle.search(
      x_train[weight_idx], y_train[weight_idx], x_train[arch_idx],
      y_train[arch_idx], key, progress), log)


def _cached_unsupervised_search(settings, bundle, ds, x_train, pool, key,
                                workdir, progress, log):
  """UPO: DeepCluster pseudo-labels of every training image (with the
  method's default network), then a search on the unlabeled pool split
  50/50 between weights and architecture (PDARTS's train_portion)."""
  def compute():
    result = pretrain.deepcluster(
        lambda k: _bundle(settings, k), x_train, jax.random.fold_in(key, 0),
        num_clusters=ds.num_classes, epochs=settings.pretrain_epochs,
        steps_per_epoch=settings.pretrain_steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate, progress=progress)
    pseudo = jnp.asarray(result.assignments[-1])
    unlabeled = np.flatnonzero(np.asarray(data.available(pool)))
    order = unlabeled[np.asarray(jax.random.permutation(
        jax.random.fold_in(key, 1), len(unlabeled)))]
    half = len(order) // 2
    found = bundle.search(x_train[order[:half]], pseudo[order[:half]],
                          x_train[order[half:]], pseudo[order[half:]],
                          jax.random.fold_in(key, 2), progress)
    found["pseudo_label_purity"] = pretrain.purity(
        np.asarray(pseudo), np.asarray(ds.y_train))
    return found

  return _cached_json(workdir, "upo", compute, log)
