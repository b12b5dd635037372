"""Stochastic batch acquisition: a batch drawn from a score, not its top-k.

Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron and Gal,
"Stochastic Batch Acquisition: A Simple Baseline for Deep Active Learning",
TMLR 2023 (arXiv:2106.12059). The top-k of a per-example score fills a
batch with near-duplicates; drawing the k examples without replacement, at
each step with probability proportional to a weight of the score `s_i`
(higher = acquire first), costs nothing more and spreads the batch. With
the coldness `beta > 0` (the paper's default and baal's: `beta = 1`,
i.e. baal's `temperature = 1 / beta`):

  power:    p_i propto s_i^beta      (s_i <= 0 or NaN: weight 0)
  softmax:  p_i propto exp(beta s_i) (NaN: weight 0)
  rank:     p_i propto r_i^(-beta)   (r_i the 1-based descending rank)

The ranks are those among the available rows, ties averaged, as
`scipy.stats.rankdata(-s)` over the unlabeled pool gives them in baal.

The draw is the Gumbel-top-k trick (Kool, van Hoof and Welling, ICML
2019): the k largest `log w_i + g_i`, `g_i ~ Gumbel(0, 1)` i.i.d., are k
successive draws without replacement (Plackett-Luce) from `p propto w`.
One key gives one batch, under `jit` and `vmap`. `beta -> inf` tends to
top-k, `beta -> 0` to uniform sampling. Rows of weight 0 come after every
row of positive weight, in uniformly random order (the limit of the draw
as their weight goes to 0); unavailable rows are never drawn.

baal (`baal.active.heuristics.stochastics`, 2.1.0) draws from the same
distribution, on the global NumPy RNG, except that it falls back to a
uniform draw over the whole pool when fewer than k rows have a positive
weight; here the positive rows are drawn first.
"""

import functools

import jax
import jax.numpy as jnp

from jaxdal.acquisition import checks

__all__ = [
    "MODES",
    "check_setting",
    "stochastic_batch",
    "stochastic_log_weights",
    "stochastic_probs",
]

MODES = ("power", "softmax", "rank")


def check_setting(fn: str, mode, beta) -> None:
  """One line unless `mode` is one of `MODES` and `beta` (when concrete)
  a finite number > 0."""
  if mode not in MODES:
    raise ValueError(f"{fn}: mode must be one of {', '.join(MODES)}; got "
                     f"{mode!r}")
  if not checks.concrete(beta):
    return
  try:
    value = float(beta)
  except (TypeError, ValueError):
    value = float("nan")
  if not value > 0 or value == float("inf"):
    raise ValueError(f"{fn}: beta must be a finite number > 0 (the "
                     f"coldness, 1 / temperature); got {checks.describe(beta)}")


def _ranks(scores: jnp.ndarray, available: jnp.ndarray) -> jnp.ndarray:
  """1-based descending ranks among the available rows, ties averaged
  (`scipy.stats.rankdata(-s[available])`); NaN ranks last."""
  n = scores.shape[0]
  s = jnp.where(jnp.isnan(scores), -jnp.inf, scores)
  # Unavailable rows sit at -inf, below or tied with every available one;
  # they are taken out of the tie count at -inf below.
  ranked = jnp.sort(jnp.where(available, s, -jnp.inf))
  left = jnp.searchsorted(ranked, s, side="left")
  right = jnp.searchsorted(ranked, s, side="right")
  n_out = n - available.sum()
  equal = right - left - jnp.where(s == -jnp.inf, n_out, 0)
  return (n - right) + (equal + 1) / 2.0


def _log_weights(scores, available, mode, beta):
  s = scores.astype(jnp.float32)
  beta = jnp.asarray(beta, jnp.float32)
  if mode == "power":
    positive = s > 0  # False for NaN.
    logw = jnp.where(positive, beta * jnp.log(jnp.where(positive, s, 1.0)),
                     -jnp.inf)
  elif mode == "softmax":
    logw = jnp.where(jnp.isnan(s), -jnp.inf, beta * s)
  else:
    logw = -beta * jnp.log(_ranks(s, available))
  return jnp.where(available, logw, -jnp.inf)


@functools.partial(jax.jit, static_argnames=("k", "mode"))
def _batch(key, k, available, scores, mode, beta):
  logw = _log_weights(scores, available, mode, beta)
  g = jax.random.gumbel(key, scores.shape, jnp.float32)
  positive = logw > -jnp.inf
  # Tier 2: positive weight; 1: available with weight 0; 0: unavailable.
  tier = jnp.where(positive, 2, jnp.where(available, 1, 0))
  value = jnp.where(positive, logw + g, jnp.where(available, g, 0.0))
  order = jnp.lexsort((-value, -tier))  # by tier, then value, descending
  return order[:k].astype(jnp.int32)


def _inputs(fn, available, scores, mode, beta):
  check_setting(fn, mode, beta)
  scores = jnp.asarray(scores)
  checks.scores(fn, "scores", scores)
  n = scores.shape[0]
  available = jnp.ones(n, bool) if available is None else available
  return scores, available


def stochastic_log_weights(scores: jnp.ndarray,
                           available: jnp.ndarray | None = None, *,
                           mode: str = "power",
                           beta: float = 1.0) -> jnp.ndarray:
  """Log of the unnormalised sampling weights, `[N] -> [N]`.

  `beta * log s` (power), `beta * s` (softmax) or `-beta * log r`
  (rank); `-inf` for a weight of 0 and for every unavailable row.

  Args:
    scores: `[N]` scores, higher = acquire first.
    available: bool `[N]` selectable rows (ranks are among them); None for
      all.
    mode: "power", "softmax" or "rank".
    beta: coldness `1 / temperature`, > 0.

  Returns:
    float32 `[N]` log-weights.
  """
  scores, available = _inputs("stochastic_log_weights", available, scores,
                              mode, beta)
  available = checks.mask("stochastic_log_weights", "available", available,
                          scores.shape[0], rows_of="scores")
  return _log_weights(scores, jnp.asarray(available), mode, beta)


def stochastic_probs(scores: jnp.ndarray,
                     available: jnp.ndarray | None = None, *,
                     mode: str = "power", beta: float = 1.0) -> jnp.ndarray:
  """The distribution of the first draw of `stochastic_batch`, `[N]`.

  `p_i = w_i / sum_j w_j` over the available rows (uniform over them if
  every weight is 0); the distribution baal's stochastic heuristics pass
  to `np.random.choice` for a pool of the available rows.

  Args:
    scores: `[N]` scores, higher = acquire first.
    available: bool `[N]` selectable rows; None for all.
    mode: "power", "softmax" or "rank".
    beta: coldness `1 / temperature`, > 0.

  Returns:
    float32 `[N]` probabilities, 0 on unavailable rows.

  >>> p = stochastic_probs(jnp.array([1.0, 3.0]))  # power, beta=1
  >>> [round(x, 4) for x in p.tolist()]
  [0.25, 0.75]
  >>> p = stochastic_probs(jnp.array([5.0, 1.0]), mode="rank")
  >>> [round(x, 4) for x in p.tolist()]  # ranks 1, 2: weights 1, 1/2
  [0.6667, 0.3333]
  """
  logw = stochastic_log_weights(scores, available, mode=mode, beta=beta)
  available = jnp.ones(logw.shape, bool) if available is None else available
  logw = jnp.where((logw > -jnp.inf).any(), logw,
                   jnp.where(jnp.asarray(available), 0.0, -jnp.inf))
  return jax.nn.softmax(logw)


def stochastic_batch(key: jax.Array, k: int,
                     available: jnp.ndarray | None = None, *,
                     scores: jnp.ndarray, mode: str = "power",
                     beta: float = 1.0) -> jnp.ndarray:
  """k distinct available indices drawn without replacement from a score.

  Successive draws with `p_i propto w_i` among the rows not yet drawn (see
  the module docstring for `w`), by the Gumbel-top-k trick: the k largest
  `log w_i + g_i` with `g = jax.random.gumbel(key, [N])`.

  Args:
    key: PRNG key of the draw; the same key gives the same batch.
    k: static batch size, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    scores: `[N]` float scores, higher = acquire first (for "power",
      non-negative, e.g. BALD or entropy).
    mode: "power", "softmax" or "rank".
    beta: coldness `1 / temperature`, > 0; 1 is the paper's default.

  Returns:
    int32 `[k]` indices in draw order.

  >>> s = jnp.array([0.1, 5.0, 0.2, 4.0])
  >>> sorted(stochastic_batch(jax.random.key(0), 2, scores=s,
  ...                         beta=1e4).tolist())
  [1, 3]
  """
  checks.key("stochastic_batch", key)
  scores, available = _inputs("stochastic_batch", available, scores, mode,
                              beta)
  k, available = checks.selectable("stochastic_batch", k, available,
                                   scores.shape[0], rows_of="scores")
  return _batch(key, k, jnp.asarray(available), scores, mode, beta)
