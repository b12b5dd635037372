"""Query by committee: disagreement among the T members of `[T, N, C]`.

The T samples of `probs` are read as a committee (the T MC dropout
samples, or the members of an ensemble). Two disagreement scores, both
higher = acquire first:

  * vote entropy (Dagan and Engelson, "Committee-Based Sampling For
    Training Probabilistic Classifiers", ICML 1995, eq. 1 unnormalised),

      VE(x) = -sum_c (V_c / T) log (V_c / T),

    with V_c the number of members whose most probable class is c;
  * consensus KL (McCallum and Nigam, "Employing EM and Pool-Based Active
    Learning for Text Classification", ICML 1998, eq. 4),

      KL(x) = (1/T) sum_t KL(p_t || p_bar),   p_bar = (1/T) sum_t p_t,

    which equals `H[p_bar] - (1/T) sum_t H[p_t]`, the BALD mutual
    information of the same samples (`scores.bald`), computed here in the
    divergence form.

scikit-activeml 1.0.1's `QueryByCommittee(method="vote_entropy")` and
`(method="KL_divergence")` (`_query_by_committee.vote_entropy`,
`average_kl_divergence`) give the same numbers; the latter clips the
probabilities to `[eps, 1]` and renormalises first (`eps=1e-7`), which
`consensus_kl(..., eps=1e-7)` reproduces.
"""

import jax
import jax.numpy as jnp
from jax.scipy.special import xlogy

from jaxdal.acquisition import checks
from jaxdal.acquisition.scores import mean_over_samples

__all__ = ["consensus_kl", "vote_entropy"]

_LAYOUT = ("[T, N, C]",)


def vote_entropy(probs_mc: jnp.ndarray) -> jnp.ndarray:
  """Entropy of the members' vote distribution (Dagan and Engelson, 1995).

  Each member votes for its most probable class (the lowest class on
  ties, as numpy's argmax); with `V_c` the votes for class c,
  `VE = -sum_c (V_c / T) log(V_c / T)` in nats.

  Args:
    probs_mc: `[T, N, C]` probabilities of T committee members.

  Returns:
    float32 `[N]` in `[0, log min(T, C)]`; 0 when all members agree.

  >>> votes = jnp.eye(2)[jnp.array([0, 1])]  # T=2 members disagree
  >>> round(float(vote_entropy(votes[:, None, :])[0]), 4)  # log 2
  0.6931
  """
  probs_mc = jnp.asarray(probs_mc)
  checks.probs("vote_entropy", "probs_mc", probs_mc, layouts=_LAYOUT)
  t, _, c = probs_mc.shape
  votes = jax.nn.one_hot(jnp.argmax(probs_mc, axis=-1), c,
                         dtype=jnp.float32).sum(axis=0)
  v = votes / t
  return jnp.maximum(-xlogy(v, v).sum(axis=-1), 0.0)  # No -0.


def consensus_kl(probs_mc: jnp.ndarray, *,
                 eps: float | None = None) -> jnp.ndarray:
  """Mean KL divergence of the members from their consensus.

  `(1/T) sum_t sum_c p_tc log(p_tc / p_bar_c)` with `p_bar` the mean over
  the T members (McCallum and Nigam, 1998, eq. 4); a term with
  `p_tc = 0` is 0, and `p_tc > 0` implies `p_bar_c > 0`, so the value is
  finite without clipping.

  Args:
    probs_mc: `[T, N, C]` probabilities of T committee members.
    eps: None (exact), or clip every probability to `[eps, 1]` and
      renormalise each row first, as scikit-activeml (`eps=1e-7`).

  Returns:
    float32 `[N]`, `>= 0`; 0 when all members agree.

  >>> p = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # T=2, N=1, C=2
  >>> round(float(consensus_kl(p)[0]), 4)  # log 2
  0.6931
  """
  probs_mc = jnp.asarray(probs_mc)
  checks.probs("consensus_kl", "probs_mc", probs_mc, layouts=_LAYOUT)
  p = probs_mc.astype(jnp.float32)
  if eps is not None:
    eps = float(eps)
    if not 0.0 < eps < 1.0:
      raise ValueError(f"consensus_kl: eps must be None or a float in "
                       f"(0, 1); got {eps}")
    p = jnp.clip(p, eps, 1.0)
    p = p / p.sum(axis=-1, keepdims=True)
  p_bar = jnp.broadcast_to(mean_over_samples(p), p.shape)
  # A term is 0 where p = 0. XLA flushes subnormals to 0, so a p_bar of
  # 0 may stand under a p of 1e-40: drop that term too (it is ~1e-38).
  keep = (p > 0) & (p_bar > 0)
  log_ratio = jnp.log(jnp.where(keep, p, 1.0)) - jnp.log(
      jnp.where(keep, p_bar, 1.0))
  kl = jnp.where(keep, p * log_ratio, 0.0).sum(axis=-1)
  # Rounding can leave a member's divergence a hair below 0.
  return jnp.maximum(mean_over_samples(kl), 0.0)
