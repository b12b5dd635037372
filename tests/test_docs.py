"""The documentation site: its picture of the layers against the code's
imports, its API pages against every documented module's `__all__`, and
the hooks that render the repository's documents."""

import importlib
import inspect
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, os.path.join(REPO, "docs"))
import layers  # noqa: E402 - docs/layers.py


def test_every_module_is_in_one_layer():
  named = [m for _, _, modules in layers.LAYERS for m in modules]
  assert len(named) == len(set(named)), "a module in two layers"
  assert set(named) == layers.top_level_modules()


def test_imports_point_down_or_sideways():
  level = layers.layer_of()
  upward = {m: sorted(d for d in layers.imports_of(m)
                      if level[d] > level[m]) for m in level}
  assert not {m: up for m, up in upward.items() if up}


def test_the_layer_picture_is_drawn():
  svg = layers.draw_svg()
  assert svg.startswith(b"<?xml") and b"learning" in svg


def _hooks():
  pytest.importorskip("mkdocs")
  import hooks
  return hooks


def test_repository_links_become_site_links():
  hooks = _hooks()
  text = ("see [a](docs/reproduction/toy/x.png), [b](REPRODUCTION.md), "
          "[c](https://keepachangelog.com/), [d](docs/reproduction/f/)")
  assert hooks.rewrite_links(text, "README.md") == (
      "see [a](reproduction/toy/x.png), [b](reproduction.md), "
      "[c](https://keepachangelog.com/), [d](reproduction/f/)")
  with pytest.raises(Exception, match="jaxdal/train.py, which is not in"):
    hooks.rewrite_links("[e](jaxdal/train.py)", "README.md")


def test_doctests_are_fenced_as_code():
  hooks = _hooks()
  lines = ["Text.", "", ">>> f(1)", "[2, 3]", "", "More."]
  assert hooks.fence_doctests(lines) == [
      "Text.", "", "```pycon", ">>> f(1)", "[2, 3]", "```", "", "More."]


def _api_modules() -> list[str]:
  hooks = _hooks()
  return [m for m in hooks.documented_modules(
      os.path.join(REPO, "docs", "api")) if hooks.is_module(m)]


def test_the_api_pages_cover_the_issue_modules():
  for module in ("jaxdal.acquisition", "jaxdal.complexity", "jaxdal.models",
                 "jaxdal.archopt", "jaxdal.data", "jaxdal.train",
                 "jaxdal.predict", "jaxdal.optim", "jaxdal.learning",
                 "jaxdal.state"):
    assert module in _api_modules(), module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
  """The site, built strictly without executing the tutorials."""
  pytest.importorskip("mkdocs")
  out = tmp_path_factory.mktemp("site")
  result = subprocess.run(
      [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
       str(out)], cwd=REPO, capture_output=True, text=True, timeout=600,
      env={**os.environ, "JAXDAL_DOCS_EXECUTE": "false",
           "NO_MKDOCS_2_WARNING": "1"})
  assert result.returncode == 0, result.stderr[-3000:]
  return out


def test_every_public_function_and_class_has_an_entry(site):
  """Each function and class in a documented module's `__all__` has an
  anchor on an API page (a selector named like its module is rendered
  from the module: `jaxdal.acquisition.badge.badge`)."""
  html = ""
  for folder, _, files in os.walk(os.path.join(site, "api")):
    for name in files:
      if name.endswith(".html"):
        with open(os.path.join(folder, name)) as f:
          html += f.read()
  anchors = set(re.findall(r'id="(jaxdal\.[\w.]+)"', html))
  missing = []
  for module_name in _api_modules():
    module = importlib.import_module(module_name)
    for name in module.__all__:
      obj = getattr(module, name)
      if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        continue
      if not {f"{module_name}.{name}",
              f"{module_name}.{name}.{name}"} & anchors:
        missing.append(f"{module_name}.{name}")
  assert not missing


def test_the_generated_pages_are_in_the_site(site):
  for page in ("reproduction", "benchmarks", "changelog", "design"):
    assert os.path.isfile(os.path.join(site, page, "index.html")), page
  assert os.path.isfile(os.path.join(site, "images", "layers.svg"))


def test_the_package_docstring_names_the_layers_modules():
  import jaxdal
  for _, _, modules in layers.LAYERS:
    for module in modules:
      assert f"`{module}`" in jaxdal.__doc__, module
