"""Turning scores into a batch of indices, honouring an `available` mask.

Every set-valued selector of `jaxdal.acquisition` (`random`, `top_k`,
`badge`, `kcenter_greedy`, `batchbald`, `kmeans_pp`, `stochastic_batch`,
`epig_select` and the streamed ones) takes one argument order,
`(key, k, available, *, <named data>)`: the PRNG key (ignored by
deterministic selectors, which accept None), the static batch size, the
bool `[N]` mask of selectable rows (None: all of them), then the data by
keyword. Each returns int32 `[k]` distinct available
indices.
"""

import jax
import jax.numpy as jnp

from jaxdal.acquisition import checks

__all__ = ["check_budget", "random", "top_k"]


def check_budget(k: int, available) -> None:
  """Raises ValueError unless `0 < k <= available.sum()` (host-side check).

  >>> check_budget(3, jnp.array([True, True, False]))
  Traceback (most recent call last):
  ...
  ValueError: acquisition size k=3 exceeds the 2 available examples \
(available.sum())
  """
  checks.budget(None, checks.size(None, k), available)


def _top_k(scores: jnp.ndarray, k: int, available: jnp.ndarray):
  scores = scores.astype(jnp.float32)
  # NaN would sort unpredictably; treat it as "least wanted" but still
  # selectable, below every finite score.
  scores = jnp.where(jnp.isnan(scores), -jnp.finfo(jnp.float32).max, scores)
  masked = jnp.where(available, scores, -jnp.inf)
  # Stable descending order: sort by (-score, index).
  order = jnp.argsort(-masked, stable=True)
  return order[:k].astype(jnp.int32)


def top_k(key: jax.Array | None, k: int,
          available: jnp.ndarray | None = None, *,
          scores: jnp.ndarray) -> jnp.ndarray:
  """Indices of the `k` highest scores among available entries.

  Ties go to the lowest index; a NaN score ranks below every finite one.

  Args:
    key: ignored (deterministic); there so that every selector takes the
      same leading arguments. None is fine.
    k: static number of indices to return, `0 < k <= available.sum()`.
    available: bool `[N]` selectable entries; None for all.
    scores: `[N]` float scores, higher = acquire first.

  Returns:
    int32 `[k]` indices, in descending score order.

  >>> top_k(None, 2, scores=jnp.array([1., 3., 3., 0.])).tolist()
  [1, 2]
  """
  del key  # Deterministic.
  scores = jnp.asarray(scores)
  checks.scores("top_k", "scores", scores)
  n = scores.shape[0]
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable("top_k", k, available, n,
                                   rows_of="scores")
  return _top_k(scores, k, jnp.asarray(available))


def random(key: jax.Array, k: int, available: jnp.ndarray | None = None, *,
           n: int | None = None) -> jnp.ndarray:
  """`k` distinct available indices, uniformly at random.

  Args:
    key: PRNG key of the draw.
    k: static number of indices, `0 < k <= available.sum()`.
    available: bool `[N]` selectable entries; None for all `n`.
    n: the pool size N, needed only when `available` is None.

  Returns:
    int32 `[k]` indices.

  >>> random(jax.random.key(0), 3, n=3).sort().tolist()
  [0, 1, 2]
  """
  checks.key("random", key)
  if available is None:
    if n is None:
      raise ValueError("random: available (bool [N]) or n (the pool size) "
                       "must be given; got neither")
    n = checks.size("random", n, name="n", what="the pool size")
    available = jnp.ones(n, bool)
  k, available = checks.selectable("random", k, available)
  available = jnp.asarray(available)
  return _top_k(jax.random.uniform(key, available.shape), k, available)
