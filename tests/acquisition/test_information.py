"""Variation ratios, mean std and EPIG: golden values, NumPy and baal 2.1.0
references (tests/data/make_baal_references.py)."""

import inspect
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import xlogy

from jaxdal import acquisition as acq

REFS = os.path.join(os.path.dirname(__file__), "..", "data",
                    "baal_references.npz")


@pytest.fixture(scope="module")
def refs():
  with np.load(REFS) as f:
    return dict(f)


def _np_variation_ratios(p):
  """1 - f_mode / T, a transliteration of scikit-activeml's vote form."""
  t, n, c = p.shape
  votes = np.argmax(p, axis=-1)  # [T, N]
  out = np.empty(n)
  for i in range(n):
    counts = np.bincount(votes[:, i], minlength=c)
    out[i] = 1.0 - counts.max() / t
  return out


def _mc(seed, t, n, c, alpha=0.5):
  rng = np.random.default_rng(seed)
  return rng.dirichlet(np.full(c, alpha), size=(t, n)).astype(np.float32)


def test_variation_ratios_golden():
  # acquisition-breadth.md section 6: votes [0, 0, 1, 2] -> 0.5.
  votes = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]][:, None, :]
  np.testing.assert_allclose(acq.variation_ratios(jnp.asarray(votes)), [0.5])
  agree = np.repeat(_mc(0, 1, 5, 4), 6, axis=0)
  np.testing.assert_array_equal(acq.variation_ratios(jnp.asarray(agree)), 0)


@pytest.mark.parametrize("t, n, c", [(7, 40, 3), (20, 25, 10), (1, 4, 2)])
def test_variation_ratios_match_numpy(t, n, c):
  p = _mc(t * 100 + c, t, n, c)
  np.testing.assert_allclose(acq.variation_ratios(jnp.asarray(p)),
                             _np_variation_ratios(p), atol=1e-7)


def test_mean_std_golden_and_numpy():
  p = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])
  np.testing.assert_allclose(acq.mean_std(p), [0.5])
  np.testing.assert_allclose(acq.mean_variance(p), [0.25])
  q = _mc(1, 9, 30, 5)
  np.testing.assert_allclose(acq.mean_std(jnp.asarray(q)),
                             q.astype(np.float64).std(axis=0).mean(-1),
                             atol=1e-6)
  agree = np.repeat(q[:1], 4, axis=0)
  np.testing.assert_allclose(acq.mean_std(jnp.asarray(agree)), 0.0,
                             atol=1e-7)


def test_mean_variance_matches_baal_variance(refs):
  got = acq.mean_variance(jnp.asarray(refs["mc_probs"]))
  np.testing.assert_allclose(got, refs["variance"], atol=1e-5)


def test_mean_std_matches_baal_variance_with_a_square_root(refs):
  got = acq.mean_std(jnp.asarray(refs["mc_probs"]))
  np.testing.assert_allclose(got, refs["variance_sqrt"], atol=1e-5)


@pytest.mark.parametrize("case", ["a", "b"])
def test_epig_matches_baal(refs, case):
  got = acq.epig(jnp.asarray(refs[f"epig_{case}_pool"]),
                 jnp.asarray(refs[f"epig_{case}_targets"]))
  np.testing.assert_allclose(got, refs[f"epig_{case}"], atol=1e-5)


def _np_epig_kl(pool, targets):
  """The paper's KL form, in float64: mean_m KL(p(y, y*) || p(y) p(y*))."""
  pool, targets = pool.astype(np.float64), targets.astype(np.float64)
  t = pool.shape[0]
  joint = np.einsum("tnc,tmd->nmcd", pool, targets) / t
  indep = (pool.mean(0)[:, None, :, None] * targets.mean(0)[None, :, None, :])
  return (xlogy(joint, joint) - xlogy(joint, indep)).sum((-2, -1)).mean(-1)


def test_epig_golden_and_kl_form():
  # acquisition-breadth.md section 5.
  p = jnp.array([[[1.0, 0.0]], [[0.0, 1.0]]])
  np.testing.assert_allclose(acq.epig(p, p), [np.log(2.0)], rtol=1e-6)
  same = jnp.asarray(np.repeat(_mc(2, 1, 6, 3), 5, axis=0))
  np.testing.assert_allclose(acq.epig(same, same[:, :4]), 0.0, atol=1e-6)
  pool, targets = _mc(3, 6, 20, 4), _mc(4, 6, 7, 4)
  got = np.asarray(acq.epig(jnp.asarray(pool), jnp.asarray(targets)))
  np.testing.assert_allclose(got, _np_epig_kl(pool, targets), atol=2e-6)
  assert (got >= 0).all() and (got <= np.log(4)).all()


def test_epig_blocks_and_weights():
  pool, targets = _mc(5, 4, 23, 3), _mc(6, 4, 9, 3)
  pool, targets = jnp.asarray(pool), jnp.asarray(targets)
  whole = acq.epig(pool, targets)
  np.testing.assert_allclose(acq.epig(pool, targets, chunk=5), whole,
                             atol=1e-6)
  weights = jnp.array([1.0, 0, 0, 1, 0, 1, 1, 0, 1])
  kept = np.flatnonzero(np.asarray(weights))
  np.testing.assert_allclose(
      acq.epig(pool, targets, target_weights=weights),
      acq.epig(pool, targets[:, kept]), atol=1e-6)


def test_epig_refuses_mismatched_targets():
  with pytest.raises(ValueError, match="target_probs_mc must be"
                     r" \[T=4, M, C=3\]"):
    acq.epig(jnp.asarray(_mc(0, 4, 5, 3)), jnp.asarray(_mc(0, 3, 5, 3)))


def test_epig_select_takes_its_targets_from_the_available_rows():
  probs = jnp.asarray(_mc(7, 5, 30, 4))
  available = jnp.asarray(np.arange(30) % 3 != 0)  # 20 rows
  rows = np.flatnonzero(np.asarray(available))
  # Fewer available rows than targets: every available row is a target.
  want = acq.top_k(None, 6, available,
                   scores=acq.epig(probs, probs[:, rows]))
  for seed in range(3):
    got = acq.epig_select(jax.random.key(seed), 6, available, probs=probs)
    np.testing.assert_array_equal(got, want)
  assert acq.get("epig").select(jax.random.key(0), 6, available,
                                probs=probs).tolist() == want.tolist()


def test_epig_select_samples_targets_with_the_key():
  probs = jnp.asarray(_mc(8, 5, 40, 4))
  available = jnp.ones(40, bool)
  picks = jax.vmap(lambda key: acq.epig_select(
      key, 3, available, probs=probs, num_targets=5))(
          jax.random.split(jax.random.key(0), 8))
  picks = np.asarray(picks)
  assert picks.shape == (8, 3)
  assert len({tuple(row) for row in picks.tolist()}) > 1


def test_registered_flags():
  for name in ("variation_ratios", "mean_std"):
    entry = acq.get(name)
    assert entry.uses_mc and not entry.uses_key
  entry = acq.get("epig")
  assert entry.uses_mc and entry.uses_key


def test_scores_vmap_over_pools():
  pools = jnp.asarray(np.stack([_mc(s, 4, 12, 3) for s in range(3)]))
  for fn in (acq.variation_ratios, acq.mean_std, lambda p: acq.epig(p, p)):
    np.testing.assert_allclose(jax.vmap(fn)(pools),
                               np.stack([fn(p) for p in pools]), atol=1e-6)


def test_epig_select_takes_the_selector_argument_order():
  params = list(inspect.signature(acq.epig_select).parameters.values())
  assert [p.name for p in params[:3]] == ["key", "k", "available"]
  assert params[2].default is None
  assert all(p.kind is p.KEYWORD_ONLY for p in params[3:])
