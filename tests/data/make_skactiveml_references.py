"""Writes skactiveml_references.npz (and .json): low-budget references.

scikit-activeml 1.0.1's `TypiClust`, `ProbCover` and `MaxHerding`, and
decile-distil 0.2.0's `KMeansSampling`, on small seeded embeddings (three
Gaussian blobs of unequal size, N = 200, D = 8, a few rows labeled). Run
from the repository root with a separate environment that holds them:

  /work/refvenv/bin/pip install scikit-activeml==1.0.1 decile-distil==0.2.0
  /work/refvenv/bin/python tests/data/make_skactiveml_references.py

Their results depend on their own k-means and on random tie breaks, so:
  * the k-means is scikit-learn's `KMeans(random_state=0)`, run here, and
    its cluster labels are handed to the reference through a
    `cluster_algo` that returns them (`_GivenClusters`); the same labels
    are stored for jaxdal's `typiclust_from_clusters`,
    `probcover_delta(clusters=...)` and `nearest_to_centres`;
  * `rand_argmax` (uniform among exact maxima) is replaced by the first
    maximum, jaxdal's rule with `key=None`; `same_with_random_ties` in
    the json says whether the original rule (random_state=0) gives the
    same picks.

Stored: features, labeled; for each case `<case>_picks` (dataset
positions) and `<case>_scores` (the reference's `[batch, N]` utilities,
NaN where it has none); `typiclust_clusters`, `probcover_clusters`,
`probcover_<case>_features` (its inputs), `probcover_<case>_delta` (the
chosen radius `delta_max_`),
`probcover_<case>_purity` (purity per grid value, the reference's formula
on its distances), `kmeans_centres` / `kmeans_assignment` (DISTIL's
k-means of the unlabeled rows; assignment -1 on labeled rows).
"""

import importlib.metadata
import json
import os
import platform
import sys

import numpy as np
import sklearn
import torch
from distil.active_learning_strategies import kmeans_sampling
from skactiveml.pool import (
  MaxHerding,
  ProbCover,
  TypiClust,
  _max_herding,
  _prob_cover,
  _typi_clust,
)
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances

HERE = os.path.dirname(os.path.abspath(__file__))
N_PER_BLOB, D, N_LABELED, SEED = (90, 70, 40), 8, 6, 0
BATCH = 5


class _GivenClusters:
  """A `cluster_algo` whose `fit_predict` returns given labels."""

  def __init__(self, n_clusters, labels):
    self.n_clusters = n_clusters
    self.labels = labels

  def fit_predict(self, X):
    assert len(X) == len(self.labels)
    assert len(np.unique(self.labels)) <= self.n_clusters
    return self.labels


def _first_argmax(a, random_state=None, **kwargs):
  del random_state, kwargs
  a = np.asarray(a)
  return np.atleast_1d(np.flatnonzero(a == np.nanmax(a))[0])


def _data():
  rng = np.random.default_rng(SEED)
  centres = rng.normal(size=(3, D))
  x = np.concatenate([c + 0.15 * rng.normal(size=(m, D))
                      for c, m in zip(centres, N_PER_BLOB, strict=True)])
  labeled = np.zeros(len(x), bool)
  labeled[rng.choice(len(x), N_LABELED, replace=False)] = True
  return x.astype(np.float32), labeled


def _unit_rows(x):
  # Blobs spread on the unit sphere, so that balls of the grid's radii
  # cover parts of them.
  z = x - x.mean(axis=0) + 0.5 * np.random.default_rng(1).normal(
      size=x.shape)
  return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


def _y(labeled):
  y = np.full(len(labeled), np.nan)
  y[labeled] = np.arange(labeled.sum()) % 3
  return y


def _query(make, x, y, batch, modules):
  """Picks and utilities with first-maximum ties, and whether the
  original random ties (random_state=0) pick the same."""
  originals = [m.rand_argmax for m in modules]
  try:
    for m in modules:
      m.rand_argmax = _first_argmax
    picks, scores = make(None).query(x, y, batch_size=batch,
                                     return_utilities=True)
  finally:
    for m, f in zip(modules, originals, strict=True):
      m.rand_argmax = f
  random_picks = make(0).query(x, y, batch_size=batch)
  return picks, scores, bool(np.array_equal(picks, random_picks))


def _purity(x, clusters, deltas):
  # ProbCover.query's loop: impure iff a row of another cluster is within
  # delta (`distances <= delta`), on the reference's float64 distances.
  dist = pairwise_distances(x)
  impure = clusters[:, None] != clusters
  return np.array([1 - ((dist <= d) & impure).any(axis=1).mean()
                   for d in deltas]), dist


def main():
  x, labeled = _data()
  y = _y(labeled)
  out = {"features": x, "labeled": labeled}
  same = {}

  # TypiClust: KMeans into |L| + batch clusters, given to both sides.
  clusters = KMeans(N_LABELED + BATCH, random_state=0,
                    n_init=10).fit_predict(x)
  out["typiclust_clusters"] = clusters.astype(np.int32)
  for case, k_nn in (("typiclust", 5), ("typiclust_k20", 20)):
    make = lambda rs, k_nn=k_nn: TypiClust(
        random_state=rs, k=k_nn, cluster_algo=_GivenClusters,
        cluster_algo_dict={"labels": clusters})
    picks, scores, same[case] = _query(make, x, y, BATCH, [_typi_clust])
    out[f"{case}_picks"], out[f"{case}_scores"] = picks, scores

  # ProbCover: the purity clusters (n_classes = 3) given to both sides;
  # "raw": 4 x features as given (blobs wider than the grid's radii),
  # "unit": noisier blobs L2-normalised (`probcover_<case>_features`).
  deltas = np.arange(0.2, 2.2, 0.2)
  margins = {}
  for case, xs in (("raw", 4.0 * x), ("unit", _unit_rows(x))):
    pc = KMeans(3, random_state=0, n_init=10).fit_predict(xs)
    out[f"probcover_{case}_clusters"] = pc.astype(np.int32)
    out[f"probcover_{case}_features"] = xs.astype(np.float32)
    purity, dist = _purity(xs, pc, deltas)
    strategies = {}

    def make(rs, pc=pc, strategies=strategies):
      strategies[rs] = ProbCover(random_state=rs, n_classes=3,
                                 cluster_algo=_GivenClusters,
                                 cluster_algo_dict={"labels": pc})
      return strategies[rs]

    picks, scores, same[f"probcover_{case}"] = _query(
        make, xs, y, BATCH + 1, [_prob_cover])
    delta = strategies[None].delta_max_
    out[f"probcover_{case}_picks"] = picks
    out[f"probcover_{case}_scores"] = scores
    out[f"probcover_{case}_delta"] = np.float64(delta)
    out[f"probcover_{case}_purity"] = purity
    # float32 must see the same graph and purities: no distance near
    # delta, no nearest other-cluster distance near a grid value.
    other = np.where(pc[:, None] != pc, dist, np.inf).min(axis=1)
    margins[case] = min(float(np.abs(dist - delta).min()),
                        float(np.abs(other[:, None] - deltas).min()))
    assert margins[case] > 1e-5, (case, margins[case])
  out["probcover_deltas"] = deltas

  # MaxHerding: defaults (unit rows, rbf with gamma = 1 / D); gamma = 1;
  # nothing labeled.
  for case, kwargs, lab in (
      ("maxherding", {}, labeled),
      ("maxherding_gamma1", {"metric_dict": {"gamma": 1.0}}, labeled),
      ("maxherding_unlabeled", {}, np.zeros_like(labeled))):
    make = lambda rs, kwargs=kwargs: MaxHerding(random_state=rs, **kwargs)
    picks, scores, same[case] = _query(make, x, _y(lab), BATCH + 1,
                                       [_max_herding])
    out[f"{case}_picks"], out[f"{case}_scores"] = picks, scores
    out[f"{case}_labeled"] = lab

  # DISTIL KMeansSampling on the unlabeled rows; its KMeans seeded here.
  fitted = {}

  def seeded_kmeans(n_clusters):
    fitted["km"] = KMeans(n_clusters=n_clusters, random_state=0, n_init=10)
    return fitted["km"]

  class Given(kmeans_sampling.KMeansSampling):
    def get_embedding(self, X):
      return torch.from_numpy(np.asarray(X))

  unlabeled = np.flatnonzero(~labeled)
  original = kmeans_sampling.KMeans
  kmeans_sampling.KMeans = seeded_kmeans
  try:
    strategy = Given(x[labeled], y[labeled], x[unlabeled], None, None, 3)
    local = strategy.select(BATCH)
  finally:
    kmeans_sampling.KMeans = original
  assignment = np.full(len(x), -1, np.int32)
  assignment[unlabeled] = fitted["km"].predict(x[unlabeled])
  out["kmeans_centres"] = fitted["km"].cluster_centers_.astype(np.float32)
  out["kmeans_assignment"] = assignment
  out["kmeans_picks"] = unlabeled[np.asarray(local)]

  np.savez_compressed(os.path.join(HERE, "skactiveml_references.npz"), **out)
  meta = {
      "scikit-activeml": importlib.metadata.version("scikit-activeml"),
      "decile-distil": importlib.metadata.version("decile-distil"),
      "scikit-learn": sklearn.__version__,
      "numpy": np.__version__,
      "torch": torch.__version__,
      "python": platform.python_version(),
      "command": "/work/refvenv/bin/python tests/data/"
                 "make_skactiveml_references.py",
      "data": {"n_per_blob": list(N_PER_BLOB), "d": D, "n_labeled":
               N_LABELED, "seed": SEED, "batch": BATCH},
      "ties": "rand_argmax replaced by the first maximum",
      "same_with_random_ties": same,
      "probcover_min_distance_to_a_delta": margins,
      "keys": sorted(out),
  }
  with open(os.path.join(HERE, "skactiveml_references.json"), "w") as f:
    json.dump(meta, f, indent=1)
    f.write("\n")
  print(f"wrote {len(out)} arrays; same picks with random ties: {same}",
        file=sys.stderr)


if __name__ == "__main__":
  main()
