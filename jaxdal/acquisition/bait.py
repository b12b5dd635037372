"""BAIT: greedy Fisher-information batch selection on the last layer.

Ash, Goel, Krishnamurthy and Kakade, "Gone Fishing: Neural Active
Learning with Fisher Embeddings", NeurIPS 2021. With the mean predictive
distribution `p` of a row and its penultimate features `z` `[D]`, the
last-layer Fisher of the row is `V^T V` with the `[C, C*D]` embedding

  V[y] = sqrt(p_y) (e_y - p) (x) z,        y = 1..C,

(`fisher_embedding`; class-major, as the authors'
`Strategy.get_exp_grad_embedding`). With `F` the mean of `V^T V` over
all N rows and `F_L` its mean over the labeled rows, BAIT minimises
`tr(M^-1 F)` over batches S of k available rows, where

  M = lambda I + |L| / (|L| + k) F_L + sum_{x in S} V_x^T V_x

and every pool embedding is scaled by `sqrt(k / (|L| + k))`. Greedily,
as the authors' `query_strategies/bait_sampling.py::select`:

- forward, `2k` steps (oversampling 2): add the row with the largest
  drop of the trace (Woodbury, `I` the `C x C` identity),

    tr(M^-1 F) - tr((M + V^T V)^-1 F)
        = tr[(I + V M^-1 V^T)^-1 V M^-1 F M^-1 V^T],        (`bait_score`)

  then `M^-1 <- M^-1 - M^-1 V^T (I + V M^-1 V^T)^-1 V M^-1`;
- backward, k steps: remove the chosen row whose removal raises the
  trace least, i.e. the largest `tr[(-I + V M^-1 V^T)^-1 V M^-1 F M^-1
  V^T]` (minus the rise), with the same rank-C update for `-V^T V`.

The k rows left are returned in the order they were added.

Where this differs from the authors' code:

- `V M^-1 V^T` is computed from the Kronecker form `V = A (x) z^T`
  (`A[y] = sqrt(p_y) (e_y - p)`, `[C, C]`), so the `[N, C, C*D]`
  embedding (N C^2 D floats: 10 GB for 50,000 CIFAR-10 rows at D = 512)
  is never held: row blocks of `chunk` rows hold `chunk C^2 D` floats.
  The `(C D) x (C D)` matrices `F`, `M^-1` and `M^-1 F M^-1` are held
  whole: 3 (C D)^2 floats, 315 MB for C = 10, D = 512; for C = 100 this is
  infeasible (31 GB), so BAIT suits a moderate `C D`.
- The per-row quantities `V M^-1 V^T` and `V M^-1 F M^-1 V^T` (`[N, C,
  C]`) are computed once (`2 N C^2 D^2` flops) and then updated by the
  same rank-C terms as `M^-1` (`_step`): a step costs about `4 N C^2 D +
  6 (C D)^2 C` flops instead of recomputing them (`2 N C^2 D^2`; the
  authors' dense form, `N C^3 D^2`). The backward pass recomputes them
  once for its `2k` rows.
- The probabilities are the mean over the T samples; the authors use one
  deterministic forward pass.
- Ties go to the lowest index (the authors' `argsort(...)[::-1]` takes
  the last); non-finite scores never win (the authors clamp infinite
  entries of the inner inverse to the float32 maximum).
- When fewer than `2k` rows are available, the forward pass stops at the
  available count (the authors' loop would append a row twice).
- `F` and `F_L` are exact means; the authors sum per-batch means.
  `lambda = 1` as their default (`run.py`; 1e-2 for CIFAR), with no
  labeled rows `F_L = 0`.
"""

import functools

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax import lax

from jaxdal.acquisition import checks
from jaxdal.acquisition.scores import mean_probs

__all__ = ["bait", "bait_score", "fisher_embedding"]

_HI = lax.Precision.HIGHEST


def _factors(probs):
  """`A[n, y, a] = sqrt(p_ny) (delta_ya - p_na)`, `[N, C, C]`."""
  p = mean_probs(probs).astype(jnp.float32)
  c = p.shape[-1]
  return jnp.sqrt(p)[:, :, None] * (jnp.eye(c)[None] - p[:, None, :])


def fisher_embedding(probs: jnp.ndarray,
                     features: jnp.ndarray) -> jnp.ndarray:
  """BAIT's Fisher embedding `[N, C, C * D]`, materialised.

  Row y of example n is `sqrt(p_y) (e_y - p) (x) z_n`, class-major, so
  `V_n^T V_n` is the expected last-layer Fisher of example n. For tests
  and small pools (N C^2 D floats); `bait` never builds it.

  Args:
    probs: `[N, C]` or `[T, N, C]` probabilities (the T-mean is used).
    features: `[N, D]`.

  Returns:
    float32 `[N, C, C * D]`.

  >>> v = fisher_embedding(jnp.array([[0.5, 0.5]]), jnp.array([[2.0]]))
  >>> [[round(float(x), 4) for x in row] for row in v[0]]
  [[0.7071, -0.7071], [-0.7071, 0.7071]]
  """
  a = _factors(jnp.asarray(probs))
  z = jnp.asarray(features, jnp.float32)
  n, c = a.shape[:2]
  return (a[:, :, :, None] * z[:, None, None, :]).reshape(n, c, -1)


def _blocks(x, chunk):
  """`[N, ...]` -> `[N / chunk, chunk, ...]`, zero-padded."""
  n = x.shape[0]
  pad = (-n) % chunk
  x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
  return x.reshape((-1, chunk) + x.shape[1:])


def _sandwich(a, z, mats, chunk):
  """`V_n Mat V_n^T` `[N, C, C]` for each `[C D, C D]` matrix of `mats`.

  With `V_n = A_n (x) z_n^T`, `V_n Mat V_n^T = A_n Q_n A_n^T` and
  `Q_n[a, b] = z_n^T Mat[(a, :), (b, :)] z_n`, computed in row blocks.
  """
  n, c = a.shape[:2]
  d = z.shape[1]
  # [(a, d), (b, e)] -> [d, (a, b, e)]: one matrix product per block.
  flat = [m.reshape(c, d, c, d).transpose(1, 0, 2, 3).reshape(d, -1)
          for m in mats]

  def block(args):
    ab, zb = args
    out = []
    for m in flat:
      y = jnp.dot(zb, m, precision=_HI).reshape(-1, c, c, d)
      q = jnp.einsum("nabe,ne->nab", y, zb, precision=_HI)
      out.append(jnp.einsum("nya,nab,nxb->nyx", ab, q, ab, precision=_HI))
    return tuple(out)

  out = lax.map(block, (_blocks(a, chunk), _blocks(z, chunk)))
  return tuple(o.reshape((-1, c, c))[:n] for o in out)


def _fisher(a, z, weights, chunk):
  """`sum_n w_n V_n^T V_n` `[C D, C D]`, in row blocks.

  `V_n^T V_n = (A_n^T A_n) (x) (z_n z_n^T)`.
  """
  c, d = a.shape[1], z.shape[1]
  ata = jnp.einsum("nya,nyb->nab", a, a, precision=_HI)
  ata = ata * weights[:, None, None]

  def block(total, args):
    mb, zb = args
    x = (mb[..., None] * zb[:, None, None, :]).reshape(zb.shape[0], -1)
    return total + jnp.dot(x.T, zb, precision=_HI), None  # [(a,b,d), e]

  total = jnp.zeros((c * c * d, d), jnp.float32)
  total, _ = lax.scan(block, total, (_blocks(ata, chunk), _blocks(z, chunk)))
  return total.reshape(c, c, d, d).transpose(0, 2, 1, 3).reshape(c * d, -1)


def _trace_solve(inner, num):
  """`tr(inner^-1 num)` per row, `[N, C, C]` each -> `[N]`."""
  return jnp.trace(jnp.linalg.solve(inner, num), axis1=-2, axis2=-1)


def _trace_scores(vmv, vgv, scale2, sign):
  """`tr[(sign I + s^2 VMV)^-1 s^2 VGV]` per row, `[N, C, C]` each ->
  `[N]`; non-finite scores clamped to the float32 range."""
  eye = jnp.eye(vmv.shape[1], dtype=jnp.float32)
  s = _trace_solve(sign * eye + scale2 * vmv, scale2 * vgv)
  big = jnp.finfo(jnp.float32).max
  return jnp.nan_to_num(s, nan=-big, posinf=big, neginf=-big)


def _sandwiches(a, z, m_inv, fisher, chunk):
  """`(V M^-1 V^T, V G V^T)` per row, `G = M^-1 F M^-1`."""
  g = jnp.dot(jnp.dot(m_inv, fisher, precision=_HI), m_inv, precision=_HI)
  return _sandwich(a, z, (m_inv, g), chunk)


def _scores(a, z, m_inv, fisher, scale2, sign, chunk):
  """`tr[(sign I + s^2 V M^-1 V^T)^-1 s^2 V M^-1 F M^-1 V^T]`, `[N]`."""
  vmv, vgv = _sandwiches(a, z, m_inv, fisher, chunk)
  return _trace_scores(vmv, vgv, scale2, sign)


def _rows_times(a, z, x):
  """`V_n X` `[N, C, K]` for every row, `X` `[C D, K]`: with `V_n = A_n
  (x) z_n^T`, `(V_n X)[y] = sum_a A_n[y, a] z_n^T X[(a, :)]`."""
  c, d = a.shape[1], z.shape[1]
  t = jnp.dot(z, x.reshape(c, d, -1).transpose(1, 0, 2).reshape(d, -1),
              precision=_HI).reshape(z.shape[0], c, -1)
  return jnp.einsum("nya,nak->nyk", a, t, precision=_HI)


def _step(m_inv, vmv, vgv, a, z, fisher, a_j, z_j, scale, sign):
  """Adds (sign +1) or removes (-1) row j's scaled Fisher `s^2 V_j^T V_j`:
  `M^-1` by Woodbury, `M'^-1 = M^-1 - U W U^T` with `U = M^-1 s V_j^T`,
  `W = (sign I + s V_j U)^-1`, and every row's sandwiches by the same
  rank-C terms instead of anew (`P_n = V_n U`, `Q_n = V_n M^-1 F U`):

    V_n M'^-1 V_n^T = VMV_n - P_n W P_n^T,
    V_n G' V_n^T = VGV_n - P_n W Q_n^T - Q_n W P_n^T
                   + P_n W (U^T F U) W P_n^T,

  about `4 N C^2 D` flops a step against `2 N C^2 D^2` for new
  sandwiches."""
  v = scale * (a_j[:, :, None] * z_j[None, None, :]).reshape(a_j.shape[0],
                                                              -1)
  u = jnp.dot(m_inv, v.T, precision=_HI)  # [C D, C]
  w = jnp.linalg.inv(sign * jnp.eye(v.shape[0]) + jnp.dot(v, u,
                                                          precision=_HI))
  w = (w + w.T) / 2
  fu = jnp.dot(fisher, u, precision=_HI)
  h = jnp.dot(m_inv, fu, precision=_HI)  # M^-1 F U
  k_mat = jnp.dot(u.T, fu, precision=_HI)  # U^T F U
  pq = _rows_times(a, z, jnp.concatenate([u, h], axis=1))
  p, q = pq[..., :u.shape[1]], pq[..., u.shape[1]:]
  pw = jnp.einsum("nyc,cd->nyd", p, w, precision=_HI)
  vmv = vmv - jnp.einsum("nyd,nxd->nyx", pw, p, precision=_HI)
  pwq = jnp.einsum("nyd,nxd->nyx", pw, q, precision=_HI)
  pwkwp = jnp.einsum("nyd,de,nxe->nyx", pw, k_mat, pw, precision=_HI)
  vgv = vgv - pwq - pwq.transpose(0, 2, 1) + pwkwp
  m_inv = m_inv - jnp.dot(jnp.dot(u, w, precision=_HI), u.T, precision=_HI)
  return m_inv, vmv, vgv


def _check_probs_features(fn, probs, features):
  probs = jnp.asarray(probs)
  checks.probs(fn, "probs", probs)
  checks.features(fn, "features", features, probs.shape[-2],
                  rows_of="probs")
  return probs


def bait_score(probs: jnp.ndarray, features: jnp.ndarray, *,
               m_inv: jnp.ndarray, fisher: jnp.ndarray,
               chunk: int = 256) -> jnp.ndarray:
  """Drop of `tr(M^-1 F)` when each row's Fisher is added to M.

  `tr[(I + V M^-1 V^T)^-1 V M^-1 F M^-1 V^T] = tr(M^-1 F) -
  tr((M + V^T V)^-1 F)` with V the row's `fisher_embedding`; BAIT's
  forward score, from the Kronecker form (no embedding is built).

  Args:
    probs: `[N, C]` or `[T, N, C]` probabilities (the T-mean is used).
    features: `[N, D]`.
    m_inv: `[C D, C D]` inverse of a symmetric positive definite M.
    fisher: `[C D, C D]` target Fisher F (symmetric, positive
      semi-definite).
    chunk: rows per block.

  Returns:
    float32 `[N]`; 0 everywhere when F = 0.

  >>> p, z = jnp.array([[0.5, 0.5]]), jnp.array([[2.0]])
  >>> [round(float(s), 4) for s in bait_score(
  ...     p, z, m_inv=jnp.eye(2), fisher=jnp.eye(2))]
  [0.6667]
  """
  fn = "bait_score"
  probs = _check_probs_features(fn, probs, features)
  cd = probs.shape[-1] * features.shape[1]
  for name, m in (("m_inv", m_inv), ("fisher", fisher)):
    if tuple(getattr(m, "shape", ())) != (cd, cd):
      raise ValueError(f"{fn}: {name} must be [C*D, C*D] = [{cd}, {cd}]; "
                       f"got {checks.describe(m)}")
  a = _factors(probs)
  return _scores(a, jnp.asarray(features, jnp.float32),
                 jnp.asarray(m_inv, jnp.float32),
                 jnp.asarray(fisher, jnp.float32), 1.0, 1.0,
                 min(chunk, features.shape[0]))


@functools.partial(jax.jit, static_argnames=("k", "oversample", "chunk"))
def _bait(k, available, labeled, probs, features, lmb, oversample, chunk):
  a = _factors(probs)
  z = features.astype(jnp.float32)
  n, c = a.shape[:2]
  cd = c * z.shape[1]
  n_lab = labeled.sum().astype(jnp.float32)
  fisher = _fisher(a, z, jnp.full(n, 1.0 / n, jnp.float32), chunk)
  f_lab = _fisher(a, z, labeled / jnp.maximum(n_lab, 1.0), chunk)
  m = (lmb * jnp.eye(cd, dtype=jnp.float32)
       + n_lab / (n_lab + k) * f_lab)
  m_inv = jsl.cho_solve(jsl.cho_factor(m, lower=True),
                        jnp.eye(cd, dtype=jnp.float32))
  scale2 = k / (n_lab + k)
  scale = jnp.sqrt(scale2)
  steps = oversample * k

  def forward(i, carry):
    m_inv, vmv, vgv, taken, order, count = carry
    open_ = available & ~taken
    s = _trace_scores(vmv, vgv, scale2, 1.0)
    j = jnp.argmax(jnp.where(open_, s, -jnp.inf)).astype(jnp.int32)
    go = open_.any()  # Fewer than 2k available rows: stop adding.
    m_inv, vmv, vgv = jax.tree.map(
        lambda new, old: jnp.where(go, new, old),
        _step(m_inv, vmv, vgv, a, z, fisher, a[j], z[j], scale, 1.0),
        (m_inv, vmv, vgv))
    return (m_inv, vmv, vgv, taken.at[j].set(taken[j] | go),
            order.at[count].set(jnp.where(go, j, order[count])),
            count + go.astype(jnp.int32))

  vmv, vgv = _sandwiches(a, z, m_inv, fisher, chunk)
  init = (m_inv, vmv, vgv, jnp.zeros(n, bool), jnp.zeros(steps, jnp.int32),
          jnp.int32(0))
  m_inv, _, _, _, order, count = lax.fori_loop(0, steps, forward, init)
  a_o, z_o = a[order], z[order]

  def backward(i, carry):
    m_inv, vmv, vgv, alive = carry
    s = _trace_scores(vmv, vgv, scale2, -1.0)
    # Largest score = smallest rise of tr(M^-1 F); first added on ties.
    r = jnp.argmax(jnp.where(alive, s, -jnp.inf))
    go = alive.sum() > k
    m_inv, vmv, vgv = jax.tree.map(
        lambda new, old: jnp.where(go, new, old),
        _step(m_inv, vmv, vgv, a_o, z_o, fisher, a_o[r], z_o[r], scale,
              -1.0), (m_inv, vmv, vgv))
    return m_inv, vmv, vgv, alive.at[r].set(alive[r] & ~go)

  # The chosen rows' sandwiches anew from the final M^-1 (2k rows).
  vmv, vgv = _sandwiches(a_o, z_o, m_inv, fisher, min(chunk, steps))
  alive = jnp.arange(steps) < count
  *_, alive = lax.fori_loop(0, steps - k, backward,
                            (m_inv, vmv, vgv, alive))
  pos = jnp.arange(steps)
  keep = jnp.argsort(jnp.where(alive, pos, steps + pos))[:k]
  return order[keep]


def bait(key: jax.Array | None, k: int,
         available: jnp.ndarray | None = None, *, probs: jnp.ndarray,
         features: jnp.ndarray, labeled: jnp.ndarray | None = None,
         lmb: float = 1.0, oversample: int = 2,
         chunk: int = 256) -> jnp.ndarray:
  """BAIT: forward-backward greedy minimisation of `tr(M^-1 F)`.

  `oversample * k` forward steps over the available rows (fewer if fewer
  are available), then backward removals down to k (module docstring).

  Args:
    key: ignored (deterministic; ties go to the lowest index). None is
      fine.
    k: static number of picks, `0 < k <= available.sum()`.
    available: bool `[N]` selectable rows; None for those not labeled.
    probs: `[N, C]` or `[T, N, C]` probabilities of all N rows (the
      T-mean is used).
    features: `[N, D]` penultimate features of all N rows.
    labeled: bool `[N]` rows whose Fisher starts in M; None for none.
    lmb: the ridge lambda of `M = lambda I + ...`, > 0.
    oversample: forward steps per pick (the authors' 2).
    chunk: rows per block of the Kronecker products.

  Returns:
    int32 `[k]` distinct available indices in the order they were added.

  >>> p = jnp.array([[0.5, 0.5], [0.99, 0.01], [0.6, 0.4]])
  >>> z = jnp.array([[1.0], [1.0], [1.0]])
  >>> bait(None, 1, probs=p, features=z).tolist()
  [0]
  """
  del key  # Deterministic.
  fn = "bait"
  probs = _check_probs_features(fn, probs, features)
  n = features.shape[0]
  if labeled is None:
    labeled = jnp.zeros(n, bool)
  k, available, labeled = checks.selector_inputs(fn, k, available, features,
                                                 labeled)
  oversample = checks.size(fn, oversample, name="oversample",
                           what="forward steps per pick")
  if not lmb > 0:
    raise ValueError(f"{fn}: lmb must be a positive float; got {lmb!r}")
  return _bait(k, available, labeled, probs, features,
               jnp.asarray(lmb, jnp.float32), oversample, min(chunk, n))
