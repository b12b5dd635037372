"""One small registry helper under every name -> thing table of jaxdal.

Acquisitions, backbones, methods and datasets are each a `Registry`; the
CLIs read their choices from `names()`, so there is no second list to keep
in step. Imports nothing heavy (the acquisition layer must stay free of
Flax, Optax and Orbax).

  >>> shapes = Registry("shape")
  >>> shapes.register("square", lambda a: a * a)
  >>> shapes.get("square")(3)
  9
  >>> shapes.get("circle")
  Traceback (most recent call last):
  ...
  ValueError: unknown shape 'circle'; valid: square
"""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
  """A plain dict from name to entry, with one-line errors.

  Args:
    kind: what an entry is ("acquisition", "backbone", ...); it names the
      entries in error messages.
    check: optional `entry -> None` that raises TypeError for an entry of
      the wrong kind, run by `register`.
  """

  def __init__(self, kind: str, check: Callable[[T], None] | None = None):
    self.kind = kind
    self._check = check
    self._entries: dict[str, T] = {}

  def register(self, name: str, entry: T, *, replace: bool = False) -> T:
    """Adds `entry` under `name` and returns it; refuses to replace an
    existing entry unless `replace`."""
    if not isinstance(name, str) or not name:
      raise ValueError(f"a {self.kind} name must be a non-empty string, got "
                       f"{name!r}")
    if name in self._entries and not replace:
      raise ValueError(f"{self.kind} {name!r} is already registered")
    if self._check is not None:
      self._check(entry)
    self._entries[name] = entry
    return entry

  def unregister(self, name: str) -> None:
    """Removes `name` (tests that register temporary entries)."""
    self.get(name)
    del self._entries[name]

  def get(self, name: str) -> T:
    """The entry called `name`; ValueError naming the valid ones if none."""
    try:
      return self._entries[name]
    except (KeyError, TypeError):
      raise ValueError(f"unknown {self.kind} {name!r}; valid: "
                       f"{', '.join(self.names())}") from None

  def names(self) -> list[str]:
    """Registered names, sorted."""
    return sorted(self._entries)

  def __contains__(self, name: object) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, {self.names()})"
