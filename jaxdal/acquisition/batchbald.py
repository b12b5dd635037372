"""BatchBALD (Kirsch et al., 2019): greedy maximisation of the joint mutual
information `I(y_1..y_b ; w)` over a batch, from MC samples `[T, N, C]`.

The joint predictive of the chosen points is kept as `P [T, M]`: for each MC
sample t, the probability of each of M label configurations. It is exact
(every configuration enumerated) while `C^i <= M`; after that, M
configurations are drawn by ancestral sampling (draw t, then each label
from `p_t`) and the joint entropy is estimated by importance weighting, as
in the reference implementation. Every shape is fixed, so the whole greedy
loop is one `lax.fori_loop`.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import xlogy

from jaxdal.acquisition import checks

__all__ = ["batchbald"]


def _joint_entropies(probs, P, weights, log_alpha, chunk):
  """`H(y_chosen, y_n)` for every candidate n -> `[N]`.

  `sum_m weights_m * (-sum_c xlogy(Q, Q) - mass_m * log_alpha_m)` with
  `Q[n, m, c] = mean_t P[t, m] p[t, n, c]` and `mass_m = sum_c Q[n, m, c]`.
  """
  t, n, c = probs.shape
  pad = (-n) % chunk
  blocks = jnp.pad(probs, ((0, 0), (0, pad), (0, 0)))
  blocks = blocks.reshape(t, -1, chunk, c).transpose(1, 0, 2, 3)

  def block(pb):  # [T, chunk, C]
    q = jnp.einsum("tm,tnc->nmc", P, pb) / t
    ent = -xlogy(q, q).sum(-1) - q.sum(-1) * log_alpha[None, :]
    return ent @ weights

  return lax.map(block, blocks).reshape(-1)[:n]


@functools.partial(jax.jit,
                   static_argnames=("k", "num_samples", "chunk"))
def _batchbald(key, k, available, probs, num_samples, chunk):
  probs = probs.astype(jnp.float32)
  t, n, c = probs.shape
  m = num_samples
  cond = (-xlogy(probs, probs).sum(-1)).mean(0)  # E_t H[p_t], [N]

  def step(i, carry):
    P, log_alpha, origin, n_configs, sampled, chosen, taken, cond_sum, \
        scores = carry
    mean_p = P.mean(0)
    weights = jnp.where(
        sampled, 1.0 / (m * jnp.maximum(mean_p, 1e-30)),
        (jnp.arange(m) < n_configs).astype(jnp.float32))
    joint = _joint_entropies(probs, P, weights, log_alpha, chunk)
    score = joint - cond_sum - cond
    score = jnp.where(available & ~taken, score, -jnp.inf)
    j = jnp.argmax(score)
    key_i = jax.random.fold_in(key, i)
    p_j = probs[:, j, :]  # [T, C]

    def exact(_):
      grown = (P[:, :, None] * p_j[:, None, :]).reshape(t, m * c)[:, :m]
      return grown, log_alpha, origin, jnp.minimum(n_configs * c, m + 1)

    def start_sampling(_):
      k_t, k_m, k_y = jax.random.split(key_i, 3)
      origin = jax.random.randint(k_t, (m,), 0, t)
      # Configuration of sample s ~ P[origin_s, :], by inverse CDF; one
      # search per MC sample t keeps memory at O(T * M).
      cdf = jnp.cumsum(jnp.where(jnp.arange(m) < n_configs, P, 0.0), axis=1)
      u = jax.random.uniform(k_m, (m,))
      pos = jax.vmap(lambda row: jnp.searchsorted(row, u * row[-1]))(cdf)
      config = jnp.minimum(pos[origin, jnp.arange(m)], n_configs - 1)
      y = jax.random.categorical(k_y, jnp.log(p_j[origin]), axis=-1)
      new = P[:, config] * p_j[:, y]
      return new, jnp.zeros((m,)), origin, jnp.asarray(m + 1, jnp.int32)

    def keep_sampling(_):
      y = jax.random.categorical(key_i, jnp.log(p_j[origin]), axis=-1)
      return P * p_j[:, y], log_alpha, origin, n_configs

    branch = jnp.where(sampled, 2, jnp.where(n_configs * c <= m, 0, 1))
    P, log_alpha, origin, n_configs = lax.switch(
        branch, (exact, start_sampling, keep_sampling), None)
    now_sampled = branch > 0
    # Rescale sampled columns to mean 1 over t (no underflow), remembering
    # the factor: it enters the entropy estimate as -log(alpha).
    scale = jnp.where(now_sampled, jnp.maximum(P.mean(0), 1e-30), 1.0)
    P = P / scale[None, :]
    log_alpha = log_alpha + jnp.where(now_sampled, jnp.log(scale), 0.0)
    return (P, log_alpha, origin, n_configs, now_sampled, chosen.at[i].set(j),
            taken.at[j].set(True), cond_sum + cond[j],
            scores.at[i].set(score[j]))

  P0 = jnp.zeros((t, m)).at[:, 0].set(1.0)
  init = (P0, jnp.zeros((m,)), jnp.zeros((m,), jnp.int32),
          jnp.asarray(1, jnp.int32), jnp.asarray(False),
          jnp.zeros((k,), jnp.int32), jnp.zeros((n,), bool),
          jnp.asarray(0.0), jnp.zeros((k,)))
  out = lax.fori_loop(0, k, step, init)
  return out[5], out[8]


def batchbald(key: jax.Array, k: int, available: jnp.ndarray | None = None,
              *, probs: jnp.ndarray, num_samples: int = 1000,
              chunk: int = 256, return_scores: bool = False):
  """Greedy BatchBALD batch of size k.

  Args:
    key: PRNG key for the configuration samples (used only once `C^i`
      exceeds `num_samples`).
    k: batch size, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for all.
    probs: `[T, N, C]` MC-dropout probabilities, sample axis first.
    num_samples: M, configurations kept for the joint entropy.
    chunk: candidates scored per block; memory O(chunk * M * C).
    return_scores: also return the joint mutual information after each
      pick, `[k]` nats.

  Returns:
    int32 `[k]` indices in pick order (and the scores if asked).

  >>> p = jnp.array([[[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]]])
  >>> batchbald(jax.random.key(0), 1, probs=p).tolist()  # [T=2, N=2, C=2]
  [0]
  """
  checks.key("batchbald", key)
  probs = jnp.asarray(probs)
  checks.probs("batchbald", "probs", probs, layouts=("[T, N, C]",))
  n = probs.shape[1]
  available = jnp.ones(n, bool) if available is None else available
  k, available = checks.selectable("batchbald", k, available, n,
                                   rows_of="probs")
  idx, scores = _batchbald(key, k, jnp.asarray(available), probs,
                           num_samples, chunk)
  return (idx, scores) if return_scores else idx
