"""Acquisition functions: pure jnp on arrays, no models, no rounds, no files.

Convention: higher score = acquire first; ties go to the lowest index.
Every set-valued selector takes `(key, k, available, *, <named data>)`
(`selection`), and its inputs are checked before `jit` (`checks`).
"""

from jaxdal.acquisition.badge import badge, badge_embedding, badge_sqdist
from jaxdal.acquisition.batchbald import batchbald
from jaxdal.acquisition.coreset import kcenter_greedy, nearest_labeled_sqdist
from jaxdal.acquisition.kmeans import kmeans, kmeans_pp
from jaxdal.acquisition.registry import (
    ACQUISITIONS,
    Acquisition,
    from_score,
    get,
    names,
    register,
)
from jaxdal.acquisition.scores import (
    bald,
    entropy,
    least_confidence,
    margin,
    mean_probs,
)
from jaxdal.acquisition.selection import check_budget, random, top_k

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "badge",
    "badge_embedding",
    "badge_sqdist",
    "bald",
    "batchbald",
    "check_budget",
    "entropy",
    "from_score",
    "get",
    "kcenter_greedy",
    "kmeans",
    "kmeans_pp",
    "least_confidence",
    "margin",
    "mean_probs",
    "names",
    "nearest_labeled_sqdist",
    "random",
    "register",
    "top_k",
]
