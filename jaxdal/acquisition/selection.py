"""Turning scores into a batch of indices, honouring an `available` mask."""

import jax
import jax.numpy as jnp


def check_budget(k: int, available) -> None:
  """Raises ValueError unless `0 < k <= available.sum()` (host-side check)."""
  n_available = int(jnp.sum(available))
  if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
    raise ValueError(f"acquisition size must be a positive int, got {k!r}")
  if k > n_available:
    raise ValueError(
        f"acquisition size {k} exceeds the {n_available} available examples")


def top_k(scores: jnp.ndarray, k: int, available: jnp.ndarray) -> jnp.ndarray:
  """Indices of the `k` highest scores among available entries.

  Ties go to the lowest index; unavailable entries are never chosen as long
  as `k <= available.sum()` (checked by callers with `check_budget`).

  Args:
    scores: `[N]` float scores, higher = acquire first.
    k: static number of indices to return.
    available: `[N]` bool mask of selectable entries.

  Returns:
    `[k]` int32 indices, in descending score order.

  >>> top_k(jnp.array([1., 3., 3., 0.]), 2, jnp.array([True] * 4)).tolist()
  [1, 2]
  """
  scores = jnp.asarray(scores, jnp.float32)
  # NaN would sort unpredictably; treat it as "least wanted" but still
  # selectable, below every finite score.
  scores = jnp.where(jnp.isnan(scores), -jnp.finfo(jnp.float32).max, scores)
  masked = jnp.where(available, scores, -jnp.inf)
  # Stable descending order: sort by (-score, index).
  order = jnp.argsort(-masked, stable=True)
  return order[:k].astype(jnp.int32)


def random(key: jax.Array, available: jnp.ndarray, k: int) -> jnp.ndarray:
  """`k` distinct available indices, uniformly at random, `-> int32 [k]`."""
  u = jax.random.uniform(key, available.shape)
  return top_k(u, k, available)
