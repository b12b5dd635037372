"""The tiny examples in docstrings run and print what they claim: every
module of jaxdal whose docstrings hold one."""

import doctest
import importlib
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "jaxdal")


def _modules_with_examples() -> list[str]:
  found = []
  for folder, _, files in os.walk(ROOT):
    for name in files:
      path = os.path.join(folder, name)
      if not name.endswith(".py"):
        continue
      with open(path) as f:
        has_example = ">>>" in f.read()
      if has_example:
        rel = os.path.relpath(path, os.path.join(ROOT, ".."))[:-3]
        found.append(rel.replace(os.sep, ".").removesuffix(".__init__"))
  return sorted(found)


MODULES = _modules_with_examples()


def test_the_examples_are_found():
  assert {"jaxdal.learning", "jaxdal.adapters", "jaxdal.registry",
          "jaxdal.acquisition.scores"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
  module = importlib.import_module(name)
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
  assert result.attempted > 0
  assert result.failed == 0
