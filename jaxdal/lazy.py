"""Modules loaded on first use: the heavy dependencies (Orbax, distrax and
through it TensorFlow Probability) that importing jaxdal, or a CLI's
`--help`, need not pay for.

  >>> json = lazy_module("json")
  >>> json.dumps([1])
  '[1]'
"""

import importlib.util
import sys
import types

__all__ = ["lazy_module"]


def lazy_module(name: str) -> types.ModuleType:
  """Module `name`, whose code runs at its first attribute access (at once
  when it is imported already)."""
  if name in sys.modules:
    return sys.modules[name]
  spec = importlib.util.find_spec(name)
  if spec is None:
    raise ModuleNotFoundError(f"no module named {name!r}", name=name)
  loader = importlib.util.LazyLoader(spec.loader)
  spec.loader = loader
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  loader.exec_module(module)
  parent, _, child = name.rpartition(".")
  if parent:  # `import a.b; a.b.x` works as after a plain import
    setattr(sys.modules[parent], child, module)
  return module
