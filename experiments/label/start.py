"""A labelling run's settings and data, from its options (the command
line's flags, or the workdir's `config.json`)."""

from collections.abc import Callable

from experiments.configs import focus1 as focus1_config
from experiments.configs import focus2 as focus2_config
from experiments.label import inputs as inputs_lib
from experiments.label.rounds import LabelRun, open_run
from jaxdal import acquisition, archopt, models, settings

__all__ = ["open_options", "settings_of"]


def settings_of(options: dict) -> settings.Settings:
  """The learner's settings: the preset's, for the backbone or method."""
  preset = options["preset"]
  if options["method"]:
    c = focus2_config.get_config(preset)
    c.method = options["method"]
    c = focus2_config.with_method_defaults(c, preset)
  else:
    c = focus1_config.get_config(preset, options["backbone"])
    c.backbone = options["backbone"]
  c.acquisition, c.seed = options["acquisition"], options["seed"]
  c.ensemble = options.get("ensemble", 1)  # older runs: no ensemble
  s = settings.Settings.from_config(c)
  settings.validate(s)  # one-line errors, before any data
  acquisition.get(s.active.acquisition)
  if s.arch.method:
    archopt.get(s.arch.method)
  else:
    models.get(s.arch.backbone)
  return s


def open_options(workdir: str, options: dict, *, overwrite: bool = False,
                 log: Callable[[str], None] = print) -> LabelRun:
  """Reads the data `options` name and opens the run in `workdir`
  (`open_run`); completes `initial_labels` and `budget`."""
  s = settings_of(options)
  classes = tuple(options["classes"])
  inputs = inputs_lib.load(
      options["data"], classes,
      tokenizer=inputs_lib.tokenizer_for(options["backbone"],
                                         options["method"]),
      image_size=options["image_size"], max_length=options["max_length"],
      test=options["test"], id_column=options["id_column"],
      text_column=options["text_column"])
  for ident, why in inputs.unreadable:
    log(f"left out {ident}: {why}")
  if "initial_labels" not in options:
    initial = (inputs_lib.read_labels(options["labeled"], classes,
                                      allow_skip=False)
               if options["labeled"] else [])
    unknown = [i for i, _ in initial if i not in inputs.index_of()]
    if unknown:
      raise ValueError(f"{options['labeled']}: ids not in --data: "
                       f"{unknown[:5]}")
    options = {**options, "initial_labels": [list(p) for p in initial]}
  if not options["budget"]:
    options = {**options, "budget": len(options["initial_labels"])
               + 10 * options["acquire"]}
  return open_run(workdir, options, s, inputs, overwrite=overwrite, log=log)
