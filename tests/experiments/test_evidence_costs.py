"""The cost table against hand-built records."""

import json
import os

from experiments import evidence_costs


def test_minutes_are_the_recorded_phases_summed(tmp_path):
  # Two cnn5 runs of 2 rounds: (60 + 30) s and (120 + 60 + 6) s of phases
  # (compilations are not seconds): 1.5 and 3.1 minutes.
  for cell, times in (("a", [{"train_s": 50.0, "select_s": 10.0},
                             {"train_s": 30.0, "compilations": 7}]),
                      ("b", [{"train_s": 120.0, "complexity_s": 60.0},
                             {"search_s": 6.0}])):
    folder = tmp_path / "focus2_medium" / "runs" / cell
    os.makedirs(folder)
    (folder / "config.json").write_text(json.dumps(
        dict(method="cnn5", mode="joint", acquisition="random", seed=0)))
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"round": r, "time": t, "host": {"cpu": "X"}}) + "\n"
        for r, t in enumerate(times)))
  table = evidence_costs.cell_costs(str(tmp_path))
  assert "| focus2_medium | cnn5 | 2 | 2.30 (1.50) | X |" in table
