"""Finding 5's generated blocks against hand-built records whose answer is
known."""

import json
import os

import numpy as np

from experiments import evidence_modes


def _write(root, grid, cell, method, mode, acq, seed, accs):
  folder = os.path.join(root, grid, "runs", cell)
  os.makedirs(folder)
  with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(dict(method=method, mode=mode, acquisition=acq, seed=seed), f)
  with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for r, a in enumerate(accs):
      f.write(json.dumps({"round": r, "labeled": 200 + 100 * r,
                          "test_accuracy": a}) + "\n")


def test_modes_are_paired_by_acquisition_and_seed(tmp_path):
  """BBDropout with random, seeds 0-2: SPO 1, 2 and 3 AUC points above
  joint, UPO 1 point below joint in every seed; Depth-Dropout's SPO has
  one seed and no joint run to pair with."""
  root = str(tmp_path)
  base = np.linspace(0.70, 0.80, 6)
  for seed, lift in enumerate((0.01, 0.02, 0.03)):
    _write(root, "focus2_medium", f"j{seed}", "bbdropout", "joint", "random",
           seed, base.tolist())
    _write(root, "focus2_medium_modes", f"s{seed}", "bbdropout", "spo",
           "random", seed, (base + lift).tolist())
    _write(root, "focus2_medium_modes", f"u{seed}", "bbdropout", "upo",
           "random", seed, (base - 0.01).tolist())
  _write(root, "focus2_medium_modes", "dd", "depth_dropout", "spo", "margin",
         0, base.tolist())
  table = evidence_modes.modes_table(root)
  # Joint's AUC: the trapezoid of a straight line from 70 to 80 is 75.
  assert "| bbdropout, random | 75.0 (80.0), 3 | 77.0 (82.0), 3 | " \
         "74.0 (79.0), 3 |" in table
  assert "| depth_dropout, margin | not run yet | 75.0 (80.0), 1 | " \
         "not run yet |" in table
  verdict = evidence_modes.modes_verdict(root)
  assert ("| bbdropout | +2.00 [+1.00, +3.00]: **holds** (1 acq., 3 seeds) "
          "| +1.00 [+1.00, +1.00]: **holds** (1 acq., 3 seeds) | **holds** |"
          ) in verdict
  assert ("| depth_dropout | no paired run | no paired run | "
          "**inconclusive** |") in verdict
  # Depth-Dropout and PDARTS have not run: the finding is inconclusive.
  assert verdict.endswith("for every method: **inconclusive**.\n")
