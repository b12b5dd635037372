"""The one registry helper: registering the same entry again is a no-op, a
different one under a taken name needs `replace=True`; every module-level
`register` passes `replace` through."""

from typing import NamedTuple

import numpy as np
import pytest

from jaxdal.registry import Registry


def _square(a):
  return a * a


def _cube(a):
  return a * a * a


class _Entry(NamedTuple):
  fn: object
  flag: bool = False


def test_the_same_entry_again_is_a_no_op():
  shapes = Registry("shape")
  assert shapes.register("square", _square) is _square
  assert shapes.register("square", _square) is _square
  assert shapes.names() == ["square"]


def test_an_equal_named_tuple_again_is_a_no_op():
  # A wrapper that rebuilds its NamedTuple from the same functions.
  things = Registry("thing")
  first = things.register("a", _Entry(_square))
  assert things.register("a", _Entry(_square)) is first
  with pytest.raises(ValueError, match="already registered"):
    things.register("a", _Entry(_square, flag=True))


def test_a_different_entry_needs_replace():
  shapes = Registry("shape")
  shapes.register("square", _square)
  with pytest.raises(ValueError) as e:
    shapes.register("square", _cube)
  assert str(e.value) == ("shape 'square' is already registered (as a "
                          "different entry); pass replace=True to replace it")
  assert shapes.get("square") is _square
  assert shapes.register("square", _cube, replace=True) is _cube
  assert shapes.get("square") is _cube


def test_entries_without_a_plain_equality_are_compared_by_identity():
  arrays = Registry("array")
  a = np.arange(3)
  arrays.register("a", a)
  assert arrays.register("a", a) is a
  with pytest.raises(ValueError, match="already registered"):
    arrays.register("a", np.arange(3))


def test_check_still_runs_on_replace():
  def check(entry):
    if not callable(entry):
      raise TypeError("register needs a callable")

  fns = Registry("fn", check)
  fns.register("f", _square)
  with pytest.raises(TypeError, match="callable"):
    fns.register("f", 3, replace=True)
  assert fns.get("f") is _square


def _wrappers():
  from jaxdal import acquisition, archopt, data, models

  def make_method(num_classes):
    del num_classes

  def make_other(num_classes):
    del num_classes

  def score(probs):
    return -acquisition.mean_probs(probs).max(-1)

  def other_score(probs):
    return acquisition.mean_probs(probs).max(-1)

  return [
      (acquisition.register, acquisition.ACQUISITIONS,
       lambda: acquisition.from_score(score),
       lambda: acquisition.from_score(other_score)),
      (models.register, models.BACKBONES, lambda: _square, lambda: _cube),
      (archopt.register, archopt.METHODS, lambda: make_method,
       lambda: make_other),
      (data.register, data.SOURCES, lambda: _square, lambda: _cube),
  ]


@pytest.mark.parametrize("index", range(4))
def test_every_register_wrapper_passes_replace(index):
  register, registry, same, other = _wrappers()[index]
  name = "_test_register_wrapper"
  register(name, same())
  try:
    first = registry.get(name)
    register(name, same())  # a cell run twice
    assert registry.get(name) is first
    with pytest.raises(ValueError, match="pass replace=True"):
      register(name, other())
    assert registry.get(name) is first
    register(name, other(), replace=True)
    assert registry.get(name) is not first
  finally:
    registry.unregister(name)
