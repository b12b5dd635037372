"""REPRODUCTION.md's finding 5 (SPO >= joint > UPO), from the joint runs of
`focus2_medium` and the SPO and UPO runs of `focus2_medium_modes`.

A mode is compared with another of the same method paired by acquisition
and seed, over the acquisitions and seeds both finished
(`evidence_focus2.paired_effects`).
"""

import statistics

from experiments import evidence, evidence_focus2

__all__ = ["METHODS", "MODE_NAMES", "modes_table", "modes_verdict"]

METHODS = ("bbdropout", "depth_dropout", "pdarts")
_MODES = ("joint", "spo", "upo")
MODE_NAMES = {"joint": "joint", "spo": "SPO", "upo": "UPO"}


def modes_table(records: str) -> str:
  """Normalised AUC (points) and test accuracy at the last round (%) of
  each method, acquisition and mode: means over the finished seeds, with
  how many."""
  runs = evidence_focus2.finished_runs(records)
  lines = ["| method, acquisition | " + " | ".join(
      f"{MODE_NAMES[m]}: AUC (final %), seeds" for m in _MODES) + " |",
      "|---|" + "---|" * len(_MODES)]
  for method in METHODS:
    mine = {k: v for k, v in runs.items()
            if k[0].split(", ")[0] == method}
    acqs = sorted({k[1] for k in mine if not k[0].endswith("joint")})
    for acq in acqs:
      cells = []
      for mode in _MODES:
        have = [v for k, v in mine.items()
                if k[0] == f"{method}, {mode}" and k[1] == acq]
        if not have:
          cells.append("not run yet")
          continue
        auc = 100 * statistics.mean(v["auc"] for v in have)
        final = 100 * statistics.mean(v["curve"][-1] for v in have)
        cells.append(f"{auc:.1f} ({final:.1f}), {len(have)}")
      lines.append(f"| {method}, {acq} | " + " | ".join(cells) + " |")
  if len(lines) == 2:
    lines.append("| (no SPO or UPO run has finished) |" + " |" * len(_MODES))
  return "\n".join(lines) + "\n"


def modes_verdict(records: str) -> str:
  """Per method: SPO's AUC minus joint's and joint's minus UPO's (points,
  paired by acquisition and seed), with the interval over seeds and the
  rule's verdict; a method's verdict holds where both do, and the finding
  where every method's does (a method not run yet leaves it
  inconclusive)."""
  runs = evidence_focus2.finished_runs(records)
  lines = ["| method | SPO − joint | joint − UPO | the method |",
           "|---|---|---|---|"]
  verdicts = []
  for method in METHODS:
    cells, words = [], []
    for high, low in (("spo", "joint"), ("joint", "upo")):
      acqs, seeds, effects = evidence_focus2.paired_effects(
          runs, f"{method}, {high}", f"{method}, {low}")
      words.append(evidence.effect_verdict(effects))
      cells.append(evidence.effect_cell(effects, "no paired run")
                   + (f" ({len(acqs)} acq., {len(seeds)} seed"
                      f"{'s' if len(seeds) > 1 else ''})" if seeds else ""))
    verdicts.append(evidence.claim_all_hold(words) if None not in words
                    else "inconclusive")
    lines.append(f"| {method} | " + " | ".join(cells)
                 + f" | **{verdicts[-1]}** |")
  return ("\n".join(lines) + "\n\nEach effect: the mean over seeds of the "
          "per-seed AUC difference (over the acquisitions both modes "
          "finished), its 95 % bootstrap interval over seeds and the "
          "verdict by the stated rule. SPO >= joint > UPO for every method: "
          f"**{evidence.claim_all_hold(verdicts)}**.\n")
