"""The run schema: small nested frozen specs, built from a flat config in
one call. A pure schema: it imports no other part of jaxdal, and its
checks (`validate`) need nothing but the values; the checks against the
registries, and everything built from a run's settings, are
`jaxdal.plan`'s.

  >>> s = Settings.of(dataset="synthetic", rounds=3)
  >>> s.data.dataset, s.active.rounds, s.fit.batch_size
  ('synthetic', 3, 64)

On disk (`config.json`) a run's settings are one flat JSON object
(`to_dict`), so runs written before these specs existed still resume.
"""

import dataclasses
import json
import os
from typing import Any

import ml_collections

__all__ = ["ActiveSpec", "ArchSpec", "CALIBRATION", "COMPLEXITY", "DataSpec",
           "FitSpec", "PRETRAINING", "STOP_WHEN", "Settings",
           "parse_json_object", "validate"]


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """Where the examples come from and how they are split."""
  dataset: str = "mnist5k"
  dataset_kwargs: dict = dataclasses.field(default_factory=dict)
  data_dir: str | None = None
  download: bool = False
  val_fraction: float = 0.1
  val_size: int | None = None  # cap on the validation split (None: none)
  test_size: int | None = None  # evenly spaced test examples (None: all)
  pool_size: int | None = None  # cap on the unlabeled pool (None: none)


@dataclasses.dataclass(frozen=True)
class FitSpec:
  """How one round trains. `optimizer`, `momentum` and `weight_decay`
  apply to plain backbones only: a method brings its own optimiser."""
  batch_size: int = 64
  max_epochs: int = 50
  patience: int = 10
  # Stop once an epoch's training accuracy reaches this fraction, in
  # (0, 1]; None: never (only patience and max_epochs stop).
  target_train_accuracy: float | None = 0.99
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  momentum: float = 0.9
  weight_decay: float = 0.0
  schedule: str = "cosine"
  warm_start: bool = False
  augment: bool = False
  # A deep ensemble of this many networks, trained as one vmapped step
  # (`network.fit`); 1: one network.
  ensemble: int = 1


@dataclasses.dataclass(frozen=True)
class ActiveSpec:
  """The active-learning protocol. `rounds` counts training rounds: the
  labeled set grows by `acquire` between consecutive rounds."""
  acquisition: str = "entropy"
  rounds: int = 5
  initial: int = 100
  acquire: int = 100
  seed: int = 0
  mc_samples: int = 10
  chunk: int = 1024  # rows per compiled prediction call
  # Candidates scored before each query: a fresh random sample of this
  # many from the pool (dal-toolbox's subsampling); None: the whole pool.
  query_pool: int | None = None
  # Feature-space complexity recorded every round (`jaxdal.complexity`):
  # "all" measures, or "none".
  complexity: str = "all"
  # Temperature scaling fitted on the validation split each round, whose
  # probabilities the acquisition then reads ("temperature"), or "none".
  calibrate: str = "none"
  # The stopping criterion that ends a run early (`jaxdal.stopping_criteria`;
  # all are recorded every round), its budget, and the stop set's size.
  stop_when: str = "none"
  max_labels: int | None = None
  stop_set: int = 1000


@dataclasses.dataclass(frozen=True)
class ArchSpec:
  """The network: a backbone, or an architecture-optimisation method
  (`jaxdal.archopt`) with the mode that says when its architecture is
  optimised; `pretrain` initialises a backbone by DeepCluster."""
  backbone: str = "cnn"
  backbone_kwargs: dict = dataclasses.field(default_factory=dict)
  method: str = ""
  method_kwargs: dict = dataclasses.field(default_factory=dict)
  mode: str = "joint"
  # False freezes the architecture parameters at their initial values in
  # joint mode (the ArchDAL code's behaviour), or skips a search.
  train_arch: bool = True
  pretrain: str = "none"
  pretrain_epochs: int = 5
  pretrain_steps: int = 50


_SPECS = {"data": DataSpec, "fit": FitSpec, "active": ActiveSpec,
          "arch": ArchSpec}
_GROUP = {f.name: group for group, spec in _SPECS.items()
          for f in dataclasses.fields(spec)}
PRETRAINING = ("none", "deepcluster")
COMPLEXITY = ("all", "none")
CALIBRATION = ("none", "temperature")
# `jaxdal.stopping_criteria.CRITERIA` (the schema imports nothing of
# jaxdal; tests/test_settings.py checks the two agree).
STOP_WHEN = ("none", "kappa", "uncertainty", "budget")
# Config values that mean "not set" (flags cannot hold None).
_UNSET_AS = {"val_size": 0, "test_size": 0, "pool_size": 0, "data_dir": "",
             "target_train_accuracy": 0, "query_pool": 0, "max_labels": 0}


@dataclasses.dataclass(frozen=True)
class Settings:
  """Everything that defines a run; saved flat as `config.json`."""
  data: DataSpec = DataSpec()
  fit: FitSpec = FitSpec()
  active: ActiveSpec = ActiveSpec()
  arch: ArchSpec = ArchSpec()

  @classmethod
  def of(cls, **flat: Any) -> "Settings":
    """Settings from flat fields (`Settings.of(rounds=3)`); an unknown
    field is a one-line ValueError naming the valid ones."""
    unknown = sorted(set(flat) - set(_GROUP))
    if unknown:
      raise ValueError(f"unknown setting {unknown[0]!r}; valid: "
                       f"{', '.join(sorted(_GROUP))}")
    groups = {g: {} for g in _SPECS}
    for name, value in flat.items():
      groups[_GROUP[name]][name] = value
    return cls(**{g: _SPECS[g](**kw) for g, kw in groups.items()})

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict | dict
                  ) -> "Settings":
    """Settings from an experiment config (flat, flag-shaped): `0` / `""`
    mean "not set" for the caps and `data_dir`, and `*_kwargs` may be JSON
    strings (as typed on a command line)."""
    flat = dict(config.to_dict() if hasattr(config, "to_dict") else config)
    for name, unset in _UNSET_AS.items():
      if flat.get(name, None) == unset:
        flat[name] = None
    for name in ("dataset_kwargs", "backbone_kwargs", "method_kwargs"):
      if isinstance(flat.get(name), str):
        flat[name] = parse_json_object(name, flat[name])
    return cls.of(**flat)

  def to_dict(self) -> dict:
    """The flat JSON-able fields (what `config.json` holds)."""
    flat = {}
    for group in _SPECS:
      flat.update(dataclasses.asdict(getattr(self, group)))
    return json.loads(json.dumps(flat))

  def replace(self, **flat: Any) -> "Settings":
    """A copy with some flat fields changed."""
    return Settings.of(**{**self.to_dict(), **flat})


def parse_json_object(name: str, text: str) -> dict:
  """A JSON object typed as a string, or a one-line ValueError."""
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"--{name} must be a JSON object, got {text!r} "
                     f"({e.msg})") from None
  if not isinstance(value, dict):
    raise ValueError(f"--{name} must be a JSON object, got {text!r}")
  return value


def _positive(**values) -> None:
  for name, value in values.items():
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
      raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _not_for_methods(s: Settings) -> None:
  """A method builds its own network and optimiser: backbone and optimiser
  settings would be silently ignored, so they are refused."""
  default_fit, default_arch = FitSpec(), ArchSpec()
  for spec, default, names in (
      (s.arch, default_arch, ("backbone", "backbone_kwargs")),
      (s.fit, default_fit, ("optimizer", "momentum", "weight_decay"))):
    for name in names:
      if getattr(spec, name) != getattr(default, name):
        raise ValueError(
            f"{name} {getattr(spec, name)!r} does not apply to method "
            f"{s.arch.method!r}, which brings its own network and "
            f"optimiser; leave --{name} unset (use --method_kwargs)")


def validate(s: Settings) -> None:
  """Raises a one-line ValueError naming the bad value and the valid
  choices; checks what the values alone decide (`plan.check` adds the
  registries' names)."""
  if s.active.complexity not in COMPLEXITY:
    raise ValueError(f"unknown complexity {s.active.complexity!r}; valid: "
                     f"{', '.join(COMPLEXITY)}")
  if s.active.calibrate not in CALIBRATION:
    raise ValueError(f"unknown calibration {s.active.calibrate!r}; valid: "
                     f"{', '.join(CALIBRATION)}")
  if s.active.calibrate == "temperature" and s.data.val_fraction == 0:
    raise ValueError("calibrate 'temperature' fits on the validation split, "
                     "but val_fraction is 0; set --val_fraction above 0 or "
                     "--calibrate none")
  if s.active.stop_when not in STOP_WHEN:
    raise ValueError(f"unknown stopping criterion {s.active.stop_when!r}; "
                     f"valid: {', '.join(STOP_WHEN)}")
  if s.active.stop_when == "budget" and s.active.max_labels is None:
    raise ValueError("stop_when 'budget' needs --max_labels (a positive "
                     "number of labels)")
  if s.active.max_labels is not None:
    _positive(max_labels=s.active.max_labels)
  _positive(stop_set=s.active.stop_set, ensemble=s.fit.ensemble)
  if s.fit.ensemble > 1 and (s.arch.method or s.fit.warm_start):
    raise ValueError(f"ensemble {s.fit.ensemble} trains fresh members of a "
                     f"backbone each round: not with "
                     f"{'--method' if s.arch.method else '--warm_start'}; "
                     f"use --ensemble 1")
  if s.arch.pretrain not in PRETRAINING:
    raise ValueError(f"unknown pretraining {s.arch.pretrain!r}; valid: "
                     f"{', '.join(PRETRAINING)}")
  _positive(rounds=s.active.rounds, initial=s.active.initial,
            acquire=s.active.acquire, batch_size=s.fit.batch_size,
            max_epochs=s.fit.max_epochs, patience=s.fit.patience,
            chunk=s.active.chunk)
  if s.data.test_size is not None:
    _positive(test_size=s.data.test_size)
  if s.active.query_pool is not None:
    _positive(query_pool=s.active.query_pool)
    if s.active.query_pool < s.active.acquire:
      raise ValueError(f"query_pool {s.active.query_pool} is smaller than "
                       f"acquire {s.active.acquire}; valid: >= acquire, or "
                       f"0 for the whole pool")
  if isinstance(s.fit.learning_rate, bool) or not (
      isinstance(s.fit.learning_rate, (int, float))
      and s.fit.learning_rate > 0):
    raise ValueError(f"learning_rate must be a positive number, got "
                     f"{s.fit.learning_rate!r}")
  target = s.fit.target_train_accuracy
  if target is not None and (isinstance(target, bool) or not isinstance(
      target, (int, float)) or not 0 < target <= 1):
    raise ValueError(f"target_train_accuracy must be a fraction in (0, 1] "
                     f"(or 0: never stop on training accuracy), got "
                     f"{target!r}")
  if s.data.data_dir is not None and not os.path.isdir(s.data.data_dir):
    raise ValueError(f"data_dir {s.data.data_dir!r} is not a folder; give "
                     f"the folder holding the data, or leave --data_dir "
                     f"unset")
  if s.arch.method:
    _not_for_methods(s)
  elif s.arch.mode != "joint" or not s.arch.train_arch:
    flag = (f"mode {s.arch.mode!r}" if s.arch.mode != "joint"
            else "--notrain_arch")
    raise ValueError(f"{flag} needs an architecture to optimise; backbone "
                     f"{s.arch.backbone!r} is fixed (set --method)")
  if s.arch.mode == "upo" and s.arch.pretrain != "none":
    raise ValueError("mode 'upo' already pretrains with DeepCluster; leave "
                     "--pretrain at none")
