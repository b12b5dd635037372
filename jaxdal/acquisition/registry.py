"""The acquisition registry: a plain dict from name to `Acquisition`.

Every entry has one calling convention, so the loop can treat them alike,
and it is the argument order of every low-level selector (`selection`):

    select(key, k, available, *, probs, features, labeled) -> int32 [k]

with `probs` `[T, N, C]` (T = 1 for deterministic prediction), `features`
`[N, D]` or None, `labeled` and `available` bool `[N]`. The flags say what
`jaxdal.predict.acquisition_inputs` computes before `select` is called.
"""

import functools
from collections.abc import Callable
from typing import NamedTuple

from jaxdal.acquisition import scores, selection, stochastic
from jaxdal.acquisition.alfamix import alfamix
from jaxdal.acquisition.badge import badge
from jaxdal.acquisition.bait import bait
from jaxdal.acquisition.batchbald import batchbald
from jaxdal.acquisition.centroids import kmeans_centroids
from jaxdal.acquisition.clue import clue
from jaxdal.acquisition.cluster_margin import cluster_margin
from jaxdal.acquisition.committee import consensus_kl, vote_entropy
from jaxdal.acquisition.coreset import kcenter_greedy
from jaxdal.acquisition.coverage import maxherding, probcover
from jaxdal.acquisition.information import epig_select
from jaxdal.acquisition.typical import typiclust
from jaxdal.registry import Registry

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "from_score",
    "get",
    "names",
    "register",
    "stochastic_from_score",
]


class Acquisition(NamedTuple):
  """A selection strategy and what it consumes.

  Attributes:
    select: `(key, k, available, *, probs, features, labeled) -> [k]`.
    uses_probs: needs predicted probabilities.
    uses_mc: needs T > 1 Monte-Carlo dropout samples of the probabilities.
    uses_features: needs penultimate features `[N, D]`.
    uses_key: the result depends on the PRNG key (else the key is ignored).
  """
  select: Callable
  uses_probs: bool = True
  uses_mc: bool = False
  uses_features: bool = False
  uses_key: bool = False


# Cached, so that the same score wraps to the same `Acquisition` and
# registering it again (a notebook cell run twice) is a no-op.
@functools.cache
def from_score(score_fn: Callable, *, uses_mc: bool = False) -> Acquisition:
  """Wraps a `probs -> [N]` score as a top-k `Acquisition`."""

  def select(key, k, available, *, probs, features=None, labeled=None):
    del features, labeled  # Deterministic; uses probabilities only.
    return selection.top_k(key, k, available, scores=score_fn(probs))

  return Acquisition(select=select, uses_mc=uses_mc)


def stochastic_from_score(score_fn: Callable, mode: str = "power", *,
                          beta: float = 1.0,
                          uses_mc: bool = False) -> Acquisition:
  """Wraps a `probs -> [N]` score as a stochastic batch `Acquisition`.

  The batch is drawn without replacement with `p propto s^beta` ("power"),
  `exp(beta s)` ("softmax") or `rank^-beta` ("rank"), from the key
  (Kirsch et al., 2023; `stochastic.stochastic_batch`).

  Args:
    score_fn: `probs -> [N]` scores, higher = acquire first ("power" needs
      them non-negative: BALD, entropy).
    mode: "power", "softmax" or "rank".
    beta: coldness `1 / temperature`, a finite number > 0; the paper's
      default is 1.
    uses_mc: the score needs MC samples `[T, N, C]` (BALD).

  Returns:
    An `Acquisition` with `uses_key=True`; the same arguments give the
    same entry, so registering it again is a no-op.

  >>> entry = stochastic_from_score(scores.entropy, "rank", beta=2.0)
  >>> entry.uses_key
  True
  """
  stochastic.check_setting("stochastic_from_score", mode, beta)
  return _stochastic_from_score(score_fn, mode, float(beta), bool(uses_mc))


@functools.cache
def _stochastic_from_score(score_fn, mode, beta, uses_mc) -> Acquisition:

  def select(key, k, available, *, probs, features=None, labeled=None):
    del features, labeled  # The score of the probabilities only.
    return stochastic.stochastic_batch(key, k, available,
                                       scores=score_fn(probs), mode=mode,
                                       beta=beta)

  return Acquisition(select=select, uses_mc=uses_mc, uses_key=True)


def _random_select(key, k, available, *, probs=None, features=None,
                   labeled=None):
  del probs, features, labeled
  return selection.random(key, k, available)


def _coreset_select(key, k, available, *, probs=None, features, labeled):
  del probs  # Geometry of the features only.
  return kcenter_greedy(key, k, available, features=features,
                        labeled=labeled)


def _badge_select(key, k, available, *, probs, features, labeled=None):
  del labeled
  return badge(key, k, available, probs=probs, features=features)


def _batchbald_select(key, k, available, *, probs, features=None,
                      labeled=None):
  del features, labeled
  return batchbald(key, k, available, probs=probs)


def _epig_select(key, k, available, *, probs, features=None, labeled=None):
  del features, labeled  # Targets come from the available rows.
  return epig_select(key, k, available, probs=probs)


def _typiclust_select(key, k, available, *, probs=None, features, labeled):
  del probs  # Geometry of the features only.
  return typiclust(key, k, available, features=features, labeled=labeled)


def _probcover_select(key, k, available, *, probs=None, features, labeled):
  del probs
  return probcover(key, k, available, features=features, labeled=labeled)


def _maxherding_select(key, k, available, *, probs=None, features,
                       labeled):
  del probs
  return maxherding(key, k, available, features=features, labeled=labeled)


def _kmeans_centroids_select(key, k, available, *, probs=None, features,
                             labeled=None):
  del probs, labeled  # Clusters the available rows only.
  return kmeans_centroids(key, k, available, features=features)


def _clue_select(key, k, available, *, probs, features, labeled=None):
  del labeled  # Clusters the available rows only.
  return clue(key, k, available, probs=probs, features=features)


def _bait_select(key, k, available, *, probs, features, labeled=None,
                 lmb=1.0):
  return bait(key, k, available, probs=probs, features=features,
              labeled=labeled, lmb=lmb)


def _cluster_margin_select(key, k, available, *, probs, features,
                           labeled=None, margin_ratio=10, epsilon=None):
  del labeled  # Clusters the low-margin available rows only.
  return cluster_margin(key, k, available, probs=probs, features=features,
                        margin_ratio=margin_ratio, epsilon=epsilon)


def _alfamix_select(key, k, available, *, probs, features, labeled=None,
                    alpha_cap=0.2):
  return alfamix(key, k, available, probs=probs, features=features,
                 labeled=labeled, alpha_cap=alpha_cap)


def _check(entry) -> None:
  if not isinstance(entry, Acquisition):
    raise TypeError(
        f"register needs an Acquisition, got {type(entry).__name__}")


ACQUISITIONS: Registry[Acquisition] = Registry("acquisition", _check)
ACQUISITIONS.register("random", Acquisition(
    select=_random_select, uses_probs=False, uses_key=True))
ACQUISITIONS.register("coreset", Acquisition(
    select=_coreset_select, uses_probs=False, uses_features=True))
ACQUISITIONS.register("badge", Acquisition(
    select=_badge_select, uses_features=True, uses_key=True))
# The key matters only once C^i configurations exceed the sample budget.
ACQUISITIONS.register("batchbald", Acquisition(
    select=_batchbald_select, uses_mc=True, uses_key=True))
ACQUISITIONS.register("entropy", from_score(scores.entropy))
ACQUISITIONS.register("least_confidence",
                      from_score(scores.least_confidence))
ACQUISITIONS.register("margin", from_score(scores.margin))
ACQUISITIONS.register("bald", from_score(scores.bald, uses_mc=True))
ACQUISITIONS.register("variation_ratios",
                      from_score(scores.variation_ratios, uses_mc=True))
ACQUISITIONS.register("mean_std", from_score(scores.mean_std, uses_mc=True))
# Stochastic batch acquisition (Kirsch et al., 2023) at the paper's beta = 1.
for _mode in stochastic.MODES:
  ACQUISITIONS.register(f"{_mode}_bald", stochastic_from_score(
      scores.bald, _mode, uses_mc=True))
  ACQUISITIONS.register(f"{_mode}_entropy", stochastic_from_score(
      scores.entropy, _mode))
del _mode
# Targets: a fresh sample of 100 available rows per acquisition (the key).
ACQUISITIONS.register("epig", Acquisition(
    select=_epig_select, uses_mc=True, uses_key=True))
# Low budgets (scikit-activeml 1.0.1's definitions; DISTIL's k-means
# sampling). ProbCover's purity clusters: 10 classes, its default here.
ACQUISITIONS.register("typiclust", Acquisition(
    select=_typiclust_select, uses_probs=False, uses_features=True,
    uses_key=True))
ACQUISITIONS.register("probcover", Acquisition(
    select=_probcover_select, uses_probs=False, uses_features=True,
    uses_key=True))
ACQUISITIONS.register("maxherding", Acquisition(
    select=_maxherding_select, uses_probs=False, uses_features=True))
ACQUISITIONS.register("kmeans_centroids", Acquisition(
    select=_kmeans_centroids_select, uses_probs=False, uses_features=True,
    uses_key=True))
# CLUE (scikit-activeml 1.0.1's `Clue`): the key seeds the weighted k-means.
ACQUISITIONS.register("clue", Acquisition(
    select=_clue_select, uses_features=True, uses_key=True))
# Gradient and Fisher embeddings of the last layer, and uncertainty with
# diversity. BAIT (Ash et al., 2021): deterministic, lambda = 1.
ACQUISITIONS.register("bait", Acquisition(
    select=_bait_select, uses_features=True))
# Cluster-Margin (Citovsky et al., 2021): k_m = 10 k, epsilon the median
# distance among the k_m rows; the key draws each group's member.
ACQUISITIONS.register("cluster_margin", Acquisition(
    select=_cluster_margin_select, uses_features=True, uses_key=True))
# ALFA-Mix (Parvaneh et al., 2022), closed form at alpha_cap = 0.2; the
# key seeds the k-means of the candidates.
ACQUISITIONS.register("alfamix", Acquisition(
    select=_alfamix_select, uses_features=True, uses_key=True))
# Query by committee over the T samples (MC dropout or ensemble members).
ACQUISITIONS.register("vote_entropy", from_score(vote_entropy, uses_mc=True))
ACQUISITIONS.register("consensus_kl", from_score(consensus_kl, uses_mc=True))


def names() -> list[str]:
  """Registered acquisition names, sorted."""
  return ACQUISITIONS.names()


def get(name: str) -> Acquisition:
  """The `Acquisition` called `name`; ValueError listing valid names if none."""
  return ACQUISITIONS.get(name)


def register(name: str, acquisition: Acquisition, *,
             replace: bool = False) -> Acquisition:
  """Adds `acquisition` under `name` and returns it.

  Registering the same entry again is a no-op; a different one under a
  taken name needs `replace=True`.
  """
  return ACQUISITIONS.register(name, acquisition, replace=replace)
