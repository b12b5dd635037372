"""Writes skactiveml_qbc_references.npz (and .json): committee and CLUE.

scikit-activeml 1.0.1's query-by-committee utilities and `Clue`, on small
seeded inputs. Run from the repository root with a separate environment
that holds it:

  /work/refvenv/bin/pip install scikit-activeml==1.0.1
  /work/refvenv/bin/python tests/data/make_skactiveml_qbc_references.py

Committee (`QueryByCommittee`): `probs` `[T, N, C]` float32 (T = 7
members, N = 120, C = 5; softmax of random logits at several scales, so
that some rows are near one-hot, some members agree exactly and some
probabilities underflow to 0), fed as float64 to
`_query_by_committee.vote_entropy(probs.argmax(-1).T, classes)` (the
votes `QueryByCommittee` takes from `sample_proba`) and
`average_kl_divergence(probs, eps)` for eps 1e-7 (its default) and 1e-12.
`qbc_<method>_picks`: `QueryByCommittee.query`'s batch on those
utilities (`simple_batch`, first maximum on ties).

CLUE (`Clue`): a classifier stub returns the stored mean probabilities
and embeddings for the candidate rows. Its `KMeans` is scikit-learn's,
seeded (`random_state=0`, `tol=0`, so the centres are a fixed point of
weighted Lloyd steps), and recorded: `clue_centres` are the fitted
centres, `clue_weights` the `sample_weight` it got. `rand_argmax` is
replaced by the first maximum (jaxdal's rule with `key=None`);
`same_with_random_ties` in the json says whether random_state=0 picks
the same.

Stored: `probs`, `vote_entropy`, `kl_eps1e-07`, `kl_eps1e-12`,
`qbc_<method>_picks`; `clue_features` `[N, D]` float32, `clue_probs`
`[T, N, C]`, `clue_available`, `clue_weights`, `clue_centres`,
`clue_picks`, `clue_scores` (`[k, N]` utilities, NaN where none).
"""

import importlib.metadata
import json
import os
import platform
import sys

import numpy as np
import sklearn
from skactiveml.base import SkactivemlClassifier
from skactiveml.pool import Clue, _clue, _query_by_committee
from skactiveml.utils import _selection
from sklearn.cluster import KMeans

HERE = os.path.dirname(os.path.abspath(__file__))
T, N, C, SEED = 7, 120, 5, 0
D, BATCH = 6, 8
EPS = (1e-7, 1e-12)


def _first_argmax(a, random_state=None, **kwargs):
  del random_state, kwargs
  a = np.asarray(a)
  return np.atleast_1d(np.flatnonzero(a == np.nanmax(a))[0])


def _softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  e = np.exp(z)
  return e / e.sum(axis=-1, keepdims=True)


def _committee(rng):
  scale = rng.choice([0.3, 1.0, 4.0, 40.0], size=(1, N, 1))
  logits = scale * rng.normal(size=(T, N, C))
  # Rows 0..9: all members the same; 10..19: two near one-hot camps.
  logits[:, :10] = logits[:1, :10]
  logits[:, 10:20] = 200.0 * np.eye(C)[rng.integers(0, 2, (T, 10))]
  return _softmax(logits).astype(np.float32)


def _qbc(probs):
  p = probs.astype(np.float64)
  out = {"vote_entropy": _query_by_committee.vote_entropy(
      p.argmax(axis=-1).T, np.arange(C))}
  for eps in EPS:
    out[f"kl_eps{eps:.0e}"] = _query_by_committee.average_kl_divergence(
        p.copy(), eps)
  original = _selection.rand_argmax
  _selection.rand_argmax = _first_argmax
  try:
    for name, key in (("vote_entropy", "vote_entropy"),
                      ("KL_divergence", "kl_eps1e-07")):
      out[f"qbc_{name}_picks"] = _selection.simple_batch(
          out[key].copy(), batch_size=BATCH)
  finally:
    _selection.rand_argmax = original
  return out


class _Stub(SkactivemlClassifier):
  """`predict_proba` of row indices: stored probabilities and embeddings."""

  def __init__(self, probs=None, emb=None, classes=None,
               missing_label=np.nan):
    super().__init__(classes=classes, missing_label=missing_label)
    self.probs = probs
    self.emb = emb

  def fit(self, X, y, sample_weight=None):
    return self

  def predict_proba(self, X):
    idx = np.asarray(X)[:, 0].astype(int)
    return self.probs[idx], self.emb[idx]


class _RecordedKMeans(KMeans):
  fitted = []

  def fit_transform(self, X, y=None, sample_weight=None):
    _RecordedKMeans.fitted.append((self, np.asarray(sample_weight).copy()))
    return super().fit_transform(X, y, sample_weight=sample_weight)


def _clue_case(rng):
  centres = 3.0 * rng.normal(size=(4, D))
  x = (centres[rng.integers(0, 4, N)]
       + rng.normal(size=(N, D))).astype(np.float32)
  probs = _softmax(rng.normal(size=(1, N, C)) + 0.7 * rng.normal(
      size=(T, N, C))).astype(np.float32)
  available = rng.random(N) < 0.8
  y = np.full(N, np.nan)
  y[~available] = rng.integers(0, C, (~available).sum())
  mean = probs.astype(np.float64).mean(axis=0)
  stub = _Stub(probs=mean, emb=x.astype(np.float64), classes=np.arange(C))
  index = np.arange(N, dtype=np.float64)[:, None]

  def query(rs):
    _RecordedKMeans.fitted.clear()
    strategy = Clue(random_state=rs, cluster_algo=_RecordedKMeans,
                    cluster_algo_dict={"random_state": 0, "n_init": 10,
                                       "tol": 0.0})
    return strategy.query(index, y, stub, fit_estimator=False,
                          batch_size=BATCH, return_utilities=True)

  original = _clue.rand_argmax
  _clue.rand_argmax = _first_argmax
  try:
    picks, scores = query(None)
  finally:
    _clue.rand_argmax = original
  km, weights = _RecordedKMeans.fitted[0]
  random_picks, _ = query(0)
  # float32 must see the same order: no near tie between the best and the
  # second best free row of a centre.
  gaps = []
  for u in scores:
    top = np.sort(u[np.isfinite(u)])[::-1][:2]
    gaps.append(top[0] - top[1])
  assert min(gaps) > 1e-4, gaps
  full = np.zeros(N)
  full[available] = weights
  return {"clue_features": x, "clue_probs": probs,
          "clue_available": available, "clue_weights": full,
          "clue_centres": km.cluster_centers_, "clue_picks": picks,
          "clue_scores": scores}, {
          "same_with_random_ties": bool(np.array_equal(picks,
                                                       random_picks)),
          "min_gap_to_second": float(min(gaps))}


def main():
  rng = np.random.default_rng(SEED)
  probs = _committee(rng)
  out = {"probs": probs, **_qbc(probs)}
  clue, clue_meta = _clue_case(rng)
  out.update(clue)
  np.savez_compressed(os.path.join(HERE, "skactiveml_qbc_references.npz"),
                      **out)
  meta = {
      "scikit-activeml": importlib.metadata.version("scikit-activeml"),
      "scikit-learn": sklearn.__version__,
      "numpy": np.__version__,
      "python": platform.python_version(),
      "command": "/work/refvenv/bin/python tests/data/"
                 "make_skactiveml_qbc_references.py",
      "data": {"t": T, "n": N, "c": C, "d": D, "batch": BATCH,
               "seed": SEED, "eps": list(EPS)},
      "ties": "rand_argmax replaced by the first maximum",
      "clue": clue_meta,
      "keys": sorted(out),
  }
  with open(os.path.join(HERE, "skactiveml_qbc_references.json"), "w") as f:
    json.dump(meta, f, indent=1)
    f.write("\n")
  print(f"wrote {len(out)} arrays; clue: {clue_meta}", file=sys.stderr)


if __name__ == "__main__":
  main()
