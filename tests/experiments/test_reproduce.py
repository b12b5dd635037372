"""REPRODUCTION.md's generated blocks against the committed records."""

import json
import os

import pytest

from experiments import evidence, evidence_initial, evidence_toy, reproduce
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
  table = evidence_toy.toy_gains(str(tmp_path)).splitlines()
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
  text = evidence_initial.initial_advantage(str(tmp_path))
  assert "is 10.0 points at round 0 and 4.0 at round 2" in text
  assert "within 5.0 points at 200 labels (60.0 / 65.0)" in text


def test_seed_interval_enumerates_every_resample():
  import itertools

  import numpy as np
  # Three seeds: each extreme resample is 1/27 likely (> 2.5 %), so the
  # interval is the smallest and the largest seed.
  assert evidence.seed_interval([-2.4, 4.3, 0.9]) == pytest.approx(
      (0.9333333, -2.4, 4.3))
  # Four seeds, against NumPy's percentile convention on the 256 means.
  values = [1.0, 2.0, 4.0, 8.0]
  means = np.sort([np.mean(c) for c in itertools.product(values, repeat=4)])
  mean, low, high = evidence.seed_interval(values)
  assert (low, high) == (means[int(0.025 * 256)], means[-1 - int(0.025 * 256)])
  assert mean == 3.75
  with pytest.raises(ValueError, match="2 to 6 seeds, got 1"):
    evidence.seed_interval([1.0])


def test_the_rule_and_its_flags():
  assert evidence.rule_verdict(0.1, 2.0) == "holds"
  assert evidence.rule_verdict(-2.0, -0.1) == "does not hold"
  assert evidence.rule_verdict(-0.1, 2.0) == "inconclusive"
  text = ("<!-- generated: toy_verdict -->\nthe claim: **inconclusive**.\n"
          "<!-- end generated -->\n<!-- claimed verdict toy_verdict: holds "
          "-->\n")
  assert reproduce.flags_of(text) == [
      "the prose claims 'holds' for toy_verdict; its records give "
      "'inconclusive'"]
  assert not reproduce.flags_of(text.replace(": holds -->",
                                             ": inconclusive -->"))
  table = ("<!-- generated: summary -->\n| 1 | a | **holds** |\n"
           "| 2 | b | **does not hold** |\n<!-- end generated -->\n")
  assert not reproduce.flags_of(
      table + "<!-- claimed verdict summary#1: holds -->\n")
  assert reproduce.flags_of(
      table + "<!-- claimed verdict summary#2: holds -->\n") == [
          "the prose claims 'holds' for summary#2; its records give "
          "'does not hold'"]


def test_the_committed_document_has_no_flagged_verdict():
  with open(os.path.join(REPO, "REPRODUCTION.md")) as f:
    assert reproduce.flags_of(f.read()) == []


def test_kendall_null_against_scipy():
  """The 95 % point of |tau-b| over all orders of n items, against
  scipy.stats.kendalltau on the same enumeration."""
  import itertools

  import numpy as np
  from scipy import stats
  for n in (4, 6):
    taus = np.sort([abs(stats.kendalltau(np.arange(n), p).statistic)
                    for p in itertools.permutations(range(n))])
    want = taus[int(np.ceil(0.95 * len(taus))) - 1]
    assert evidence.kendall_null(n) == pytest.approx(want)
    assert np.mean(taus >= want - 1e-12) >= 0.05


def test_claims_and_effect_verdicts():
  assert evidence.effect_verdict([]) is None
  assert evidence.effect_verdict([1.0]) == "inconclusive"
  assert evidence.effect_verdict([1.0, 2.0, 3.0]) == "holds"
  assert evidence.claim_all_hold(["holds", "holds"]) == "holds"
  assert evidence.claim_all_hold([]) == "inconclusive"
  assert evidence.claim_all_hold(["holds", "does not hold"]) == (
      "does not hold")
  assert evidence.claim_some_each_way(["holds", "does not hold"]) == "holds"
  assert evidence.claim_some_each_way(["holds", "holds"]) == "inconclusive"
