"""The curated public API resolves, lazily."""

import importlib

import pytest

import jaxdal
from tests.conftest import modules_loaded_by


@pytest.mark.parametrize("name", jaxdal.__all__)
def test_every_public_name_resolves(name):
  assert getattr(jaxdal, name) is not None
  if name in jaxdal._SUBMODULES:  # noqa: SLF001
    assert getattr(jaxdal, name) is importlib.import_module(f"jaxdal.{name}")


def test_unknown_attribute():
  with pytest.raises(AttributeError, match="no attribute 'trian'"):
    jaxdal.trian  # noqa: B018


def test_importing_the_package_loads_no_framework():
  assert modules_loaded_by("import jaxdal",
                           ("jax", "flax", "optax", "orbax")) == []


@pytest.mark.parametrize("package,names", [
    ("jaxdal.acquisition", ["entropy", "bald", "badge", "kcenter_greedy",
                            "batchbald", "top_k", "get", "register"]),
    ("jaxdal.data", ["load", "init_pool", "acquire", "write_array_record",
                     "tokenize", "synthetic_text"]),
    ("jaxdal.models", ["BACKBONES", "build", "CNN", "ResNet", "VGG", "MLP",
                       "TextClassifier", "load_pretrained"]),
    ("jaxdal.archopt", ["METHODS", "MODES", "build", "Method", "SearchMethod",
                        "register"]),
])
def test_subpackage_exports(package, names):
  module = importlib.import_module(package)
  for name in names:
    assert name in module.__all__ and getattr(module, name) is not None


@pytest.mark.parametrize("module", ["jaxdal.archopt", "jaxdal.predict"])
def test_methods_and_prediction_do_not_import_training(module):
  # archopt and predict take optimisers, losses and rng streams from
  # optim, losses and models.rngs; only the loop's side needs train.
  assert modules_loaded_by(f"import {module}", ("jaxdal.train",)) == []


def test_registries_share_one_helper():
  from jaxdal import acquisition, archopt, data, models, optim
  from jaxdal.registry import Registry
  for registry in (acquisition.ACQUISITIONS, models.BACKBONES,
                   archopt.METHODS, data.SOURCES, optim.OPTIMIZERS,
                   optim.SCHEDULES):
    assert isinstance(registry, Registry)
    with pytest.raises(ValueError, match=f"unknown {registry.kind} 'nope'; "
                       f"valid: {', '.join(registry.names())}$"):
      registry.get("nope")
