"""Acquisition functions: pure jnp on arrays, no models, no rounds, no files.

Convention: higher score = acquire first; ties go to the lowest index.
Every set-valued selector takes `(key, k, available, *, <named data>)`
(`selection`), and its inputs are checked before `jit` (`checks`).
"""

from jaxdal.acquisition.alfamix import alfamix, alfamix_flips, linear_head
from jaxdal.acquisition.badge import badge, badge_embedding, badge_sqdist
from jaxdal.acquisition.bait import bait, bait_score, fisher_embedding
from jaxdal.acquisition.batchbald import batchbald
from jaxdal.acquisition.centroids import (
    kmeans_centroids,
    kmeans_dynamic,
    nearest_to_centres,
)
from jaxdal.acquisition.clue import (
    clue,
    clue_from_centres,
    clue_weights,
    weighted_kmeans,
)
from jaxdal.acquisition.cluster_margin import average_linkage, cluster_margin
from jaxdal.acquisition.committee import consensus_kl, vote_entropy
from jaxdal.acquisition.coreset import kcenter_greedy, nearest_labeled_sqdist
from jaxdal.acquisition.coverage import (
    ball_purity,
    max_coverage,
    maxherding,
    probcover,
    probcover_delta,
)
from jaxdal.acquisition.information import epig, epig_select
from jaxdal.acquisition.kmeans import kmeans, kmeans_pp
from jaxdal.acquisition.registry import (
    ACQUISITIONS,
    Acquisition,
    from_score,
    get,
    names,
    register,
    stochastic_from_score,
)
from jaxdal.acquisition.scores import (
    bald,
    entropy,
    least_confidence,
    margin,
    mean_probs,
    mean_std,
    mean_variance,
    variation_ratios,
)
from jaxdal.acquisition.selection import check_budget, random, top_k
from jaxdal.acquisition.stochastic import (
    stochastic_batch,
    stochastic_log_weights,
    stochastic_probs,
)
from jaxdal.acquisition.typical import (
    typicality,
    typiclust,
    typiclust_from_clusters,
)

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "alfamix",
    "alfamix_flips",
    "average_linkage",
    "badge",
    "badge_embedding",
    "badge_sqdist",
    "bait",
    "bait_score",
    "bald",
    "ball_purity",
    "batchbald",
    "check_budget",
    "clue",
    "clue_from_centres",
    "clue_weights",
    "cluster_margin",
    "consensus_kl",
    "entropy",
    "epig",
    "epig_select",
    "fisher_embedding",
    "from_score",
    "get",
    "kcenter_greedy",
    "kmeans",
    "kmeans_centroids",
    "kmeans_dynamic",
    "kmeans_pp",
    "least_confidence",
    "linear_head",
    "margin",
    "max_coverage",
    "maxherding",
    "mean_probs",
    "mean_std",
    "mean_variance",
    "names",
    "nearest_labeled_sqdist",
    "nearest_to_centres",
    "probcover",
    "probcover_delta",
    "random",
    "register",
    "stochastic_batch",
    "stochastic_from_score",
    "stochastic_log_weights",
    "stochastic_probs",
    "top_k",
    "typicality",
    "typiclust",
    "typiclust_from_clusters",
    "variation_ratios",
    "vote_entropy",
    "weighted_kmeans",
]
