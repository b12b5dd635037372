"""Findings 1 and 2's generated numbers, recomputed from the committed
records with NumPy and SciPy (trapezoid AUCs, scipy's tau-b)."""

import json
import os

import numpy as np
import pytest
from scipy import stats

from experiments import evidence_focus1
from tests.conftest import REPO

RECORDS = os.path.join(REPO, "docs", "reproduction")
ROOT = os.path.join(RECORDS, "focus1_medium", "runs")
ACQS = ("random", "entropy", "margin", "bald", "coreset", "badge")


def _curve(cell: str) -> np.ndarray:
  with open(os.path.join(ROOT, cell, "metrics.jsonl")) as f:
    return np.array([json.loads(line)["test_accuracy"] for line in f])


def _auc(cell: str) -> float:
  y = _curve(cell)
  return float(np.trapezoid(y) / (len(y) - 1))


def _rows(table: str) -> dict[str, list[str]]:
  return {cells[0]: cells[1:] for line in table.splitlines()
          if line.startswith("| ") and not line.startswith("| data")
          for cells in [[c.strip() for c in line.strip("|").split("|")]]}


@pytest.mark.skipif(not os.path.isdir(ROOT), reason="no focus1_medium records")
def test_rank_tau_against_scipy():
  rows = _rows(evidence_focus1.rank_tau(RECORDS))
  for data, name in (("fashion_mnist", "Fashion-MNIST"),
                     ("mnist5k", "mnist5k")):
    for pre, pname in (("none", "none"), ("deepcluster", "DeepCluster")):
      means = {net: [np.mean([_auc(f"{data}_{net}_{a}_{pre}_s{s}")
                              for s in range(3)]) for a in ACQS]
               for net in ("cnn", "mlp")}
      tau = stats.kendalltau(means["cnn"], means["mlp"]).statistic
      row = rows[f"{name}, {pname}"]
      assert float(row[0]) == pytest.approx(tau, abs=0.005)
      per_seed = [stats.kendalltau(
          [_auc(f"{data}_cnn_{a}_{pre}_s{s}") for a in ACQS],
          [_auc(f"{data}_mlp_{a}_{pre}_s{s}") for a in ACQS]).statistic
          for s in range(3)]
      np.testing.assert_allclose([float(v) for v in row[1].split(", ")],
                                 per_seed, atol=0.005)


@pytest.mark.skipif(not os.path.isdir(ROOT), reason="no focus1_medium records")
def test_pretrain_table_against_numpy():
  rows = _rows(evidence_focus1.pretrain_table(RECORDS))
  for data, name in (("fashion_mnist", "Fashion-MNIST"),
                     ("mnist5k", "mnist5k")):
    for net in ("cnn", "mlp"):
      change = np.array([[100 * (_auc(f"{data}_{net}_{a}_deepcluster_s{s}")
                                 - _auc(f"{data}_{net}_{a}_none_s{s}"))
                          for a in ACQS] for s in range(3)])
      row = rows[f"{name} / {net}"]
      assert row[0] == "18"
      assert float(row[1]) == pytest.approx(change.mean(), abs=0.005)
      assert row[4] == f"{int((change > 0).sum())} of 18"
      per_seed = change.mean(1)
      assert row[3] == f"[{per_seed.min():+.2f}, {per_seed.max():+.2f}]"


def test_a_half_done_seed_is_left_out(tmp_path):
  # Seed 0 has both acquisitions, seed 1 only random: seed 1 is dropped.
  root = tmp_path / "focus1_medium" / "runs"
  for cell in ("mnist5k_cnn_random_none_s0", "mnist5k_cnn_margin_none_s0",
               "mnist5k_cnn_random_none_s1"):
    os.makedirs(root / cell)
  assert sorted(k[4] for k in evidence_focus1._runs(str(tmp_path))) == [0, 0]


RESNET = os.path.join(RECORDS, "focus1_medium_resnet_s11", "runs")


@pytest.mark.skipif(not os.path.isdir(RESNET), reason="no ResNet records")
def test_resnet_rows_against_numpy():
  table = evidence_focus1.resnet_table(RECORDS)
  for cell in sorted(os.listdir(RESNET)):
    with open(os.path.join(RESNET, cell, "metrics.jsonl")) as f:
      y = np.array([json.loads(line)["test_accuracy"] for line in f])
    acq, pre = cell.split("_")[3:5]
    name = {"none": "none", "deepcluster": "DeepCluster"}[pre]
    assert (f"| {acq}, {name} | 0 | "
            f"{100 * np.trapezoid(y) / (len(y) - 1):.1f} | "
            f"{100 * y[-1]:.1f} |") in table
  assert "ResNet-18 2000 / 256 / 1000 / 15" in table
