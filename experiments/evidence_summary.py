"""REPRODUCTION.md's summary table: one row per finding of the paper, each
with the effects its section's verdict rests on (the mean over seeds of
the per-seed effect, its 95 % bootstrap interval over seeds and the
rule's verdict) and the finding's verdict, all from the committed records.
"""

import statistics

from experiments import (
    evidence,
    evidence_focus1,
    evidence_focus2,
    evidence_initial,
    evidence_modes,
    evidence_toy,
)

__all__ = ["summary"]

_WORDS = ("holds", "does not hold", "inconclusive")


def _verdicts(cell: str) -> list[str]:
  return [w for w in _WORDS for _ in range(cell.count(f"**{w}**"))]


def _all_hold(cells: list[str]) -> str:
  """`evidence.claim_all_hold` over the cells' verdicts; a cell without
  one (its runs have not finished) leaves the finding inconclusive."""
  if not all(map(_verdicts, cells)):
    return "inconclusive"
  return evidence.claim_all_hold([w for c in cells for w in _verdicts(c)])


def _some_each_way(cells: list[str]) -> str:
  return evidence.claim_some_each_way([w for c in cells
                                       for w in _verdicts(c)])


def _cells(effects: dict[str, list[float]]) -> list[str]:
  return [f"{k}: {evidence.effect_cell(v, 'no finished run')}"
          for k, v in effects.items()]


def _rank(records):
  _, effects = evidence_focus1.rank_effects(records)
  return _cells({"tau-b within a backbone minus across backbones":
                 effects}), _all_hold


def _pretrain(records):
  effects, _ = evidence_focus1.pretrain_effects(records)
  return _cells({f"{evidence.NAMES[data]} / {net}": e["per_seed"]
                 for (data, net), e in effects.items()}), _some_each_way


def _optimised(records):
  runs = evidence_focus2.finished_runs(records)
  nets = sorted({k[0] for k in runs if ", " in k[0]
                 and not k[0].endswith("upo")})
  out = {}
  for net in nets:
    for base in ("cnn5", "cnn9"):
      acqs, _, effects = evidence_focus2.paired_effects(runs, net, base)
      if effects:
        out[f"{net} − {base} ({len(acqs)} acq.)"] = effects
  return _cells(out), _all_hold


def _spread(records):
  return _cells(evidence_focus2.spread_effects(records)[1]), _all_hold


def _modes(records):
  runs = evidence_focus2.finished_runs(records)
  out = {}
  for method in evidence_modes.METHODS:
    for high, low in (("spo", "joint"), ("joint", "upo")):
      _, _, effects = evidence_focus2.paired_effects(
          runs, f"{method}, {high}", f"{method}, {low}")
      out[f"{method} {evidence_modes.MODE_NAMES[high]} − "
          f"{evidence_modes.MODE_NAMES[low]}"] = effects
  return _cells(out), _all_hold


def _growth(records):
  return _cells(evidence_focus2.growth_effects(records)), _all_hold


def _initial(records):
  return _cells(evidence_initial.initial_effects(records)), _all_hold


def _toy(records):
  _, gains = evidence_toy.toy_gains_per_seed(records)
  return _cells({f"entropy − random, MLP {net}": [
      statistics.mean(curve[1:6]) for curve in curves]
      for net, curves in gains.items()}), _some_each_way


_ROWS = (
    ("the ranking of acquisition functions changes with the backbone",
     _rank),
    ("unsupervised pretraining helps some backbones and hurts others",
     _pretrain),
    ("optimised architectures (joint, SPO) beat the fixed CNNs", _optimised),
    ("the spread across architectures exceeds the spread across "
     "acquisitions", _spread),
    ("SPO >= joint > UPO", _modes),
    ("Depth-Dropout's depth and width grow with the labels", _growth),
    ("a larger initial set helps early, and its advantage shrinks",
     _initial),
    ("the toy: whether uncertainty sampling beats random depends on the "
     "architecture", _toy),
)


def summary(records: str) -> str:
  """The summary table: per finding, its effects (AUC or accuracy points,
  or tau-b for the first) and the finding's verdict by the rule."""
  lines = ["| # | the paper | jaxdal: per-seed effects, mean [95 % "
           "interval]: verdict | finding |", "|---|---|---|---|"]
  for number, (claim, effects) in enumerate(_ROWS, start=1):
    cells, rule = effects(records)
    lines.append(f"| {number} | {claim} | {'; '.join(cells) or 'no run'} | "
                 f"**{rule(cells)}** |")
  return "\n".join(lines) + "\n"
