"""The Focus 2 generated blocks (findings 3 and 4): the accuracy table
recomputed from the committed `focus2_medium` records with NumPy, every
row traced to committed runs, and the verdict's effects and intervals
against a hand-built records folder whose answer is known."""

import json
import os

import numpy as np
import pytest

from experiments import evidence_focus2
from tests.conftest import REPO

RECORDS = os.path.join(REPO, "docs", "reproduction")
ROOT = os.path.join(RECORDS, "focus2_medium", "runs")


def _rows(table: str) -> list[list[str]]:
  return [[c.strip() for c in line.strip("|").split("|")]
          for line in table.splitlines()
          if line.startswith("| ") and not line.startswith("| network")]


def _committed() -> dict[str, list[np.ndarray]]:
  """`{network: [curve, ...]}` of the finished runs of both grids."""
  out: dict[str, list[np.ndarray]] = {}
  for grid in ("focus2_medium", "focus2_medium_modes"):
    root = os.path.join(RECORDS, grid, "runs")
    for cell in sorted(os.listdir(root)) if os.path.isdir(root) else ():
      with open(os.path.join(root, cell, "config.json")) as f:
        config = json.load(f)
      with open(os.path.join(root, cell, "metrics.jsonl")) as f:
        y = np.array([json.loads(line)["test_accuracy"] for line in f])
      if len(y) == 6:
        name = (config["method"] if config["method"].startswith("cnn")
                else f"{config['method']}, {config['mode']}")
        out.setdefault(name, []).append(100 * y)
  return out


@pytest.mark.skipif(not os.path.isdir(ROOT), reason="no focus2 records")
def test_every_row_equals_numpy_over_the_committed_runs():
  committed = _committed()
  rows = {r[0]: r for r in _rows(evidence_focus2.focus2_table(RECORDS))}
  assert set(committed) == set(rows)
  for method, curves in committed.items():
    y = np.stack(curves)
    row = rows[method]
    assert row[1].startswith(f"{len(curves)} (")
    for r, cell in enumerate(row[2:]):
      values = [float(v) for v in cell.split(" ± ")]
      assert values[0] == pytest.approx(y[:, r].mean(), abs=0.051)
      if len(curves) > 1:  # one run: no sd
        assert values[1] == pytest.approx(y[:, r].std(ddof=1), abs=0.051)
      else:
        assert len(values) == 1


def _write(root, grid, cell, config, accs):
  folder = os.path.join(root, grid, "runs", cell)
  os.makedirs(folder)
  with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(config, f)
  with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for r, a in enumerate(accs):
      f.write(json.dumps({"round": r, "labeled": 200 + 100 * r,
                          "test_accuracy": a}) + "\n")


def test_verdict_pairs_runs_by_acquisition_and_seed(tmp_path):
  """An optimised network 2, 3 and 4 AUC points above cnn5 in seeds 0-2
  (the same in both acquisitions): mean +3.00, the enumerated bootstrap
  interval of 3 seeds is [min, max] = [+2.00, +4.00], "holds". A run cut
  short counts nowhere."""
  root = str(tmp_path)
  base = np.linspace(0.70, 0.80, 6)
  for seed, gain in enumerate((0.02, 0.03, 0.04)):
    for acq in ("random", "margin"):
      _write(root, "focus2_medium", f"cnn5_{acq}_s{seed}",
             dict(method="cnn5", mode="joint", acquisition=acq, seed=seed),
             base.tolist())
      _write(root, "focus2_medium", f"bb_{acq}_s{seed}",
             dict(method="bbdropout", mode="joint", acquisition=acq,
                  seed=seed), (base + gain).tolist())
  _write(root, "focus2_medium", "bb_entropy_s0",
         dict(method="bbdropout", mode="joint", acquisition="entropy",
              seed=0), base[:3].tolist())
  rows = _rows(evidence_focus2.focus2_verdict(root))
  assert rows == [["bbdropout, joint", "2", "3",
                   "+3.00 [+2.00, +4.00]: **holds**"]]
  table = {r[0]: r for r in _rows(evidence_focus2.focus2_table(root))}
  assert table["bbdropout, joint"][1] == "6 (2 acq., seeds 0, 1, 2)"
  status = evidence_focus2.focus2_status(root)
  assert "bbdropout, joint 6/12" in status and "cnn5 6/12" in status


def test_one_seed_is_inconclusive(tmp_path):
  root = str(tmp_path)
  base = [0.7] * 6
  _write(root, "focus2_medium", "cnn5", dict(
      method="cnn5", mode="joint", acquisition="random", seed=0), base)
  _write(root, "focus2_medium_modes", "dd", dict(
      method="depth_dropout", mode="spo", acquisition="random", seed=0),
      [0.75] * 6)
  rows = _rows(evidence_focus2.focus2_verdict(root))
  assert rows == [["depth_dropout, spo", "1", "1",
                   "+5.00 (one seed: **inconclusive**)"]]


def test_depth_dropout_growth_rows_read_the_recorded_architecture(tmp_path):
  """Depth and the sum of active filters per round, from each round's
  recorded architecture; other methods and unfinished runs left out."""
  root = str(tmp_path)
  _write(root, "focus2_medium", "cnn5", dict(
      method="cnn5", mode="joint", acquisition="random", seed=0), [0.7] * 6)
  folder = os.path.join(root, "focus2_dd_init", "runs", "dd")
  os.makedirs(folder)
  with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(dict(method="depth_dropout", mode="joint",
                   acquisition="random", seed=0,
                   method_kwargs={"a_init": 1.1}), f)
  with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for r in range(6):
      f.write(json.dumps({
          "round": r, "labeled": 200 + 100 * r, "test_accuracy": 0.5,
          "architecture": {"depth": 3.5 + 0.1 * r,
                           "active_filters": [20.0, 10.5 + r, 4.25]}})
              + "\n")
  header, *rows = _rows(evidence_focus2.dd_growth(root))
  assert header == ["run", "200", "300", "400", "500", "600", "700"]
  label = "the paper's start (a_init 1.1), random, seed 0"
  assert rows[0] == [f"{label}: depth / active filters", "3.50 / 35",
                     "3.60 / 36", "3.70 / 37", "3.80 / 38", "3.90 / 39",
                     "4.00 / 40"]
  assert rows[1] == [f"{label}: test accuracy (%)"] + ["50.0"] * 6
  assert len(rows) == 2
  # The growth from the first to the last round: one seed, inconclusive.
  assert evidence_focus2.growth_effects(root) == {
      "active filters": [pytest.approx(5.0)],
      "expected depth": [pytest.approx(0.5)]}
  assert "(1 seed;" in evidence_focus2.dd_growth_verdict(root)


def test_spread_effect_by_hand(tmp_path):
  """Two networks, two acquisitions, two seeds, flat curves (points):
  cnn1 50 / 52 and cnn5 60 / 61 (random / margin) in seed 0, and the
  same + 1 for cnn5 in seed 1. Seed 0: across networks (10 + 9) / 2 =
  9.5, across acquisitions (2 + 1) / 2 = 1.5: +8.0; seed 1: 10.5 - 1.5 =
  +9.0."""
  root = str(tmp_path)
  for seed, lift in ((0, 0.0), (1, 0.01)):
    for net, accs in (("cnn1", (0.50, 0.52)), ("cnn5", (0.60, 0.61))):
      for acq, a in zip(("random", "margin"), accs, strict=True):
        _write(root, "focus2_medium", f"{net}_{acq}_s{seed}", dict(
            method=net, mode="joint", acquisition=acq, seed=seed),
            [a + (lift if net == "cnn5" else 0.0)] * 6)
  acqs, effects = evidence_focus2.spread_effects(root)
  assert acqs == ["margin", "random"]
  assert list(effects) == ["every network (cnn1, cnn5)"]
  np.testing.assert_allclose(effects["every network (cnn1, cnn5)"],
                             [8.0, 9.0], atol=1e-9)
  assert "+8.50 [+8.00, +9.00]: **holds**" in (
      evidence_focus2.spread_verdict(root))


@pytest.mark.skipif(not os.path.isdir(ROOT), reason="no focus2 records")
def test_bbdropout_gates_against_numpy():
  gates, keep = [], []
  for cell in sorted(os.listdir(ROOT)):
    if not cell.startswith("fashion_mnist_bbdropout_joint"):
      continue
    with open(os.path.join(ROOT, cell, "metrics.jsonl")) as f:
      arch = [json.loads(line)["architecture"] for line in f]
    if len(arch) == 6:
      gates.append([sum(a["active_filters"]) for a in arch])
      keep.append([np.mean(a["expected_pi"]) for a in arch])
  rows = {r[0]: r[1:] for r in _rows(evidence_focus2.bbdropout_gates(
      RECORDS))}
  np.testing.assert_allclose([float(v) for v in rows["open gates (of 256)"]],
                             np.mean(gates, 0), atol=0.051)
  np.testing.assert_allclose([float(v) for v in rows["mean E[pi]"]],
                             np.mean(keep, 0), atol=0.00051)
