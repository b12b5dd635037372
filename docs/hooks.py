"""MkDocs hooks of the documentation site (`mkdocs.yml`: `hooks:`).

- The repository's own documents (REPRODUCTION.md, benchmarks/RESULTS.md,
  CHANGELOG.md) become pages of the site, their links rewritten to where
  the files are in the site.
- Every public function and class of a module that an API page documents
  (`::: jaxdal.x`) must have a docstring: a missing one fails the build.
- A docstring's doctest (`>>>` lines and their output) is shown as code.
- The Design page's picture of the layers is drawn (`docs/layers.py`).
"""

import importlib
import inspect
import os
import re
import sys

from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers  # noqa: E402 - docs/layers.py, beside this file

# Site page <- repository file.
PAGES = {"reproduction.md": "REPRODUCTION.md",
         "benchmarks.md": "benchmarks/RESULTS.md",
         "changelog.md": "CHANGELOG.md"}
_SITE_OF = {source: page for page, source in PAGES.items()}
_LINK = re.compile(r"\]\(([^)#\s]+)")


def site_link(target: str, source: str) -> str:
  """Where a link of the repository file `source` to `target` points in
  the site: `docs/x` is `x`, and a rendered document is its page."""
  if "://" in target:
    return target
  path = os.path.normpath(os.path.join(os.path.dirname(source), target))
  if path in _SITE_OF:
    return _SITE_OF[path]
  if path.startswith("docs" + os.sep):
    return path[len("docs" + os.sep):] + ("/" if target.endswith("/")
                                          else "")
  raise PluginError(f"{source} links to {target}, which is not in the "
                    f"site; link a page under docs/ instead")


def rewrite_links(text: str, source: str) -> str:
  """`text` (of the repository file `source`) with its links rewritten
  for the site."""
  return _LINK.sub(lambda m: f"]({site_link(m.group(1), source)}", text)


def on_files(files, config):
  for page, source in PAGES.items():
    with open(os.path.join(ROOT, source)) as f:
      content = rewrite_links(f.read(), source)
    files.append(File.generated(config, page, content=content))
  # The Design page's picture, drawn from `layers.LAYERS`.
  files.append(File.generated(config, "images/layers.svg",
                              content=layers.draw_svg()))
  return files


def documented_modules(api_dir: str) -> list[str]:
  """The modules the API pages render (`::: module` lines)."""
  found = []
  for name in sorted(os.listdir(api_dir)):
    with open(os.path.join(api_dir, name)) as f:
      found += re.findall(r"^::: ([\w.]+)", f.read(), re.M)
  return found


def undocumented(module_name: str) -> list[str]:
  """The public functions and classes of a module without a docstring."""
  module = importlib.import_module(module_name)
  missing = []
  for name in module.__all__:
    obj = getattr(module, name)
    if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (
        obj.__doc__ or "").strip():
      missing.append(f"{module_name}.{name}")
  return missing


def is_module(name: str) -> bool:
  """True for a module's name, False for an object of one (`jaxdal.x.f`)."""
  try:
    importlib.import_module(name)
  except ModuleNotFoundError:
    return False
  return True


def on_pre_build(config):
  missing = [name for m in documented_modules(
      os.path.join(config["docs_dir"], "api")) if is_module(m)
             for name in undocumented(m)]
  if missing:
    raise PluginError(f"public objects without a docstring: "
                      f"{', '.join(missing)}")


def fence_doctests(lines: list[str]) -> list[str]:
  """`lines` with each doctest (a `>>>` line after a blank one, up to the
  next blank line) fenced as a `pycon` code block."""
  out, i = [], 0
  while i < len(lines):
    line = lines[i]
    if line.lstrip().startswith(">>>") and (not out or not out[-1].strip()):
      indent = line[: len(line) - len(line.lstrip())]
      j = i
      while j < len(lines) and lines[j].strip():
        j += 1
      out += [f"{indent}```pycon", *lines[i:j], f"{indent}```"]
      i = j
    else:
      out.append(line)
      i += 1
  return out


class _Doctests(Preprocessor):
  def run(self, lines):
    return fence_doctests(lines)


class DoctestExtension(Extension):
  def extendMarkdown(self, md):  # noqa: N802 - Markdown's name
    md.preprocessors.register(_Doctests(md), "jaxdal_doctests", 40)


def on_config(config):
  config["markdown_extensions"].append(DoctestExtension())
  return config
