"""The grids of experiments/configs/grids.py: cell order, parts, and that
every cell of every grid is a valid run of its program."""

import pytest

from experiments.configs import focus1 as focus1_config
from experiments.configs import focus2 as focus2_config
from experiments.configs import grids
from jaxdal import loop, plan


def test_cells_of_parts_follow_each_other_last_axis_fastest():
  grid = dict(program="focus2", preset="quick", parts=[
      dict(method=("cnn1", "cnn5"), seed=(0, 1)),
      dict(method=("bbdropout",), mode=("spo", "upo"), seed=(0,))])
  assert grids.cells(grid) == [
      {"method": "cnn1", "seed": 0}, {"method": "cnn1", "seed": 1},
      {"method": "cnn5", "seed": 0}, {"method": "cnn5", "seed": 1},
      {"method": "bbdropout", "mode": "spo", "seed": 0},
      {"method": "bbdropout", "mode": "upo", "seed": 0}]
  assert [grids.cell_name(c) for c in grids.cells(grid)][-1] == (
      "bbdropout_upo_s0")


def test_a_parts_fixed_settings_reach_its_cells_but_not_their_names():
  grid = dict(program="focus1", preset="quick", parts=[
      dict(dataset=("mnist5k",), seed=(0,)),
      dict(dataset=("fashion_mnist",), seed=(0,),
           fixed=dict(pool_size=5000, test_size=2000))])
  first, second = grids.cells(grid)
  assert first == {"dataset": "mnist5k", "seed": 0}
  assert second == {"dataset": "fashion_mnist", "seed": 0,
                    "pool_size": 5000, "test_size": 2000}
  assert [grids.cell_name(c) for c in (first, second)] == [
      "mnist5k_s0", "fashion_mnist_s0"]
  assert _settings("focus1", "quick", second).data.pool_size == 5000


def _settings(program: str, preset: str, cell: dict) -> loop.Settings:
  """A cell's settings as `--grid` builds them, validated as a run's are."""
  if program == "focus1":
    config = focus1_config.get_config(preset, cell.get("backbone", "cnn"),
                                      cell.get("dataset", ""))
    config.update(cell)
  else:
    config = focus2_config.get_config(preset)
    config.update(cell)
    config = focus2_config.with_method_defaults(config, preset)
  s = loop.Settings.from_config(config)
  plan.check(s)
  plan.build_method(s, 10)  # the method's kwargs build
  return s


@pytest.mark.parametrize("name", sorted(grids.GRIDS))
def test_every_cell_is_a_valid_distinct_run(name):
  grid = grids.GRIDS[name]
  cells = grids.cells(grid)
  names = [grids.cell_name(c) for c in cells]
  assert len(set(names)) == len(names)
  for cell in cells:
    settings = _settings(grid["program"], grid["preset"], cell)
    assert settings.active.seed == cell["seed"]
    assert settings.data.dataset == cell["dataset"]


def test_a_misspelt_cell_value_is_refused():
  with pytest.raises(ValueError, match="resnet81"):
    _settings("focus1", "medium", dict(dataset="mnist5k",
                                       backbone="resnet81", seed=0))


@pytest.mark.parametrize("name", ["focus1_medium", "focus2_medium"])
def test_medium_grids_cover_what_the_reproduction_needs(name):
  cells = grids.cells(grids.GRIDS[name])
  acquisitions = {c["acquisition"] for c in cells}
  assert len(acquisitions) >= (5 if name == "focus1_medium" else 4)
  assert {c["seed"] for c in cells} == {0, 1, 2}
  if name == "focus1_medium":
    assert {c["pretrain"] for c in cells} == {"none", "deepcluster"}
    assert {c["dataset"] for c in cells} == {"fashion_mnist", "mnist5k"}
  else:
    modes = grids.cells(grids.GRIDS["focus2_medium_modes"])
    methods = {(c["method"], c.get("mode")) for c in cells + modes}
    assert {"cnn1", "cnn5", "cnn9"} <= {m for m, _ in methods}
    assert {(m, mode) for m in ("bbdropout", "depth_dropout", "pdarts")
            for mode in ("joint", "spo", "upo")} <= methods
    # The verdicts on the optimised networks need their seeds too.
    for method in ("bbdropout", "depth_dropout"):
      for mode in ("joint", "spo", "upo"):
        assert {c["seed"] for c in cells + modes if c["method"] == method
                and c.get("mode") == mode} == {0, 1, 2}, (method, mode)
