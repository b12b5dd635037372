"""Acquisition functions: pure jnp on arrays, no models, no rounds, no files.

Convention: higher score = acquire first; ties go to the lowest index.
"""

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
    "bald",
    "check_budget",
    "entropy",
    "from_score",
    "get",
    "least_confidence",
    "margin",
    "mean_probs",
    "names",
    "random",
    "register",
    "top_k",
]
