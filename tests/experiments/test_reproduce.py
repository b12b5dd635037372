"""REPRODUCTION.md's generated blocks against the committed records."""

import json
import os

import pytest

from experiments import reproduce
from tests.conftest import REPO


def test_the_document_equals_what_its_records_generate():
  with open(os.path.join(REPO, "REPRODUCTION.md")) as f:
    text = f.read()
  assert "<!-- generated: " in text
  assert reproduce.render(text, os.path.join(REPO, "docs",
                                             "reproduction")) == text


def _toy_run(folder, accuracies):
  os.makedirs(folder)
  with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
    for r, acc in enumerate(accuracies):
      f.write(json.dumps({"round": r, "test_accuracy": acc}) + "\n")


def test_toy_gains_are_entropy_minus_random_in_points(tmp_path):
  # Seed 0: entropy 0.02 above random in rounds 1-5, 0.05 above at the end;
  # seed 1: 0.01 below everywhere. Means by hand: +2.0 / -1.0, mean +0.5.
  for net in ("2", "4-2", "4-4-2"):
    base = [0.5, 0.6, 0.6, 0.7, 0.7, 0.8]
    _toy_run(tmp_path / "toy/runs/s0" / f"mlp{net}_random", base)
    _toy_run(tmp_path / "toy/runs/s0" / f"mlp{net}_entropy",
             [b + 0.02 for b in base[:5]] + [base[5] + 0.02])
    _toy_run(tmp_path / "toy/runs/s1" / f"mlp{net}_random", base)
    _toy_run(tmp_path / "toy/runs/s1" / f"mlp{net}_entropy",
             [b - 0.01 for b in base])
  table = reproduce.toy_gains(str(tmp_path)).splitlines()
  assert table[0].startswith("| MLP | mean gain over rounds 1-5, seeds 0 / 1")
  assert table[2] == "| 2 | +2.0 / -1.0 | +0.5 | +2.0 / -1.0 |"
  assert len(table) == 5


def test_prose_is_kept_and_bad_markers_are_one_line_errors(tmp_path):
  template = "prose\n<!-- generated: nope -->\nold\n<!-- end generated -->\n"
  with pytest.raises(ValueError, match="unknown generated block 'nope'"):
    reproduce.render(template, str(tmp_path))
  with pytest.raises(ValueError, match="has no '<!-- end generated -->'"):
    reproduce.render("<!-- generated: toy_gains -->\nx\n", str(tmp_path))
  assert reproduce.render("only prose\n", str(tmp_path)) == "only prose\n"


def test_initial_advantage_by_hand(tmp_path):
  # Two starts (100, 200), one acquisition, one seed, 3 rounds of 100:
  # 200 - 100 is 10 points at round 0 and 4 at round 2; at 200 labels the
  # starts give 60 (round 1 of 100) and 65 (round 0 of 200).
  for initial, accs in ((100, [0.55, 0.60, 0.66]),
                        (200, [0.65, 0.68, 0.70])):
    _toy_run(tmp_path / "focus1_initial/runs" /
             f"fashion_mnist_cnn_{initial}_random_s0", accs)
  text = reproduce.initial_advantage(str(tmp_path))
  assert "is 10.0 points at round 0 and 4.0 at round 2" in text
  assert "within 5.0 points at 200 labels (60.0 / 65.0)" in text
