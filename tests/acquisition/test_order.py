"""One argument order for every set-valued selector, `(key, k, available,
*, <named data>)`, with `available=None` meaning every row; and `__all__`
in every module of the acquisition layer."""

import importlib
import inspect
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxdal.acquisition
from jaxdal import acquisition as acq
from jaxdal.acquisition import streamed

SELECTORS = {
    "random": (acq.random, ()),
    "top_k": (acq.top_k, ("scores",)),
    "badge": (acq.badge, ("probs", "features")),
    "kcenter_greedy": (acq.kcenter_greedy, ("features", "labeled")),
    "batchbald": (acq.batchbald, ("probs",)),
    "kmeans_pp": (acq.kmeans_pp, ("points",)),
    "streamed.badge": (streamed.badge, ("probs", "features")),
    "streamed.kcenter_greedy": (streamed.kcenter_greedy,
                                ("features", "labeled")),
    "streamed.top_k": (streamed.top_k, ("scores",)),
}


@pytest.mark.parametrize("name", SELECTORS)
def test_key_k_available_then_data_by_keyword(name):
  fn, data = SELECTORS[name]
  params = list(inspect.signature(fn).parameters.values())
  assert [p.name for p in params[:3]] == ["key", "k", "available"]
  assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params[:3])
  assert params[2].default is None  # None: every row
  keyword_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
  assert set(data) <= set(keyword_only)
  assert len(params) == 3 + len(keyword_only)


N, C, D, T = 10, 3, 4, 4


@pytest.fixture(scope="module")
def data():
  rng = np.random.default_rng(0)
  return dict(
      probs=rng.dirichlet(np.ones(C), size=N).astype(np.float32),
      probs_mc=rng.dirichlet(np.ones(C), size=(T, N)).astype(np.float32),
      features=rng.normal(size=(N, D)).astype(np.float32))


def test_available_none_means_every_row(data):
  key = jax.random.key(0)
  p, pm, f = (jnp.asarray(data[n]) for n in ("probs", "probs_mc",
                                              "features"))
  every = jnp.ones(N, bool)
  np.testing.assert_array_equal(acq.random(key, N, n=N).sort(),
                                np.arange(N))
  for fn, kwargs in [
      (acq.top_k, dict(scores=p[:, 0])),
      (acq.badge, dict(probs=p, features=f)),
      (acq.batchbald, dict(probs=pm)),
      (acq.kmeans_pp, dict(points=f)),
  ]:
    np.testing.assert_array_equal(fn(key, 4, None, **kwargs),
                                  fn(key, 4, every, **kwargs))
  np.testing.assert_array_equal(
      streamed.badge(key, 4, probs=data["probs"], features=data["features"]),
      streamed.badge(key, 4, np.ones(N, bool), probs=data["probs"],
                     features=data["features"]))
  np.testing.assert_array_equal(
      streamed.top_k(None, 4, scores=data["probs"][:, 0]),
      acq.top_k(None, 4, scores=p[:, 0]))


def test_coreset_available_none_means_not_labeled(data):
  # A labeled row is a centre already: the default leaves it out.
  labeled = np.arange(N) < 3
  f = data["features"]
  got = acq.kcenter_greedy(None, N - 3, features=jnp.asarray(f),
                           labeled=jnp.asarray(labeled))
  assert sorted(np.asarray(got).tolist()) == list(range(3, N))
  np.testing.assert_array_equal(
      streamed.kcenter_greedy(None, N - 3, features=f, labeled=labeled,
                              prune=False), got)


def test_random_without_a_pool_size_is_one_line():
  with pytest.raises(ValueError, match="random: available .* or n .* must "
                     "be given; got neither"):
    acq.random(jax.random.key(0), 2)


def _modules():
  for info in pkgutil.walk_packages(jaxdal.acquisition.__path__,
                                    "jaxdal.acquisition."):
    yield info.name


@pytest.mark.parametrize("module", ["jaxdal.acquisition", *_modules(),
                                    "jaxdal.registry"])
def test_every_module_lists_its_public_names(module):
  mod = importlib.import_module(module)
  assert isinstance(mod.__all__, list) and mod.__all__
  for name in mod.__all__:
    assert getattr(mod, name, None) is not None, name
