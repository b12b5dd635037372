"""A run's plan: what its settings name, checked against the registries and
built once. `make(settings)` checks everything that needs no data
(`check`), loads the dataset, builds the method for its classes (the one
build of the run's network) and initialises it abstractly, so a bad value
stops the run before its workdir is touched. Everything below (`context`,
`modes`, `loop`) reads the `Plan`; nothing calls back into the settings.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdal import acquisition, archopt, data, models, optim
from jaxdal.settings import Settings, validate

__all__ = ["Plan", "build_method", "check", "describe", "make"]


class Plan(NamedTuple):
  """A run's settings and what they name, built once.

  Attributes:
    settings: the run's `Settings`.
    dataset: the loaded `data.Dataset`.
    method: the `archopt.Method` (or `SearchMethod`) for its classes.
    acquisition: the `acquisition.Acquisition`.
    describe: `summary -> str`, how the run's architecture summaries read.
  """
  settings: Settings
  dataset: data.Dataset
  method: archopt.Method | archopt.SearchMethod
  acquisition: acquisition.Acquisition
  describe: Callable


def check(s: Settings) -> None:
  """`settings.validate` and the registries' names: a one-line ValueError
  naming the bad value and the valid choices. Builds nothing."""
  validate(s)
  data.SOURCES.get(s.data.dataset)
  acq = acquisition.get(s.active.acquisition)
  optim.SCHEDULES.get(s.fit.schedule)
  optim.OPTIMIZERS.get(s.fit.optimizer)
  if s.arch.mode not in archopt.MODES:
    raise ValueError(f"unknown mode {s.arch.mode!r}; valid: "
                     f"{', '.join(archopt.MODES)}")
  if acq.uses_mc and s.active.mc_samples < 2:
    raise ValueError(f"acquisition {s.active.acquisition!r} needs "
                     f"mc_samples >= 2, got {s.active.mc_samples}")
  if s.arch.method:
    archopt.get(s.arch.method)
  else:
    models.get(s.arch.backbone)


def build_method(s: Settings, num_classes: int
                 ) -> archopt.Method | archopt.SearchMethod:
  """The run's method: `s.arch.method`, or the backbone as a fixed
  `Method` with the run's optimiser."""
  if s.arch.method:
    return archopt.build(s.arch.method, num_classes, **s.arch.method_kwargs)
  try:
    model = models.build(s.arch.backbone, num_classes,
                         **s.arch.backbone_kwargs)
  except TypeError as e:
    raise ValueError(f"bad backbone_kwargs {s.arch.backbone_kwargs} for "
                     f"{s.arch.backbone!r}: {e}") from None
  return archopt.fixed(model, None, optimizer=s.fit.optimizer,
                       momentum=s.fit.momentum,
                       weight_decay=s.fit.weight_decay)


def describe(s: Settings) -> Callable:
  """`summary -> str`: how the run's architecture summaries read."""
  if not s.arch.method:
    return archopt.describe_filters
  return archopt.get(s.arch.method).describe


_TEXT_BACKBONES = ("transformer, minilm, bert, distilbert, roberta")


def _load(s: Settings) -> data.Dataset:
  """The dataset; a text one tokenised with the backbone's tokenizer."""
  options = {}
  if data.takes_tokenizer(s.data.dataset):
    # The tokenizer is the backbone's (a module, not the run's method: the
    # classes are not known before the data is).
    tokenizer = None if s.arch.method else models.tokenizer_of(
        models.build(s.arch.backbone, 2, **s.arch.backbone_kwargs))
    if tokenizer is None:
      raise ValueError(f"dataset {s.data.dataset!r} is text; it needs a "
                       f"text backbone ({_TEXT_BACKBONES}), got "
                       f"{s.arch.method or s.arch.backbone!r}")
    options["tokenizer"] = tokenizer
  try:
    ds = data.load(s.data.dataset, data_dir=s.data.data_dir,
                   download=s.data.download,
                   **{**options, **s.data.dataset_kwargs})
  except TypeError as e:
    raise ValueError(f"bad dataset_kwargs {s.data.dataset_kwargs} for "
                     f"{s.data.dataset!r}: {e}") from None
  if s.fit.augment and len(ds.input_shape) != 3:
    raise ValueError(f"augment needs images [H, W, C]; {s.data.dataset!r} "
                     f"has inputs of shape {ds.input_shape}")
  return ds


def _check_method(s: Settings, method, ds: data.Dataset) -> None:
  """The rules that depend on what the method is."""
  if (models.tokenizer_of(archopt.default_network(method).model) is not None
      and not data.takes_tokenizer(s.data.dataset)):
    raise ValueError(f"backbone {s.arch.backbone!r} reads text; valid "
                     f"datasets: synthetic_text, reuters_tm, ag_news, "
                     f"banking77, dbpedia_14, qnli")
  searched = isinstance(method, archopt.SearchMethod)
  if s.arch.mode != "joint" and not (searched
                                     or method.optimises_architecture):
    raise ValueError(f"mode {s.arch.mode!r} needs an architecture to "
                     f"optimise; {s.arch.method!r} is fixed (use --mode "
                     f"joint or a method among bbdropout, depth_dropout, "
                     f"pdarts)")
  if searched and s.arch.pretrain != "none":
    raise ValueError(f"--pretrain {s.arch.pretrain} transfers a body into a "
                     f"fixed network; {s.arch.method!r} searches its "
                     f"network, so leave --pretrain at none (mode 'upo' "
                     f"searches on DeepCluster pseudo-labels)")
  # Initialised abstractly (shapes only, no compute): argument values
  # that only fail at build time (`{"depth": "x"}`) stop here.
  model, key = archopt.default_network(method).model, jax.random.key(0)
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


def make(s: Settings) -> Plan:
  """Checks `s`, loads its data and builds its method once.

  Raises:
    ValueError: a bad setting (one line naming it and the valid choices);
      `DatasetNotFoundError` for missing data.
  """
  check(s)
  ds = _load(s)
  method = build_method(s, ds.num_classes)
  _check_method(s, method, ds)
  return Plan(s, ds, method, acquisition.get(s.active.acquisition),
              describe(s))
