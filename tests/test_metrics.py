"""The paper's measures: golden values (anchors (d) 8-9) and edge cases."""

import numpy as np
import pytest

from jaxdal import metrics

RANDOM = ([100, 200, 300, 400], [0.5, 0.6, 0.7, 0.8])
ACTIVE = ([100, 200, 300, 400], [0.5, 0.65, 0.75, 0.82])


def test_labeling_efficiency_golden():
  le = metrics.labeling_efficiency(RANDOM, ACTIVE, [0.6, 0.7, 0.75, 0.8])
  np.testing.assert_allclose(le, [1.2, 1.2, 1.1667, 1.0769], atol=1e-4)


def test_random_against_itself_is_one():
  targets = metrics.accuracy_targets(RANDOM, num=7)
  np.testing.assert_allclose(targets[[0, -1]], [0.5, 0.8])
  np.testing.assert_allclose(
      metrics.labeling_efficiency(RANDOM, RANDOM, targets), 1.0)


def test_never_reached_target_is_nan():
  weak = ([100, 200, 300, 400], [0.5, 0.55, 0.6, 0.62])
  le = metrics.labeling_efficiency(RANDOM, weak, [0.6, 0.7])
  assert le[0] == pytest.approx(200 / 300)
  assert np.isnan(le[1])


def test_first_crossing_of_a_non_monotone_curve():
  bumpy = ([100, 200, 300, 400], [0.5, 0.72, 0.6, 0.9])
  assert metrics.size_to_reach(*bumpy, 0.7) == pytest.approx(
      100 + 0.2 / 0.22 * 100)
  assert metrics.size_to_reach(*bumpy, 0.5) == 100.0


def test_gain_over_random():
  strategy = np.array([[0.5, 0.7], [0.5, 0.6]])
  random = np.array([[0.5, 0.6], [0.5, 0.6]])
  mean, std = metrics.gain_over_random(strategy, random)
  np.testing.assert_allclose(mean, [0.0, 0.05])
  np.testing.assert_allclose(std, [0.0, 0.05])
  mean, std = metrics.gain_over_random(strategy[0], random[0])  # one seed
  np.testing.assert_allclose(std, 0.0)
  with pytest.raises(ValueError, match="same"):
    metrics.gain_over_random(strategy, random[:1])


def test_normalised_auc():
  assert metrics.normalised_auc([0.5, 0.6, 0.7, 0.8]) == pytest.approx(0.65)
  assert metrics.normalised_auc([0.7]) == 0.7


def test_spread_both_ways():
  table = {("cnn1", "entropy"): [0.5, 0.7], ("cnn1", "random"): [0.5, 0.6],
           ("cnn5", "entropy"): [0.4, 0.8], ("cnn5", "random"): [0.6, 0.65]}
  by_arch = metrics.spread(table, over="acquisition")
  np.testing.assert_allclose(by_arch["cnn1"], [0.0, 0.1])
  np.testing.assert_allclose(by_arch["cnn5"], [0.2, 0.15])
  by_acq = metrics.spread(table, over="architecture")
  np.testing.assert_allclose(by_acq["entropy"], [0.1, 0.1])
  with pytest.raises(ValueError, match="over"):
    metrics.spread(table, over="seed")


def test_complexity_curves_average_runs_of_a_group():
  def run(seed, values):
    records = [{"round": i, "labeled": 10 * (i + 1), "test_accuracy": 0.5,
                "complexity": {"pool": {"n": 5, "twonn": v,
                                        "boundary_fraction": None}}}
               for i, v in enumerate(values)]
    config = {"dataset": "d", "backbone": "cnn", "acquisition": "random",
              "seed": seed, "initial": 10}
    return metrics.Run(f"r{seed}", config, records)
  out = metrics.complexity_curves([run(0, [2.0, 4.0]), run(1, [4.0, 6.0])])
  sizes, values = out[("d", "cnn", "none", 10)]["twonn"]
  assert sizes.tolist() == [10, 20] and values.tolist() == [3.0, 5.0]
  assert "boundary_fraction" not in out[("d", "cnn", "none", 10)]


def test_metrics_jsonl_is_strict_json(tmp_path):
  path = str(tmp_path / "m.jsonl")
  metrics.write_jsonl(path, [{"val_accuracy": float("nan"),
                              "nested": [float("inf"), 1.5]}])
  text = (tmp_path / "m.jsonl").read_text()
  assert "NaN" not in text and "Infinity" not in text
  assert metrics.read_jsonl(path) == [{"val_accuracy": None,
                                       "nested": [None, 1.5]}]


def test_malformed_runs_are_skipped_and_named(tmp_path):
  good, bad, broken = (tmp_path / n for n in ("good", "bad", "broken"))
  for folder in (good, bad, broken):
    folder.mkdir()
    (folder / "config.json").write_text('{"dataset": "d"}')
  (good / "metrics.jsonl").write_text(
      '{"round": 0, "labeled": 5, "test_accuracy": 0.5}\n')
  (bad / "metrics.jsonl").write_text('{"round": 0, "labeled": 5}\n')
  (broken / "metrics.jsonl").write_text('{"round": 0,\n')
  skipped = []
  runs = metrics.collect_runs(str(tmp_path), skipped)
  assert [r.path for r in runs] == [str(good)]
  assert len(skipped) == 2
  assert f"{bad / 'metrics.jsonl'} line 1: lacks test_accuracy" in skipped
  assert any(note.startswith(f"{broken}: unreadable") for note in skipped)
