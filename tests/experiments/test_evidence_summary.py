"""The summary table's rules, and its rows against the sections' own
generated verdicts on the committed records."""

import os

import pytest

from experiments import evidence_summary, reproduce
from tests.conftest import REPO

RECORDS = os.path.join(REPO, "docs", "reproduction")


def test_the_rules():
  assert evidence_summary._all_hold(["holds", "holds"]) == "holds"
  assert evidence_summary._all_hold(["holds", "inconclusive"]) == (
      "inconclusive")
  assert evidence_summary._all_hold(["holds", "does not hold"]) == (
      "does not hold")
  # An effect not run yet: inconclusive, unless another does not hold.
  assert evidence_summary._all_hold(["holds", None]) == "inconclusive"
  assert evidence_summary._all_hold(["does not hold", None]) == (
      "does not hold")
  assert evidence_summary._some_each_way(["holds", "does not hold"]) == (
      "holds")
  assert evidence_summary._some_each_way(["holds", None]) == "inconclusive"


@pytest.mark.skipif(not os.path.isdir(RECORDS), reason="no records")
def test_rows_repeat_the_sections_effects():
  rows = {line.split(" | ")[0].lstrip("| "): line for line in
          evidence_summary.summary(RECORDS).splitlines()[2:]}
  assert len(rows) == 8
  rank = reproduce.BLOCKS["rank_verdict"](RECORDS)
  effect = rank.split("): ")[1].split(", seeds")[0]
  assert effect in rows["1"]
  for name, row in (("initial_verdict", "7"), ("spread_verdict", "4")):
    for part in reproduce.BLOCKS[name](RECORDS).rstrip(".\n").split(": ",
                                                                     1)[1]\
        .split("; "):
      assert part.split(": ", 1)[1] in rows[row]
