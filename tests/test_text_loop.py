"""Text runs through the one active-learning loop: every acquisition and
DeepCluster pretraining on synthetic_text with a tiny encoder.

The main suite scores and selects with every acquisition on a tiny text
model (the loop's own predict and select path) and runs whole loops with
BALD and DeepCluster; a whole loop per acquisition is in the slow step.
"""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import acquisition, context, data, learning, loop, models
from jaxdal import predict as predict_lib

TINY_TEXT = dict(
    dataset="synthetic_text",
    dataset_kwargs={"num_train": 96, "num_test": 32, "max_length": 12},
    backbone="transformer",
    backbone_kwargs={"hidden_size": 16, "num_layers": 1, "num_heads": 2,
                     "intermediate_size": 32, "max_position": 12},
    rounds=2, initial=8, acquire=8, batch_size=8, max_epochs=2, patience=2,
    mc_samples=3, chunk=64, complexity="none")


@pytest.fixture(scope="module")
def text_model():
  ds = data.load(TINY_TEXT["dataset"], **TINY_TEXT["dataset_kwargs"])
  model = models.build("transformer", ds.num_classes,
                       **TINY_TEXT["backbone_kwargs"])
  variables = model.init({"params": jax.random.key(0)},
                         jnp.asarray(ds.x_train[:1]))
  return ds, model, variables


@pytest.mark.parametrize("name", acquisition.names())
def test_every_acquisition_selects_on_text(name, text_model):
  ds, model, variables = text_model
  acq = acquisition.get(name)
  predictor = predict_lib.make_predictor_for(model, acq, mc_samples=3,
                                             chunk=64)
  candidates = np.arange(64)
  labeled = jnp.asarray(candidates < 8)
  inputs = predict_lib.acquisition_inputs(
      acq, predictor, variables, jnp.asarray(ds.x_train), jax.random.key(1),
      candidates)
  if inputs["probs"] is not None:
    t = 3 if acq.uses_mc else 1
    assert inputs["probs"].shape == (t, 64, ds.num_classes)
  if inputs["features"] is not None:
    assert inputs["features"].shape == (64, 16)
  chosen = np.asarray(jax.jit(acq.select, static_argnums=1)(
      jax.random.key(2), 8, ~labeled, labeled=labeled, **inputs))
  assert len(set(chosen.tolist())) == 8 and (chosen >= 8).all()


def test_a_bald_run_on_text_compiles_in_its_first_round_only(tmp_path):
  records = loop.run(loop.Settings.of(acquisition="bald", **TINY_TEXT),
                     str(tmp_path), progress=False, log=lambda _: None)
  assert [r["labeled"] for r in records] == [8, 16]
  assert records[1]["time"]["compilations"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", acquisition.names())
def test_every_acquisition_runs_on_text(name, tmp_path):
  records = loop.run(loop.Settings.of(acquisition=name, **TINY_TEXT),
                     str(tmp_path), progress=False, log=lambda _: None)
  assert [r["labeled"] for r in records] == [8, 16]
  chosen = records[0]["acquired"]
  assert len(set(chosen)) == 8 and all(0 <= i < 96 for i in chosen)
  assert all(np.isfinite(r["test_accuracy"]) for r in records)


def test_deepcluster_pretrains_a_text_encoder(tmp_path):
  settings = loop.Settings.of(acquisition="entropy", pretrain="deepcluster",
                              pretrain_epochs=1, pretrain_steps=2,
                              **{**TINY_TEXT, "rounds": 1})
  lines = []
  records = loop.run(settings, str(tmp_path), progress=False,
                     log=lines.append)
  assert len(records) == 1
  assert any("DeepCluster, 1 epochs" in line for line in lines)
  assert (tmp_path / "pretrained").exists()
  config = json.loads((tmp_path / "config.json").read_text())
  assert config["pretrain"] == "deepcluster"


@pytest.mark.parametrize("change, match", [
    (dict(backbone="mlp", backbone_kwargs={}),
     "dataset 'synthetic_text' is text; it needs a text backbone"),
    (dict(dataset="synthetic", dataset_kwargs={}),
     "backbone 'transformer' reads text; valid datasets: synthetic_text"),
])
def test_text_and_images_do_not_mix(change, match, tmp_path):
  with pytest.raises(ValueError, match=match):
    loop.run(loop.Settings.of(**{**TINY_TEXT, **change}), str(tmp_path),
             progress=False, log=lambda _: None)
  assert not (tmp_path / "config.json").exists()


def test_query_pool_is_the_labeled_set_and_a_fresh_sample():
  candidates = np.arange(10, 40)
  available = np.arange(30) >= 6  # 6 labeled, 24 in the pool
  a = learning.query_candidates(candidates, available, 5, jax.random.key(0))
  b = learning.query_candidates(candidates, available, 5, jax.random.key(1))
  for chosen in (a, b):
    assert set(range(10, 16)) <= set(chosen.tolist()) and len(chosen) == 11
    assert (np.diff(chosen) > 0).all() and set(chosen) <= set(candidates)
  assert set(a) != set(b)
  np.testing.assert_array_equal(
      a, learning.query_candidates(candidates, available, 5, jax.random.key(0)))
  np.testing.assert_array_equal(  # A pool smaller than Q: all of it.
      learning.query_candidates(candidates, available, 24, jax.random.key(0)),
      candidates)


def test_a_run_with_query_pool_acquires_from_its_samples(tmp_path):
  settings = loop.Settings.of(acquisition="entropy", query_pool=12,
                              **TINY_TEXT)
  records = loop.run(settings, str(tmp_path), progress=False,
                     log=lambda _: None)
  assert [r["labeled"] for r in records] == [8, 16]
  # The sample of round 0, drawn as the loop documents its keys: the pool
  # from fold_in(key(seed), 0), round r's key fold_in(fold_in(key(seed),
  # 1), r), its query-pool stream context.QUERY_POOL.
  ds = data.load(TINY_TEXT["dataset"], **TINY_TEXT["dataset_kwargs"])
  root = jax.random.key(0)
  pool = data.init_pool(jax.random.fold_in(root, 0), ds.y_train, initial=8,
                        val_fraction=0.1, num_classes=ds.num_classes)
  candidates = np.flatnonzero(np.asarray(pool.candidate))
  sample = learning.query_candidates(
      candidates, np.asarray(data.available(pool))[candidates], 12,
      jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(root, 1), 0),
                         context.QUERY_POOL))
  assert len(sample) == 8 + 12
  assert set(records[0]["acquired"]) <= set(sample.tolist())
  with pytest.raises(ValueError, match="query_pool 4 is smaller than "
                                       "acquire 8"):
    loop.run(settings.replace(query_pool=4), str(tmp_path / "x"),
             progress=False, log=lambda _: None)


@pytest.mark.slow
def test_minilm_on_reuters_tm_runs_offline_with_varying_mc_dropout(
    tmp_path):
  # The acceptance run, shortened: the real MiniLM on the real articles.
  settings = loop.Settings.of(
      dataset="reuters_tm", dataset_kwargs={"max_length": 32},
      backbone="minilm", acquisition="bald", rounds=2, initial=4, acquire=4,
      batch_size=4, max_epochs=2, patience=2, target_train_accuracy=None,
      optimizer="adamw", learning_rate=1e-4, weight_decay=0.01,
      schedule="warmup_linear", mc_samples=3, chunk=64, complexity="none")
  records = loop.run(settings, str(tmp_path), progress=False,
                     log=lambda _: None)
  assert [r["labeled"] for r in records] == [4, 8]
  assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in records)
  ds = data.load("reuters_tm", max_length=32)
  model = models.build("minilm", 2)
  variables = model.init({"params": jax.random.key(0)},
                         jnp.asarray(ds.x_train[:1]))
  predictor = predict_lib.make_predictor(model, mc_samples=3, chunk=64)
  probs = np.asarray(predict_lib.predict_probs(
      predictor, variables, jnp.asarray(ds.x_train), jax.random.key(1),
      np.arange(8)))
  assert probs.shape == (3, 8, 2)
  assert (probs.std(axis=0).max(axis=-1) > 1e-4).all()
