"""When to stop labelling: stopping criteria of active learning, computed
every round on a fixed stop set of unlabeled examples and recorded; a run
given `stop_when` ends at the first round whose criterion holds.

- `kappa`, stabilising predictions (Bloodgood and Vijay-Shanker, "A
  Method for Stopping Active Learning Based on Stabilizing Predictions and
  the Need for User-Adjustable Stopping", CoNLL 2009): Cohen's kappa
  between consecutive rounds' predictions on the stop set,

    kappa = (p_o - p_e) / (1 - p_e),  p_e = sum_c a_c b_c,

  with `p_o` the share of agreeing rows and `a_c`, `b_c` the two rounds'
  class frequencies; stop when the mean of the last `KAPPA_WINDOW` (3)
  kappas reaches `KAPPA_THRESHOLD` (0.99), as small-text's
  `KappaAverage`. Identical predictions give 1.
- `uncertainty`, overall uncertainty (Zhu, Wang and Hovy, "Multi-Criteria
  Based Strategy to Stop Active Learning for Data Annotation", COLING
  2008): the mean normalised entropy `H(p) / log C` over the stop set
  falls below `UNCERTAINTY_THRESHOLD` (0.05), as small-text's
  `OverallUncertainty`.
- `budget`: the round trained on at least `max_labels` labels (baal's
  `LabellingBudget`).

  >>> import numpy as np
  >>> float(cohens_kappa(np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0]), 2))
  0.0
"""

from collections.abc import Sequence

import numpy as np

__all__ = ["CRITERIA", "KAPPA_THRESHOLD", "KAPPA_WINDOW",
           "UNCERTAINTY_THRESHOLD", "cohens_kappa", "overall_uncertainty",
           "reason_to_stop", "round_record"]

CRITERIA = ("none", "kappa", "uncertainty", "budget")
KAPPA_WINDOW = 3
KAPPA_THRESHOLD = 0.99
UNCERTAINTY_THRESHOLD = 0.05


def cohens_kappa(a: np.ndarray, b: np.ndarray, num_classes: int) -> float:
  """Cohen's kappa of two labelings (NumPy: a record's host-side measure,
  which no round should compile).

  Args:
    a: `[N]` int class ids.
    b: `[N]` int class ids of the same rows.
    num_classes: C.

  Returns:
    kappa in [-1, 1]; 1 where chance agreement is total (both labelings
    one and the same class).
  """
  a, b = np.asarray(a), np.asarray(b)
  observed = np.mean(a == b)
  freq_a = np.bincount(a, minlength=num_classes) / len(a)
  freq_b = np.bincount(b, minlength=num_classes) / len(b)
  chance = float(np.sum(freq_a * freq_b))
  return 1.0 if chance >= 1.0 else float((observed - chance)
                                         / (1.0 - chance))


def overall_uncertainty(probs: np.ndarray) -> float:
  """The mean over rows of `H(p) / log C` (nats over nats), in [0, 1].

  Args:
    probs: `[N, C]` probabilities, C >= 2.
  """
  probs = np.asarray(probs, np.float64)
  logs = np.log(np.where(probs > 0, probs, 1.0))
  return float(np.mean(-np.sum(probs * logs, axis=-1))
               / np.log(probs.shape[-1]))


def round_record(previous: Sequence[dict], predictions: np.ndarray,
                 probs: np.ndarray, num_classes: int) -> dict:
  """A round's `stopping` record from the stop set's predictions.

  Args:
    previous: the earlier rounds' records (their `stopping` entries hold
      their predictions).
    predictions: `[S]` int this round's predicted classes on the stop set.
    probs: `[S, C]` this round's probabilities on the stop set.
    num_classes: C.

  Returns:
    `{"kappa": with the previous round (None in round 0), "kappa_mean":
    of the last KAPPA_WINDOW kappas (None until there are that many),
    "uncertainty", "predictions": [S] list}`.
  """
  kappas = [p["stopping"]["kappa"] for p in previous
            if p.get("stopping", {}).get("kappa") is not None]
  kappa = None
  if previous and previous[-1].get("stopping") is not None:
    kappa = round(float(cohens_kappa(
        np.asarray(previous[-1]["stopping"]["predictions"]), predictions,
        num_classes)), 6)
    kappas.append(kappa)
  window = kappas[-KAPPA_WINDOW:]
  return {"kappa": kappa,
          "kappa_mean": (round(float(np.mean(window)), 6)
                         if len(window) == KAPPA_WINDOW else None),
          "uncertainty": round(float(overall_uncertainty(probs)), 6),
          "predictions": np.asarray(predictions).astype(int).tolist()}


def reason_to_stop(criterion: str, record: dict, *,
                   max_labels: int | None) -> str | None:
  """Why `criterion` ends the run after the round of `record` (one line),
  or None to go on.

  Args:
    criterion: one of `CRITERIA`.
    record: the round's record (`labeled`, `stopping`).
    max_labels: the budget of `budget`.
  """
  if criterion not in CRITERIA:
    raise ValueError(f"unknown stopping criterion {criterion!r}; valid: "
                     f"{', '.join(CRITERIA)}")
  stop = record.get("stopping") or {}
  if criterion == "kappa" and stop.get("kappa_mean") is not None and (
      stop["kappa_mean"] >= KAPPA_THRESHOLD):
    return (f"kappa: the mean of the last {KAPPA_WINDOW} rounds' kappas "
            f"is {stop['kappa_mean']:.4f} >= {KAPPA_THRESHOLD}")
  if criterion == "uncertainty" and stop.get("uncertainty") is not None and (
      stop["uncertainty"] < UNCERTAINTY_THRESHOLD):
    return (f"uncertainty: the stop set's mean normalised entropy is "
            f"{stop['uncertainty']:.4f} < {UNCERTAINTY_THRESHOLD}")
  if criterion == "budget" and max_labels is not None and (
      record["labeled"] >= max_labels):
    return (f"budget: {record['labeled']} labels reached max_labels "
            f"{max_labels}")
  return None
