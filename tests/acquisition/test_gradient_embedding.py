"""BAIT, Cluster-Margin and ALFA-Mix (bait.py, cluster_margin.py,
alfamix.py) against the reference note's checks, SciPy's average linkage
and NumPy transliterations of the authors' code (JordanAsh/badge
`query_strategies/bait_sampling.py` a2d18ac, AminParvaneh/
alpha_mix_active_learning `query_strategies/alpha_mix_sampling.py`
b79d954), on small seeded inputs."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from jaxdal import acquisition as acq


def _softmax(logits):
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _case(seed, n, c, d, n_labeled):
  rng = np.random.default_rng(seed)
  z = rng.normal(size=(n, d))
  w, b = rng.normal(size=(d, c)), rng.normal(size=c)
  p = _softmax(z @ w + b)
  labeled = np.zeros(n, bool)
  labeled[rng.choice(n, n_labeled, replace=False)] = True
  return z, w, b, p, labeled


def _f32(x):
  return jnp.asarray(x, jnp.float32)


# BAIT ---------------------------------------------------------------------


def _embedding_numpy(p, z):
  """`Strategy.get_exp_grad_embedding`: row y, block c is
  `z (delta_yc - p_c) sqrt(p_y)`."""
  n, c = p.shape
  d = z.shape[1]
  v = np.zeros((n, c, c * d))
  for y in range(c):
    for k in range(c):
      v[:, y, k * d:(k + 1) * d] = (z * ((k == y) - p[:, k:k + 1])
                                    * np.sqrt(p[:, y:y + 1]))
  return v


def _bait_numpy(x, k, fisher, iterates, lamb, n_labeled):
  """`bait_sampling.select`, in NumPy (float64)."""
  rank, dim = x.shape[-2], x.shape[-1]
  inv = np.linalg.inv
  current = inv(lamb * np.eye(dim) + iterates * n_labeled / (n_labeled + k))
  x = x * np.sqrt(k / (n_labeled + k))
  chosen = []
  for _ in range(2 * k):
    inner = inv(np.eye(rank) + x @ current @ x.transpose(0, 2, 1))
    trace = np.trace(x @ current @ fisher @ current @ x.transpose(0, 2, 1)
                     @ inner, axis1=-2, axis2=-1)
    ind = next(j for j in np.argsort(trace)[::-1] if j not in chosen)
    chosen.append(ind)
    xt = x[ind][None]
    inner = inv(np.eye(rank) + xt @ current @ xt.transpose(0, 2, 1))
    current = (current - current @ xt.transpose(0, 2, 1) @ inner @ xt
               @ current)[0]
  for _ in range(len(chosen) - k):
    xt = x[chosen]
    inner = inv(-np.eye(rank) + xt @ current @ xt.transpose(0, 2, 1))
    trace = np.trace(xt @ current @ fisher @ current @ xt.transpose(0, 2, 1)
                     @ inner, axis1=-2, axis2=-1)
    drop = int(np.argmin(-trace))
    xt = x[chosen[drop]][None]
    inner = inv(-np.eye(rank) + xt @ current @ xt.transpose(0, 2, 1))
    current = (current - current @ xt.transpose(0, 2, 1) @ inner @ xt
               @ current)[0]
    del chosen[drop]
  return chosen


def test_bait_score_is_the_drop_of_the_trace():
  # Reference note 7: tr(M^-1 F) - tr((M + V^T V)^-1 F), brute force.
  z, _, _, p, _ = _case(0, 12, 3, 2, 0)
  v = _embedding_numpy(p, z)
  np.testing.assert_allclose(acq.fisher_embedding(_f32(p), _f32(z)), v,
                             atol=1e-6)
  rng = np.random.default_rng(1)
  r = rng.normal(size=(6, 6))
  m = r @ r.T + 0.5 * np.eye(6)
  f = np.einsum("nya,nyb->ab", v, v) / len(v)
  m_inv = np.linalg.inv(m)
  brute = [np.trace(m_inv @ f) - np.trace(np.linalg.inv(m + vi.T @ vi) @ f)
           for vi in v]
  got = acq.bait_score(_f32(p), _f32(z), m_inv=_f32(m_inv), fisher=_f32(f))
  np.testing.assert_allclose(got, brute, rtol=1e-4, atol=1e-6)
  zero = acq.bait_score(_f32(p), _f32(z), m_inv=_f32(m_inv),
                        fisher=jnp.zeros((6, 6)))
  np.testing.assert_array_equal(zero, np.zeros(12))


def _bait_against_the_authors(seed, n, c, d, k, n_labeled):
  z, _, _, p, labeled = _case(seed, n, c, d, n_labeled)
  v = _embedding_numpy(p, z)
  fisher = np.einsum("nya,nyb->ab", v, v) / n
  init = np.einsum("nya,nyb->ab", v[labeled], v[labeled]) / labeled.sum()
  pool = np.flatnonzero(~labeled)
  want = pool[_bait_numpy(v[pool], k, fisher, init, 1.0, labeled.sum())]
  got = acq.bait(None, k, probs=_f32(p)[None], features=_f32(z),
                 labeled=jnp.asarray(labeled))
  np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_bait_matches_the_authors_greedy(seed):
  _bait_against_the_authors(seed, n=40, c=3, d=4, k=5, n_labeled=6)


def test_bait_larger_batch_matches_the_authors_greedy():
  """24 forward steps of rank-C updates, then 12 removals."""
  _bait_against_the_authors(7, n=100, c=4, d=6, k=12, n_labeled=10)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_bait_updated_sandwiches_equal_new_ones(sign):
  """After three rank-C steps (adds, or removals from a larger M), the
  updated `V M^-1 V^T` and `V G V^T` equal those computed from the new
  `M^-1` (float64 NumPy, the Woodbury inverse checked too)."""
  # The module (the package's `bait` is the function).
  bait_lib = importlib.import_module("jaxdal.acquisition.bait")
  z, _, _, p, _ = _case(3, 30, 3, 4, 0)
  v = _embedding_numpy(p, z)
  f = np.einsum("nya,nyb->ab", v, v) / len(v)
  m = np.eye(12) + 5.0 * f
  a = bait_lib._factors(_f32(p))
  m_inv = _f32(np.linalg.inv(m))
  vmv, vgv = bait_lib._sandwiches(a, _f32(z), m_inv, _f32(f), 8)
  scale = 0.5
  for j in (4, 11, 20):
    m_inv, vmv, vgv = bait_lib._step(m_inv, vmv, vgv, a, _f32(z), _f32(f),
                                     a[j], _f32(z)[j], scale, sign)
    m = m + sign * scale ** 2 * v[j].T @ v[j]
  want_inv = np.linalg.inv(m)
  np.testing.assert_allclose(m_inv, want_inv, rtol=1e-4, atol=1e-5)
  g = want_inv @ f @ want_inv
  np.testing.assert_allclose(vmv, v @ want_inv @ v.transpose(0, 2, 1),
                             rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(vgv, v @ g @ v.transpose(0, 2, 1),
                             rtol=1e-4, atol=1e-5)


# Cluster-Margin -----------------------------------------------------------


def test_cluster_margin_takes_the_small_group_first():
  # Reference note 8: groups A = {3 points}, B = {1}, k = 2 -> B's point
  # plus one of A. Rows 4 and 5 are confident: not among the k_m = 4.
  p = _f32([[0.5, 0.5], [0.52, 0.48], [0.54, 0.46], [0.56, 0.44],
            [0.99, 0.01], [0.98, 0.02]])
  z = _f32([[0.0], [0.1], [0.2], [10.0], [5.0], [5.1]])
  seen = set()
  for seed in range(6):
    got = acq.cluster_margin(jax.random.key(seed), 2, probs=p, features=z,
                             margin_ratio=2, epsilon=1.0).tolist()
    assert got[0] == 3 and got[1] in (0, 1, 2)
    seen.add(got[1])
  assert len(seen) > 1  # the member of A is drawn by the key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_linkage_matches_scipy(seed):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(30, 3))
  valid = rng.random(30) < 0.8
  rows = np.flatnonzero(valid)
  tree = linkage(x[rows], method="average")
  heights = tree[:, 2]
  cuts = [(heights[i] + heights[i + 1]) / 2 for i in (5, len(rows) // 2)]
  for epsilon in [*cuts, None]:
    t = np.median(pdist(x[rows])) if epsilon is None else epsilon
    want = fcluster(tree, t, criterion="distance")
    got = np.asarray(acq.average_linkage(_f32(x), epsilon,
                                         jnp.asarray(valid)))
    assert (got[~valid] == -1).all()
    got = got[rows]
    np.testing.assert_array_equal(got[:, None] == got[None],
                                  want[:, None] == want[None])
    # Each cluster is named by its lowest row.
    assert all(got[i] == rows[np.flatnonzero(got == got[i]).min()]
               for i in range(len(rows)))


# ALFA-Mix -----------------------------------------------------------------


def _flips_numpy(z, w, b, labeled, labels, alpha_cap):
  """`find_candidate_set` with `alpha_closed_form_approx`, in NumPy: the
  per-anchor prediction changes of the unlabeled rows, `[U, C]`."""
  c = w.shape[1]
  ulb, lb = z[~labeled], z[labeled]
  logits = ulb @ w + b
  pred = logits.argmax(1)
  # Gradient of F.cross_entropy (mean over the batch) w.r.t. the input.
  grads = (_softmax(logits) - np.eye(c)[pred]) @ w.T / len(ulb)
  eps = alpha_cap / np.sqrt(z.shape[1])
  out = np.zeros((len(ulb), c), bool)
  for i in range(c):
    emb = lb[labels[labeled] == i]
    anchor = (emb if len(emb) else lb).mean(0)
    diff = anchor - ulb
    alpha = (eps * np.linalg.norm(diff, axis=1)
             / np.linalg.norm(grads, axis=1))[:, None] * grads / (diff + 1e-8)
    mix = (1 - alpha) * ulb + alpha * anchor
    out[:, i] = (mix @ w + b).argmax(1) != pred
  return out


@pytest.mark.parametrize("alpha_cap", [0.2, 0.5])
def test_alfamix_flips_match_the_authors_closed_form(alpha_cap):
  z, w, b, p, labeled = _case(3, 40, 4, 5, 10)
  labels = np.random.default_rng(4).integers(0, 3, 40)  # class 3 empty
  want = _flips_numpy(z, w, b, labeled, labels, alpha_cap)
  got = acq.alfamix_flips(_f32(p), _f32(z), jnp.asarray(labeled),
                          alpha_cap=alpha_cap, labels=jnp.asarray(labels))
  assert want.any() and not want.all()
  np.testing.assert_array_equal(np.asarray(got)[~labeled], want)


def test_linear_head_is_recovered_up_to_the_class_mean():
  z, w, b, p, _ = _case(5, 30, 4, 3, 0)
  w_hat, b_hat = acq.linear_head(_f32(p), _f32(z))
  np.testing.assert_allclose(w_hat, w - w.mean(1, keepdims=True), atol=1e-4)
  np.testing.assert_allclose(b_hat, b - b.mean(), atol=1e-4)


def test_alfamix_own_anchor_does_not_flip():
  # Reference note 9: z_u equal to its own class anchor is not flipped by
  # that anchor, even where a large step flips it towards another one.
  z, w, b, _, labeled = _case(6, 30, 3, 4, 9)
  pred = (z @ w + b).argmax(1)
  u = int(np.flatnonzero(~labeled)[0])
  z[u] = z[labeled & (pred == pred[u])].mean(0)
  assert (z[u] @ w + b).argmax() == pred[u]
  p = _softmax(z @ w + b)
  flips = np.asarray(acq.alfamix_flips(_f32(p), _f32(z),
                                       jnp.asarray(labeled), alpha_cap=20.0))
  assert not flips[u, pred[u]] and flips[u].any()


def test_alfamix_takes_candidates_then_lowest_margins():
  z, _, _, p, labeled = _case(7, 40, 3, 4, 8)
  top = np.sort(p, axis=1)
  margin = np.where(labeled, np.inf, top[:, -1] - top[:, -2])
  lowest = np.argsort(margin, kind="stable")
  key = jax.random.key(0)
  # eps = 0: no candidates, every pick comes from the fill.
  assert not np.asarray(acq.alfamix_flips(_f32(p), _f32(z),
                                          jnp.asarray(labeled),
                                          alpha_cap=0.0)).any()
  got = acq.alfamix(key, 5, probs=_f32(p), features=_f32(z),
                    labeled=jnp.asarray(labeled), alpha_cap=0.0)
  np.testing.assert_array_equal(got, lowest[:5])
  # A few candidates: each is picked (one per cluster), then the fill.
  flips = np.asarray(acq.alfamix_flips(_f32(p), _f32(z),
                                       jnp.asarray(labeled), alpha_cap=0.1))
  cand = np.flatnonzero(flips.any(1) & ~labeled)
  assert 0 < len(cand) < 8, len(cand)
  got = np.asarray(acq.alfamix(key, 8, probs=_f32(p), features=_f32(z),
                               labeled=jnp.asarray(labeled), alpha_cap=0.1))
  assert sorted(got[:len(cand)].tolist()) == cand.tolist()
  rest = [i for i in lowest if i not in cand][:8 - len(cand)]
  assert got[len(cand):].tolist() == rest
