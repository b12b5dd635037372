"""The active-learning loop: the only module that knows what a round is.

Round r: (re)initialise -> train on the labeled set -> evaluate on the test
split -> predict on the pool -> select -> acquire -> save a checkpoint ->
rewrite `metrics.jsonl`. Keys are derived, never carried: round r uses
`fold_in(fold_in(key(seed), 1), r)`, so a run resumed from its latest
checkpoint reproduces the uninterrupted run exactly.
"""

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

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
from jaxdal import train as train_lib

# Sub-streams of a round key.
_INIT, _TRAIN, _PREDICT, _SELECT = 0, 1, 2, 3
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
      old = json.load(f)
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


def _format_architecture(arch: dict | None) -> str:
  """One line: active filters per layer and/or depth."""
  if not arch:
    return ""
  parts = []
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
    records = _run_rounds(settings, ds, pool, run_key, workdir, config, ckpt,
                          progress, log)
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
  plots.learning_curve(workdir)
  return records


def _run_rounds(settings, ds, pool, run_key, workdir, config, ckpt, progress,
                log):
  bundle = _bundle(settings, ds.num_classes)
  model = bundle.model
  acq = acquisition.get(settings.acquisition)
  # Joint: architecture and weights train every round. SPO/UPO: the
  # architecture is optimised once, before round 0, then frozen.
  tx = bundle.optimizer(settings.learning_rate,
                        train_arch=(settings.mode == "joint"
                                    and settings.train_arch))
  trainer = train_lib.make_trainer(model, tx, bundle.loss,
                                   augment=settings.augment)
  predictor = predict_lib.make_predictor(
      model, mc_samples=settings.mc_samples if acq.uses_mc else 0,
      chunk=settings.chunk)
  select = jax.jit(acq.select, static_argnums=1)
  x_train, y_train = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  x_test, y_test = jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)
  test_idx = np.arange(len(ds.y_test))
  val_idx = np.flatnonzero(np.asarray(pool.validation))
  # Predictions cover the fixed candidate set, so their shapes never change.
  candidates = np.flatnonzero(np.asarray(pool.candidate))
  rounds_root = jax.random.fold_in(run_key, _ROUNDS)

  # Starting weights of every round: DeepCluster's body (focus 1's
  # --pretrain, and UPO), or the whole SPO network.
  init_from, keep = None, "body"
  if settings.pretrain == "deepcluster" or settings.mode == "upo":
    init_from = _deepcluster(settings, ds, x_train,
                         jax.random.fold_in(run_key, _PRETRAIN), workdir,
                         progress, log)
  elif settings.mode == "spo":
    init_from, keep = _supervised_preoptimisation(
        settings, ds, pool, x_train, y_train, val_idx,
        jax.random.fold_in(run_key, _PRETRAIN), workdir, progress, log), "all"

  def fresh_state(key):
    state = train_lib.init_state(model, tx, key, ds.input_shape)
    if init_from is None:
      return state
    fresh = {"params": state.params, **state.model_state}
    v = (dict(init_from) if keep == "all"
         else pretrain.transfer_body(init_from, fresh))
    params = v.pop("params")
    return state._replace(params=params, model_state=v,
                          opt_state=tx.init(params))

  state = fresh_state(jax.random.fold_in(jax.random.fold_in(rounds_root, 0),
                                         _INIT))
  records: list[dict] = []
  start = 0
  latest = ckpt.latest_round()
  metrics_path = os.path.join(workdir, metrics.METRICS_FILE)
  if latest is not None:
    state, pool, records, _ = ckpt.restore(latest, train_state_like=state,
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
    if r > 0 and settings.warm_start:
      state = state._replace(opt_state=tx.init(state.params))
    elif r > 0:
      state = fresh_state(jax.random.fold_in(key_r, _INIT))
    t0 = time.perf_counter()
    state, fit = train_lib.fit(
        trainer, state, x_train, y_train, data.labeled_indices(pool), val_idx,
        jax.random.fold_in(key_r, _TRAIN), batch_size=settings.batch_size,
        max_epochs=settings.max_epochs, learning_rate=settings.learning_rate,
        patience=settings.patience,
        target_train_accuracy=settings.target_train_accuracy,
        schedule=settings.schedule, progress=progress)
    test_acc = train_lib.evaluate(trainer, state, x_test, y_test, test_idx)
    train_s = time.perf_counter() - t0
    labeled_count = int(pool.labeled.sum())

    t1 = time.perf_counter()
    selected: list[int] | None = None
    if r < settings.rounds - 1:
      variables = {"params": state.params, **state.model_state}
      inputs = {"probs": None, "features": None}
      if acq.uses_probs:
        inputs["probs"] = predict_lib.predict_probs(
            predictor, variables, x_train, jax.random.fold_in(key_r, _PREDICT),
            candidates)
      if acq.uses_features:
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

    architecture = bundle.architecture(
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
                 "compilations": diagnostics.compilations() - compiles_before},
    }
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
