"""The complexity table against hand-built records."""

import json
import os

from experiments import evidence_complexity


def test_measures_are_means_and_gains_are_paired(tmp_path):
  # cnn5, seeds 0 and 1: random flat at 70 %, margin flat at 72 % and 73 %
  # (gains +2 and +3 AUC points: +2.50); TwoNN 4 in every random round and
  # 6 in every margin round (mean 5).
  for seed, lift in ((0, 0.02), (1, 0.03)):
    for acq, acc, dim in (("random", 0.70, 4.0), ("margin", 0.70 + lift,
                                                  6.0)):
      folder = tmp_path / "focus2_medium" / "runs" / f"{acq}_s{seed}"
      os.makedirs(folder)
      (folder / "config.json").write_text(json.dumps(
          dict(method="cnn5", mode="joint", acquisition=acq, seed=seed)))
      pool = dict(twonn=dim, effective_rank=10.0, participation_ratio=3.0,
                  fisher_ratio=0.2, boundary_fraction=0.3)
      (folder / "metrics.jsonl").write_text("".join(json.dumps(
          {"round": r, "labeled": 200 + 100 * r, "test_accuracy": acc,
           "complexity": {"pool": pool}}) + "\n" for r in range(6)))
  table = evidence_complexity.complexity_table(str(tmp_path))
  assert "| cnn5 | 4 | 5 | 10 | 3 | 0.2 | 0.3 | 0.00 | +2.50 |" in table
