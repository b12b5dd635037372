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
    ("jaxdal.data", ["load", "init_pool", "acquire", "write_array_record"]),
    ("jaxdal.models", ["BACKBONES", "build", "CNN", "ResNet", "VGG", "MLP"]),
    ("jaxdal.archopt", ["METHODS", "MODES", "build", "Bundle"]),
])
def test_subpackage_exports(package, names):
  module = importlib.import_module(package)
  for name in names:
    assert name in module.__all__ and getattr(module, name) is not None
