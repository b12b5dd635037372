"""The learner API: any Flax module and optax optimiser, labels from the
caller, and the same picks and accuracies as the experiment programs."""

import os
import runpy

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdal import adapters, archopt, data, learning, loop, models, train

TINY = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=240, num_test=60, shape=[12, 12, 1],
                                num_classes=4, noise=0.5, seed=3),
            backbone_kwargs=dict(depth=1, width=8), rounds=3, initial=12,
            acquire=10, batch_size=16, max_epochs=3, patience=3)


class FlagMLP(nn.Module):
  """A module written the usual way: a `deterministic` flag, logits."""

  @nn.compact
  def __call__(self, x, deterministic=True):
    h = nn.relu(nn.Dense(16, name="hidden")(x.reshape(len(x), -1)))
    h = nn.Dropout(0.5, deterministic=deterministic)(h)
    return nn.Dense(3, name="out")(h)


class TrainFlagMLP(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = False):
    h = nn.relu(nn.Dense(16)(x))
    return nn.Dense(3)(nn.Dropout(0.5, deterministic=not train)(h))


class NoDense(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Conv(3, (1,))(x[..., None]).mean(axis=1)


def _blobs(n=200, seed=0):
  rng = np.random.default_rng(seed)
  y = rng.integers(0, 3, n)
  x = rng.normal(size=(n, 6)).astype(np.float32) + 2.0 * np.eye(6)[y]
  return x, y


def test_features_are_the_classifier_input():
  net = adapters.as_backbone(FlagMLP())
  x = jnp.ones((5, 6))
  v = net.init({"params": jax.random.key(0)}, x)
  logits, feats = net.apply(v, x)
  # Independent: the hidden layer by hand, then the output layer.
  p = v["params"]
  h = jax.nn.relu(x @ p["hidden"]["kernel"] + p["hidden"]["bias"])
  np.testing.assert_allclose(feats, h, rtol=1e-6)
  np.testing.assert_allclose(logits, h @ p["out"]["kernel"] + p["out"]["bias"],
                             rtol=1e-5)


def test_features_from_a_named_layer_and_the_mc_flag():
  net = adapters.as_backbone(TrainFlagMLP(), features="Dense_0")
  x = jnp.ones((4, 6))
  v = net.init({"params": jax.random.key(0)}, x)
  _, feats = net.apply(v, x)
  p = v["params"]["Dense_0"]
  np.testing.assert_allclose(feats, x @ p["kernel"] + p["bias"], rtol=1e-6)
  # mc=True turns dropout on (two keys, two outputs); train=False is off.
  a, _ = net.apply(v, x, mc=True, rngs={"dropout": jax.random.key(1)})
  b, _ = net.apply(v, x, mc=True, rngs={"dropout": jax.random.key(2)})
  c, _ = net.apply(v, x, rngs={"dropout": jax.random.key(1)})
  d, _ = net.apply(v, x, rngs={"dropout": jax.random.key(2)})
  assert not np.allclose(a, b)
  np.testing.assert_array_equal(c, d)


def test_a_jaxdal_backbone_is_used_as_it_is():
  model = models.build("mlp", 3)
  assert adapters.as_backbone(model) is model


def test_features_missing_says_how_to_expose_them():
  x, _ = _blobs()
  with pytest.raises(ValueError, match=r"NoDense exposes no features.*"
                     r"as_backbone\(model, features='layer_name'\)"):
    learning.learner(NoDense(), optax.adam(1e-3), x, acquisition="coreset")
  # Scores that need no features are fine.
  learning.learner(NoDense(), optax.adam(1e-3), x, acquisition="entropy")


@pytest.mark.accelerator
def test_a_plain_optax_optimizer_trains():
  # Before: AttributeError: 'tuple' object has no attribute 'hyperparams'.
  x, y = _blobs()
  method = learning._as_method(FlagMLP(), optax.adam(1e-2))[0]  # noqa: SLF001
  trainer = train.make_trainer(method.model, optax.adam(1e-2), method.loss)
  state = train.init_state(method.model, optax.adam(1e-2),
                           jax.random.key(0), (6,))
  state, fit = train.fit(trainer, state, jnp.asarray(x), jnp.asarray(y),
                         np.arange(150), np.arange(150, 200),
                         jax.random.key(1), batch_size=32, max_epochs=30)
  assert fit.val_accuracy > 0.8
  with pytest.raises(ValueError, match=r"^learning_rate=0.1 needs an "
                     r"optimizer with an injected learning rate.*leave "
                     r"learning_rate unset \(None\)$"):
    train.fit(trainer, state, jnp.asarray(x), jnp.asarray(y),
              np.arange(150), np.arange(150, 200), jax.random.key(1),
              batch_size=32, max_epochs=1, learning_rate=0.1)


@pytest.mark.accelerator
def test_query_teach_with_an_oracle():
  x, y = _blobs()
  al = learning.learner(FlagMLP(), optax.adam(1e-2), x[:150],
                        acquisition="margin", max_epochs=30, num_classes=3)
  state = al.init(jax.random.key(0))
  first = al.query(state, 12)
  # Nothing labeled: the 12 largest of one uniform draw per example, from
  # round 0's select key.
  u = np.asarray(jax.random.uniform(jax.random.fold_in(jax.random.fold_in(
      jax.random.key(0), 0), learning.SELECT), (150,)))
  np.testing.assert_array_equal(first, np.argsort(-u, kind="stable")[:12])
  state = al.teach(state, first, y[first])
  state, _ = al.fit(state)
  picked = al.query(state, 10)
  assert picked.dtype == np.int32
  assert not np.isin(picked, first).any()
  # The query is the margin's top 10 among the unlabeled (by hand).
  probs = al.predict(state, x[:150])[0]
  top2 = np.sort(np.asarray(probs), axis=1)[:, -2:]
  margin = -(top2[:, 1] - top2[:, 0])
  margin[first] = -np.inf
  np.testing.assert_array_equal(np.sort(picked),
                                np.sort(np.argsort(-margin,
                                                   kind="stable")[:10]))
  state = al.teach(state, picked, y[picked])
  assert int(state.pool.round) == 2
  assert int(state.pool.labeled.sum()) == 22
  np.testing.assert_array_equal(np.asarray(state.labels)[picked], y[picked])
  assert (np.asarray(state.labels)[~np.asarray(state.pool.labeled)]
          == -1).all()
  # Accuracy by hand from the predictions.
  probs = np.asarray(al.predict(state, x[150:])[0])
  assert al.evaluate(state, x[150:], y[150:]) == pytest.approx(
      np.mean(probs.argmax(1) == y[150:]))


def test_bad_labels_and_unfitted_queries_are_one_line_errors():
  x, _ = _blobs()
  al = learning.learner(FlagMLP(), optax.adam(1e-3), x, num_classes=3)
  state = al.init(jax.random.key(0), labeled=[0, 1, 2], labels=[0, 1, 2])
  with pytest.raises(ValueError, match=r"^labels must be class ids 0..2, "
                     r"got \[3\]$"):
    al.teach(state, [5], [3])
  with pytest.raises(ValueError, match=r"^labels must have 2 entries"):
    al.teach(state, [5, 6], [1])
  with pytest.raises(ValueError, match=r"^the learner has not been fitted"):
    al.query(state, 3)
  with pytest.raises(ValueError, match="optimizer is required"):
    learning.learner(FlagMLP(), None, x)


@pytest.mark.accelerator
def test_save_and_load_a_state(tmp_path):
  x, y = _blobs()
  al = learning.learner(FlagMLP(), optax.adam(1e-2), x, max_epochs=5)
  state = al.init(jax.random.key(3), labeled=np.arange(20), labels=y[:20])
  state, _ = al.fit(state)
  learning.save(str(tmp_path / "s"), state)
  back = learning.load(str(tmp_path / "s"), state)
  np.testing.assert_array_equal(al.query(back, 7), al.query(state, 7))
  chex_leaves = jax.tree.leaves(jax.tree.map(
      lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
      back._replace(key=None), state._replace(key=None)))
  assert all(chex_leaves)


@pytest.mark.parametrize("acq", ["entropy", "bald", "badge", "coreset"])
def test_query_teach_by_hand_equals_the_cli(tmp_path, acq):
  """The loop's records, remade by hand through the learner: the same
  data, pool and keys; labels from a pure function of the index."""
  settings = loop.Settings.of(**TINY, acquisition=acq, mc_samples=3)
  records = loop.run(settings, str(tmp_path / "w"), progress=False,
                     log=lambda s: None)
  ds = data.load("synthetic", **TINY["dataset_kwargs"])
  oracle = lambda idx: np.asarray(ds.y_train)[idx]  # noqa: E731
  run_key = jax.random.key(0)
  pool = data.init_pool(jax.random.fold_in(run_key, 0), ds.y_train,
                        initial=12, num_classes=4)
  method = archopt.fixed(models.build("cnn", 4, depth=1, width=8))
  al = learning.learner(method, None, ds.x_train, acquisition=acq,
                        learning_rate=1e-3, schedule="cosine", batch_size=16,
                        max_epochs=3, patience=3, mc_samples=3)
  initial, val = (np.flatnonzero(np.asarray(m))
                  for m in (pool.labeled, pool.validation))
  state = al.init(jax.random.fold_in(run_key, 1), labeled=initial,
                  labels=oracle(initial), validation=val,
                  val_labels=oracle(val),
                  candidates=np.asarray(pool.candidate))
  for record in records:
    state, fit = al.fit(state)
    assert fit.epochs == record["epochs"]
    assert al.evaluate(state, ds.x_test, ds.y_test) == record["test_accuracy"]
    if record["acquired"] is not None:
      picked = al.query(state, 10)
      assert picked.tolist() == record["acquired"]
      state = al.teach(state, picked, oracle(picked))


@pytest.mark.parametrize("name", ["own_model.py", "own_model_mc.py"])
def test_examples_run(name, capsys):
  path = os.path.join(os.path.dirname(__file__), "..", "examples", name)
  with open(path) as f:
    assert len(f.read().splitlines()) <= 25
  runpy.run_path(path, run_name="__main__")
  lines = capsys.readouterr().out.splitlines()
  accs = [float(line.rsplit(" ", 1)[1]) for line in lines]
  assert len(accs) == (3 if name == "own_model.py" else 6)
  assert all(0.34 < a <= 1.0 for a in accs)  # above chance (1/3)


def test_the_package_docstring_names_only_files_that_exist():
  import re

  import jaxdal
  root = os.path.join(os.path.dirname(__file__), "..")
  named = re.findall(r"[\w./-]+\.(?:md|py|toml)\b", jaxdal.__doc__)
  assert named  # README.md, CHANGELOG.md
  for name in named:
    assert os.path.isfile(os.path.join(root, name)), name


def test_a_searched_architecture_is_static_state():
  state = learning.LearnerState(None, None, jnp.zeros(3, jnp.int32),
                                jax.random.key(0),
                                learning.Architecture('{"cells": [1, 2]}'))
  leaves = jax.tree.leaves(state)
  assert len(leaves) == 2  # labels and key: the architecture has none
  assert state.arch.found == {"cells": [1, 2]}


@pytest.mark.slow
def test_a_search_method_searches_in_fit(tmp_path):
  """PDARTS through the learner: every fit searches (weights on the
  labeled set, architecture on the validation split) and trains the
  derived network; the architecture is saved with the state."""
  from tests.archopt.test_methods import TINY_METHOD
  ds = data.load("synthetic", **{**TINY["dataset_kwargs"], "num_classes": 3})
  method = archopt.build("pdarts", 3, **TINY_METHOD["pdarts"])
  al = learning.learner(method, None, ds.x_train, acquisition="margin",
                        batch_size=16, max_epochs=2, num_classes=3)
  y = np.asarray(ds.y_train)
  state = al.init(0, labeled=np.arange(12), labels=y[:12],
                  validation=np.arange(200, 224), val_labels=y[200:224])
  state, _ = al.fit(state)
  found = state.arch.found
  assert len(found["genotype"]["normal"]) == 8
  assert al.network(state).method is not al.network(
      state._replace(arch=None)).method
  picked = al.query(state, 5)
  learning.save(str(tmp_path / "s"), state)
  back = learning.load(str(tmp_path / "s"), state._replace(arch=None))
  assert back.arch.found == found
  np.testing.assert_array_equal(al.query(back, 5), picked)


def test_a_method_takes_a_plain_optimizer_too():
  # Before: the method's default rate 1e-3 was set on a plain optimizer.
  x, y = _blobs()
  method = archopt.fixed(models.build("mlp", 3, hidden=(16,)))
  al = learning.learner(method, optax.sgd(0.1), x, max_epochs=5)
  state, _ = al.fit(al.init(0, labeled=np.arange(30), labels=y[:30]))
  assert state.train is not None
  with pytest.raises(ValueError, match="^train_arch=False freezes"):
    learning.learner(method, optax.sgd(0.1), x, train_arch=False)


def test_a_jaxdal_backbone_with_named_features():
  model = models.build("mlp", 3, hidden=(8, 4))
  net = adapters.as_backbone(model, features="hidden_0")
  assert net is not model
  x = jnp.ones((2, 5))
  v = net.init({"params": jax.random.key(0)}, x)
  logits, feats = net.apply(v, x)
  assert logits.shape == (2, 3) and feats.shape == (2, 8)
  # The module's own contract otherwise: mc stays apart from train.
  own = model.apply(v, x, mc=False)
  np.testing.assert_array_equal(logits, own[0])


class PairOut(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(3)(x), x.sum()


class Twice(nn.Module):
  @nn.compact
  def __call__(self, x):
    a = nn.Dense(4, name="proj")(x)
    return nn.Dense(3)(Sub(name="inner")(a))


class Sub(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(4, name="proj")(x)


def test_bad_feature_outputs_are_one_line_errors():
  x = jnp.ones((2, 5))
  net = adapters.as_backbone(PairOut())
  v = net.init({"params": jax.random.key(0)}, x)
  with pytest.raises(ValueError, match=r"^features of PairOut must be "
                     r"\[B, D\] with B = 2, got shape \(\)"):
    net.apply(v, x)
  net = adapters.as_backbone(Twice(), features="proj")
  v = net.init({"params": jax.random.key(0)}, x)
  with pytest.raises(ValueError, match=r"^features='proj' names 2 layers "
                     r"\(inner/proj, proj\); give one path"):
    net.apply(v, x)
  _, feats = adapters.as_backbone(Twice(), features="inner/proj").apply(v, x)
  assert feats.shape == (2, 4)


def test_init_checks_its_indices():
  x, y = _blobs()
  al = learning.learner(FlagMLP(), optax.adam(1e-3), x)
  with pytest.raises(ValueError, match=r"^labeled must be indices in "
                     r"\[0, 200\), got \[-1\]$"):
    al.init(0, labeled=[-1, 3], labels=[0, 1])
  with pytest.raises(ValueError, match=r"^validation examples must not be "
                     r"labeled ones; both: \[3\]$"):
    al.init(0, labeled=[3], labels=[0], validation=[3, 4],
            val_labels=[0, 1])
  with pytest.raises(ValueError, match=r"^candidates must be a bool mask "
                     r"\[200\]"):
    al.init(0, candidates=np.ones(5, bool))


def test_warm_start_continues_from_the_last_fit():
  x, y = _blobs()
  al = learning.learner(FlagMLP(), optax.adam(1e-2), x, warm_start=True,
                        max_epochs=3)
  state, _ = al.fit(al.init(0, labeled=np.arange(30), labels=y[:30]))
  _, warm_state, *_ = al.start(state)
  _, fresh_state, *_ = al.start(state, warm=False)
  same = jax.tree.map(np.array_equal, warm_state.params, state.train.params)
  assert all(jax.tree.leaves(same))
  assert not all(jax.tree.leaves(jax.tree.map(
      np.array_equal, fresh_state.params, state.train.params)))
