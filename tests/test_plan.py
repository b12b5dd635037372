"""A run's plan: its settings checked once and its method built once."""

import pytest

from jaxdal import archopt, loop, models, plan
from tests.archopt.test_methods import TINY_DATA, TINY_METHOD


def _counting(monkeypatch, module, calls=None) -> list:
  """Counts `module.build` calls into `calls` (a new list by default)."""
  calls = [] if calls is None else calls
  real = module.build

  def counted(*args, **kwargs):
    calls.append(args[0])
    return real(*args, **kwargs)

  monkeypatch.setattr(module, "build", counted)
  return calls


@pytest.mark.parametrize("mode", ["joint", "upo"])
def test_a_method_is_built_once_per_run(monkeypatch, tmp_path, mode):
  # Before: settings.validate, the tokenizer check, the build check,
  # open_run and the starting weights each built it (5 builds).
  calls = _counting(monkeypatch, archopt)
  settings = loop.Settings.of(**TINY_DATA, method="bbdropout",
                              method_kwargs=TINY_METHOD["bbdropout"],
                              mode=mode)
  loop.run(settings, str(tmp_path / "w"), progress=False, log=lambda s: None)
  assert calls == ["bbdropout"]


def test_a_backbone_is_built_once_per_run(monkeypatch, tmp_path):
  calls = _counting(monkeypatch, models)
  settings = loop.Settings.of(**TINY_DATA, backbone="cnn",
                              backbone_kwargs=dict(depth=1, width=4),
                              pretrain="deepcluster")
  loop.run(settings, str(tmp_path / "w"), progress=False, log=lambda s: None)
  assert calls == ["cnn"]


def test_check_builds_nothing(monkeypatch):
  calls = _counting(monkeypatch, models, _counting(monkeypatch, archopt))
  plan.check(loop.Settings.of(method="bbdropout"))
  plan.check(loop.Settings.of(backbone="resnet18"))
  assert calls == []
  plan.build_method(loop.Settings.of(method="bbdropout"), 10)
  assert calls == ["bbdropout"]  # the counter counts
  with pytest.raises(ValueError, match=r"^unknown method 'nope'; valid: "):
    plan.check(loop.Settings.of(method="nope"))


def test_make_holds_what_the_settings_name():
  p = plan.make(loop.Settings.of(**TINY_DATA, method="cnn5",
                                 method_kwargs=TINY_METHOD["cnn5"]))
  assert p.dataset.num_classes == 3
  assert isinstance(p.method, archopt.Method)
  assert p.acquisition is __import__("jaxdal").acquisition.get("entropy")


def test_settings_flow_only_downwards():
  """Read from `loop.run` down: the settings go through the schema once,
  into the plan; nothing below the run machinery imports the settings, the
  plan or the run's context (modes reads a `Settings` handed to it)."""
  import os
  import sys
  sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "docs"))
  import layers  # docs/layers.py: the import scanner of the Design page
  machinery = {"loop", "lockstep", "context", "plan", "settings"}
  for module in sorted(layers.top_level_modules() - machinery):
    up = layers.imports_of(module) & {"context", "plan", "loop", "lockstep",
                                      "settings"}
    if module == "modes":  # the type of what it is handed, no call
      up -= {"settings"}
    assert not up, f"{module} imports {sorted(up)}"
  # The schema itself imports nothing of jaxdal.
  assert not layers.imports_of("settings")
