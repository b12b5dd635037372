"""One small registry helper under every name -> thing table of jaxdal.

Acquisitions, backbones, methods and datasets are each a `Registry`; the
CLIs read their choices from `names()`, so there is no second list to keep
in step. Imports nothing heavy (the acquisition layer must stay free of
Flax, Optax and Orbax).

  >>> shapes = Registry("shape")
  >>> square = shapes.register("square", lambda a: a * a)
  >>> shapes.get("square")(3)
  9
  >>> shapes.register("square", square) is square  # again: a no-op
  True
  >>> shapes.register("square", abs)
  Traceback (most recent call last):
  ...
  ValueError: shape 'square' is already registered (as a different entry); \
pass replace=True to replace it
  >>> shapes.get("circle")
  Traceback (most recent call last):
  ...
  ValueError: unknown shape 'circle'; valid: square
"""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Registry", "check_arguments", "keyword_parameters"]

T = TypeVar("T")


def _same(a, b) -> bool:
  """Whether `b` is `a` again: the same object, or an equal one of the
  same type (a NamedTuple rebuilt from the same functions)."""
  if a is b:
    return True
  if type(a) is not type(b):
    return False
  try:
    return bool(a == b)
  except Exception:  # e.g. array fields, whose == is not a bool
    return False


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
    """Adds `entry` under `name` and returns it.

    Registering the same entry under the same name again is a no-op that
    returns the registered one (a notebook cell run twice); a different
    entry under a taken name needs `replace=True`, which replaces it.

    Raises:
      ValueError: the name is empty or not a string, or taken by a
        different entry without `replace`.
      TypeError: `check` refuses the entry.
    """
    if not isinstance(name, str) or not name:
      raise ValueError(f"a {self.kind} name must be a non-empty string, got "
                       f"{name!r}")
    if name in self._entries and not replace:
      if _same(self._entries[name], entry):
        return self._entries[name]
      raise ValueError(f"{self.kind} {name!r} is already registered (as a "
                       f"different entry); pass replace=True to replace it")
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


def keyword_parameters(fn: Callable, *,
                       skip: tuple[str, ...] = ("num_classes", "name",
                                                "parent")) -> dict:
  """`{name: inspect.Parameter}` of the arguments `fn` takes by keyword,
  but for `skip` (a constructor's class count and Flax's own fields)."""
  import inspect
  return {p.name: p for p in inspect.signature(fn).parameters.values()
          if p.name not in skip and p.kind in (p.KEYWORD_ONLY,
                                               p.POSITIONAL_OR_KEYWORD)}


def check_arguments(kind: str, name: str, fn: Callable, kwargs: dict, *,
                    skip: tuple[str, ...] = ("num_classes", "name",
                                             "parent")) -> None:
  """Checks keyword arguments against `fn`'s signature before a call, so a
  typo or a wrong type is one clear line instead of a deep traceback.

  A name `fn` does not take is refused (listing the ones it does); a value
  must have the type of the parameter's default (an int where an int is
  expected, a positive one where the default is positive; a number where a
  float is; a bool, string or list likewise). Parameters without a
  default, defaulting to None, or annotated with more than the default's
  type (`str | Sequence`) take anything.

  Raises:
    ValueError: `bad <kind> argument ...` naming the value and what is
      valid.
  """
  import inspect
  params = keyword_parameters(fn, skip=skip)
  for key, value in kwargs.items():
    if key not in params:
      raise ValueError(f"unknown argument {key!r} for {kind} {name!r}; "
                       f"valid: {', '.join(sorted(params))}")
    default, annotation = params[key].default, params[key].annotation
    if default is inspect.Parameter.empty or default is None:
      continue
    if annotation is not inspect.Parameter.empty and annotation not in (
        type(default), type(default).__name__):
      continue  # e.g. `str | Sequence`: more than the default's type
    problem = _type_problem(default, value)
    if problem:
      raise ValueError(f"bad {kind} argument {key}={value!r} for {name!r}: "
                       f"{problem}")


def _type_problem(default, value) -> str | None:
  """Why `value` cannot stand where `default` stands, or None."""
  if isinstance(default, bool):
    return None if isinstance(value, bool) else "must be true or false"
  if isinstance(default, int):
    if isinstance(value, bool) or not isinstance(value, int):
      return "must be an integer"
    if default > 0 and value <= 0:
      return "must be a positive integer"
    return None
  if isinstance(default, float):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      return "must be a number"
    return None
  if isinstance(default, str):
    return None if isinstance(value, str) else "must be a string"
  if isinstance(default, (tuple, list)):
    return (None if isinstance(value, (tuple, list))
            else "must be a list")
  return None
