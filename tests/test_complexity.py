"""Complexity measures: stored references, ground truth, analytic cases."""

import doctest
import math
import os

import numpy as np
import pytest

from jaxdal import complexity, diagnostics
from tests.conftest import modules_loaded_by

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "complexity",
                         "reference.npz")
UNLABELLED = ("manifold5", "duplicates")
LABELLED = ("mixture3", "overlap2")


@pytest.fixture(scope="module")
def ref():
  with np.load(REFERENCE) as f:
    return dict(f)


def _num_classes(y):
  return int(y.max()) + 1


def _embed(z, seed, dim=512):
  """`[N, d]` latent points -> `[N, dim]` float32 by a random isometry."""
  q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim,
                                                               z.shape[1])))
  return (z @ q.T).astype(np.float32)


def _isotropic(n, d, seed=0):
  return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


# -------------------------------------------------------------- references


@pytest.mark.parametrize("name", LABELLED + UNLABELLED)
def test_unlabelled_measures_match_references(ref, name):
  x = ref[f"{name}_x"]
  # skdim's TwoNN; numpy float64 spectra computed from the formulas.
  assert complexity.twonn_dimension(x) == pytest.approx(
      ref[f"{name}_twonn"], rel=1e-3)
  assert complexity.effective_rank(x) == pytest.approx(
      ref[f"{name}_effective_rank"], rel=1e-3)
  assert complexity.participation_ratio(x) == pytest.approx(
      ref[f"{name}_participation_ratio"], rel=1e-3)


@pytest.mark.parametrize("name", LABELLED)
def test_labelled_measures_match_references(ref, name):
  x, y = ref[f"{name}_x"], ref[f"{name}_y"]
  c = _num_classes(y)
  # problexity's F1 (ComplexityCalculator, 'ovo') from float32 inputs.
  assert complexity.fisher_ratio(x, y, c) == pytest.approx(
      ref[f"{name}_fisher_ratio"], rel=1e-6)
  # N1 values are ratios of counts: equal up to float64 rounding.
  assert complexity.problexity_n1(x, y, c) == pytest.approx(
      ref[f"{name}_problexity_n1"], abs=1e-12)
  assert complexity.boundary_fraction(x, y) == pytest.approx(
      ref[f"{name}_boundary_fraction"], abs=1e-12)


@pytest.mark.parametrize("name", LABELLED)
def test_mst_on_the_fly_equals_dense(ref, name):
  x, y = ref[f"{name}_x"], ref[f"{name}_y"]
  c = _num_classes(y)
  assert complexity.boundary_fraction(x, y, dense_max_points=0) == (
      complexity.boundary_fraction(x, y))
  assert complexity.problexity_n1(x, y, c, dense_max_points=0) == (
      complexity.problexity_n1(x, y, c))


@pytest.mark.parametrize("name", LABELLED + UNLABELLED)
def test_measures_equal_the_single_functions(ref, name):
  x, y = ref[f"{name}_x"], ref.get(f"{name}_y")
  got = complexity.measures(x, y)
  want = {"twonn": complexity.twonn_dimension(x),
          "effective_rank": complexity.effective_rank(x),
          "participation_ratio": complexity.participation_ratio(x)}
  if y is not None:
    want["fisher_ratio"] = complexity.fisher_ratio(x, y, _num_classes(y))
    want["boundary_fraction"] = complexity.boundary_fraction(x, y)
  assert got.keys() == want.keys()
  for key, value in want.items():
    assert got[key] == pytest.approx(value, rel=1e-5), key
  # Above dense_max_points: chunked neighbours and on-the-fly MST rows.
  chunked = complexity.measures(x, y, chunk_size=64, dense_max_points=0)
  for key, value in want.items():
    assert chunked[key] == pytest.approx(value, rel=1e-5), key


# ------------------------------------------------------------ ground truth


def _linear(d, n, seed):
  return _embed(np.random.default_rng(seed).normal(size=(n, d)), seed + 1)


def _curved(d, n, seed):
  # Gaussian latent bent by sin/cos of random directions: a d-dimensional
  # manifold in 3d dimensions, with no hard edges (cube boundaries bias
  # TwoNN low at d = 10).
  rng = np.random.default_rng(seed)
  t = rng.normal(size=(n, d))
  w = rng.normal(size=(d, d)) / np.sqrt(d)
  return _embed(np.concatenate([t, np.sin(t @ w), np.cos(t @ w)], axis=1),
                seed + 1)


@pytest.mark.parametrize("d", [2, 5, 10])
@pytest.mark.parametrize("make", [_linear, _curved])
def test_twonn_recovers_manifold_dimension(make, d):
  estimate = complexity.twonn_dimension(make(d, 2000, seed=d))
  assert estimate == pytest.approx(d, rel=0.15 if d == 10 else 0.1)


# ---------------------------------------------------------------- analytic


def test_twonn_chunk_size_does_not_matter(ref):
  x = ref["manifold5_x"]
  values = [complexity.twonn_dimension(x, chunk_size=c)
            for c in (7, 128, 500, 4096)]
  assert values == pytest.approx([values[0]] * 4, rel=1e-6)


def test_twonn_drops_duplicates_like_skdim():
  x = _isotropic(300, 6, seed=1)
  doubled = np.concatenate([x, x[:30]])
  # Both copies of a duplicated point have r1 == 0 and are dropped, so the
  # estimate is that of the other 270 points' ratios (whose neighbours
  # include the duplicated points).
  assert math.isfinite(complexity.twonn_dimension(doubled))
  # Every point duplicated: no ratio left, NaN (skdim raises).
  assert math.isnan(complexity.twonn_dimension(np.concatenate([x, x])))


def test_spectrum_of_isotropic_and_rank_one_data():
  iso = _isotropic(4000, 16)
  assert complexity.effective_rank(iso) == pytest.approx(16, rel=0.02)
  assert complexity.participation_ratio(iso) == pytest.approx(16, rel=0.03)
  rng = np.random.default_rng(0)
  rank1 = np.outer(rng.normal(size=500), rng.normal(size=16)) + 3.0
  assert complexity.effective_rank(rank1) == pytest.approx(1.0, abs=1e-3)
  assert complexity.participation_ratio(rank1) == pytest.approx(1.0,
                                                                abs=1e-6)


def test_separated_clusters_share_one_edge():
  x = _isotropic(200, 5)
  y = np.arange(200) % 2
  x[y == 1] += 100.0
  # A spanning tree must join the clusters: exactly one cross edge, its two
  # ends the only boundary points. N1 = 0 is impossible with two classes.
  assert complexity.boundary_fraction(x, y) == 2 / 200
  assert complexity.problexity_n1(x, y, 2) == 1 / 2 / 200
  assert complexity.fisher_ratio(x, y, 2) < 1e-3


def test_boundary_fraction_counts_points_problexity_halves_edges():
  # A path 0-1-2-3 with labels 0 0 1 1: one cross edge, two points on it.
  x = np.array([[0.0], [1.0], [2.1], [3.3]], np.float32)
  y = np.array([0, 0, 1, 1])
  assert complexity.boundary_fraction(x, y) == 0.5
  assert complexity.problexity_n1(x, y, 2) == 1 / 2 / 4


def test_fisher_ratio_by_hand_and_absent_classes():
  x = np.array([[0.0, 5.0], [1.0, -5.0], [4.0, 5.0], [5.0, -5.0]])
  y = np.array([0, 0, 1, 1])
  # Feature 0: 2 * 0.25 * 16 / 0.25 = 32; feature 1: 0 / 25.
  assert complexity.fisher_ratio(x, y, 2) == pytest.approx(1 / 33, rel=1e-6)
  # Absent classes take no part in the mean over pairs.
  assert complexity.fisher_ratio(x, y, 5) == pytest.approx(1 / 33, rel=1e-6)
  # A constant feature (0/0) is skipped, as problexity's nanmax skips it.
  const = np.concatenate([x, np.ones((4, 1))], axis=1)
  assert complexity.fisher_ratio(const, y, 2) == pytest.approx(1 / 33,
                                                               rel=1e-6)


def test_fisher_ratio_mean_over_pairs(ref):
  x, y = ref["mixture3_x"], ref["mixture3_y"]
  pairs = []
  for a, b in ((0, 1), (0, 2), (1, 2)):
    keep = (y == a) | (y == b)
    pairs.append(complexity.fisher_ratio(x[keep], (y[keep] == b).astype(int),
                                         2))
  assert complexity.fisher_ratio(x, y, 3) == pytest.approx(np.mean(pairs),
                                                           rel=1e-6)


def test_fewer_than_two_classes_give_nan():
  x = _isotropic(20, 3)
  y = np.zeros(20, int)
  assert math.isnan(complexity.fisher_ratio(x, y, 2))
  assert math.isnan(complexity.problexity_n1(x, y, 2))
  assert math.isnan(complexity.fisher_ratio(x, y, 1))
  assert math.isnan(complexity.problexity_n1(x, y, 1))
  assert math.isnan(complexity.measures(x, y)["fisher_ratio"])
  assert complexity.boundary_fraction(x, y) == 0.0


# -------------------------------------------------------------- interface


def test_measures_keys_and_values():
  x = _isotropic(120, 10)
  assert sorted(complexity.measures(x)) == [
      "effective_rank", "participation_ratio", "twonn"]
  out = complexity.measures(x, np.arange(120) % 4)
  assert sorted(out) == ["boundary_fraction", "effective_rank",
                         "fisher_ratio", "participation_ratio", "twonn"]
  assert all(type(v) is float and math.isfinite(v) for v in out.values())


def test_same_shape_does_not_recompile():
  x, y = _isotropic(90, 7), np.arange(90) % 3
  fns = (lambda a: complexity.twonn_dimension(a),
         complexity.effective_rank,
         lambda a: complexity.fisher_ratio(a, y, 3),
         lambda a: complexity.boundary_fraction(a, y),
         lambda a: complexity.problexity_n1(a, y, 3),
         lambda a: complexity.measures(a, y))
  for fn in fns:
    fn(x)
  before = diagnostics.compilations()
  for seed in (1, 2):
    for fn in fns:
      fn(_isotropic(90, 7, seed))
  assert diagnostics.compilations() == before


def test_bad_inputs_raise():
  x = _isotropic(10, 3)
  with pytest.raises(ValueError, match=r"\[N, D\]"):
    complexity.effective_rank(x[0])
  with pytest.raises(ValueError, match="num_classes"):
    complexity.fisher_ratio(x, np.arange(10), 3)
  with pytest.raises(ValueError, match="integers"):
    complexity.boundary_fraction(x, np.zeros(10))
  with pytest.raises(ValueError, match="at least 3"):
    complexity.twonn_dimension(x[:2])


def test_import_loads_no_framework_beyond_jax():
  assert modules_loaded_by("import jaxdal.complexity",
                           ("flax", "optax", "orbax")) == []


def test_docstring_examples():
  result = doctest.testmod(complexity, optionflags=doctest.ELLIPSIS)
  assert result.attempted > 0
  assert result.failed == 0
