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

def _all_hold(verdicts: list[str | None]) -> str:
  """`evidence.claim_all_hold`; an effect not run yet (None) leaves the
  finding inconclusive unless another does not hold."""
  if None in verdicts and "does not hold" not in verdicts:
    return "inconclusive"
  return evidence.claim_all_hold([v for v in verdicts if v])


def _some_each_way(verdicts: list[str | None]) -> str:
  return evidence.claim_some_each_way(verdicts)


def _rank(records):
  _, effects = evidence_focus1.rank_effects(records)
  return {"tau-b within a backbone minus across backbones": effects}, \
      _all_hold


def _pretrain(records):
  effects, _ = evidence_focus1.pretrain_effects(records)
  return {f"{evidence.NAMES[data]} / {net}": e["per_seed"]
          for (data, net), e in effects.items()}, _some_each_way


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
  return out, _all_hold


def _spread(records):
  return evidence_focus2.spread_effects(records)[1], _all_hold


def _modes(records):
  runs = evidence_focus2.finished_runs(records)
  out = {}
  for method in evidence_modes.METHODS:
    for high, low in (("spo", "joint"), ("joint", "upo")):
      _, _, effects = evidence_focus2.paired_effects(
          runs, f"{method}, {high}", f"{method}, {low}")
      out[f"{method} {evidence_modes.MODE_NAMES[high]} − "
          f"{evidence_modes.MODE_NAMES[low]}"] = effects
  return out, _all_hold


def _growth(records):
  return evidence_focus2.growth_effects(records), _all_hold


def _initial(records):
  return evidence_initial.initial_effects(records), _all_hold


def _toy(records):
  _, gains = evidence_toy.toy_gains_per_seed(records)
  return {f"entropy − random, MLP {net}": [
      statistics.mean(curve[1:6]) for curve in curves]
      for net, curves in gains.items()}, _some_each_way


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
  lines = ["| # | the paper | jaxdal: per-seed effects (seeds), mean [95 % "
           "interval]: verdict | finding |", "|---|---|---|---|"]
  for number, (claim, row) in enumerate(_ROWS, start=1):
    effects, rule = row(records)
    cells = [f"{k}{f' ({len(v)} seeds)' if len(v) > 1 else ''}: "
             f"{evidence.effect_cell(v, 'no finished run')}"
             for k, v in effects.items()]
    verdict = rule([evidence.effect_verdict(v) for v in effects.values()])
    lines.append(f"| {number} | {claim} | {'; '.join(cells) or 'no run'} | "
                 f"**{verdict}** |")
  return "\n".join(lines) + "\n"
