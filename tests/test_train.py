"""Training steps, padding masks, stopping rule and `fit`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import initialisation, models, optim, train


@pytest.fixture(scope="module")
def setup(tiny_synthetic):
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=1, width=8,
                       dropout_rate=0.0)
  tx = optim.make_optimizer("adam", learning_rate=3e-3)
  trainer = train.make_trainer(model, tx)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  return ds, model, tx, trainer, x, y


def test_masked_loss_equals_unpadded_loss(setup):
  # GroupNorm, so padding rows cannot leak in through batch statistics.
  ds, _, _, _, x, y = setup
  model = models.build("cnn", ds.num_classes, depth=1, width=8,
                       dropout_rate=0.0, norm="group")
  trainer = train.make_trainer(
      model, optim.make_optimizer("sgd", learning_rate=0.1, momentum=0.0))
  state = train.init_state(model, trainer.tx, jax.random.key(0),
                           ds.input_shape)
  state = train.set_learning_rate(state, 0.1)
  key = jax.random.key(2)
  real = jnp.arange(5, dtype=jnp.int32)
  padded = jnp.concatenate([real, jnp.array([50, 60, 70], jnp.int32)])
  mask = jnp.arange(8) < 5
  n = jnp.float32(5)
  s_pad, o_pad = trainer.train_step(state, x, y, padded, mask, key, n)
  s_real, o_real = trainer.train_step(state, x, y, real, jnp.ones(5, bool),
                                      key, n)
  np.testing.assert_allclose(o_pad["loss"], o_real["loss"], rtol=1e-5)
  for a, b in zip(jax.tree.leaves(s_pad.params), jax.tree.leaves(s_real.params),
                  strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_schedules():
  assert optim.cosine_lr(0.1, 0, 10) == pytest.approx(0.1)
  assert optim.cosine_lr(0.1, 5, 10) == pytest.approx(0.05)
  assert optim.cosine_lr(0.1, 10, 10) == pytest.approx(0.0, abs=1e-12)
  steps = [optim.scheduled_lr("multistep", 1.0, e, 10) for e in range(10)]
  assert steps == pytest.approx([1.0] * 5 + [0.1] * 3 + [0.01] * 2)
  assert optim.scheduled_lr("constant", 0.3, 7, 10) == 0.3
  with pytest.raises(ValueError, match="valid: constant, cosine, multistep"):
    optim.scheduled_lr("step", 1.0, 0, 10)


def test_fit_learns_and_stops_on_training_accuracy(setup):
  ds, model, tx, trainer, x, y = setup
  state = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
  train_idx, val_idx = np.arange(120), np.arange(120, 240)
  state, res = train.fit(trainer, state, x, y, train_idx, val_idx,
                         jax.random.key(1), batch_size=16, max_epochs=60,
                         learning_rate=3e-3, patience=60,
                         target_train_accuracy=0.95, progress=False)
  assert res.stop_reason == "train_accuracy" and res.train_accuracy >= 0.95
  assert res.epochs < 60
  acc = train.evaluate(trainer, state, x, y, val_idx)
  assert acc == pytest.approx(res.val_accuracy)
  assert acc > 0.8


def test_fit_stops_on_patience(setup):
  ds, _, _, _, x, y = setup
  # A learning rate of 0 never improves validation accuracy (GroupNorm: no
  # running statistics drift either).
  model = models.build("cnn", ds.num_classes, depth=1, width=8,
                       dropout_rate=0.0, norm="group")
  tx = optim.make_optimizer("adam", learning_rate=0.0)
  trainer = train.make_trainer(model, tx)
  state = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
  _, res = train.fit(trainer, state, x, y, np.arange(40), np.arange(40, 80),
                     jax.random.key(1), batch_size=16, max_epochs=30,
                     learning_rate=0.0, patience=3, progress=False)
  assert res.stop_reason == "patience" and res.epochs == 4


def test_fit_is_deterministic(setup):
  ds, model, tx, trainer, x, y = setup
  runs = []
  for _ in range(2):
    state = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
    state, _ = train.fit(trainer, state, x, y, np.arange(50),
                         np.arange(50, 70), jax.random.key(4), batch_size=16,
                         max_epochs=2, learning_rate=1e-3, patience=5,
                         progress=False)
    runs.append(state.params)
  for a, b in zip(jax.tree.leaves(runs[0]), jax.tree.leaves(runs[1]),
                  strict=True):
    np.testing.assert_array_equal(a, b)


def test_unknown_optimizer():
  with pytest.raises(ValueError, match="valid: adam, adamw, sgd"):
    optim.make_optimizer("lbfgs", learning_rate=1.0)


def test_stopping_rule_without_a_target_ignores_training_accuracy():
  from jaxdal.stopping import StoppingRule
  rule = StoppingRule(None, 2, has_validation=True)
  assert rule.update(1.0, 0.5) is None  # a perfect epoch does not stop it
  assert rule.update(1.0, 0.4) is None
  assert rule.update(1.0, 0.4) == "patience"
  assert StoppingRule(1.0, 2, has_validation=True).update(
      1.0, 0.5) == "train_accuracy"


def test_the_timeline_marks_first_events_once(tmp_path, monkeypatch):
  import json

  from jaxdal import diagnostics
  path = tmp_path / "timeline.jsonl"
  monkeypatch.setattr(diagnostics, "_marked", set())
  diagnostics.mark("unset")  # no $JAXDAL_TIMELINE: nothing written
  assert not path.exists()
  monkeypatch.setenv(diagnostics.TIMELINE_ENV, str(path))
  for _ in range(3):
    diagnostics.mark("first_train_step")
  diagnostics.mark("other")
  events = [json.loads(line) for line in path.read_text().splitlines()]
  assert [e["event"] for e in events] == ["first_train_step", "other"]
  assert events[0]["time"] <= events[1]["time"]


def test_init_compiled_in_the_background_gives_the_same_values():
  from jaxdal.models.rngs import rngs_for
  model = models.build("mlp", 3, hidden=(8,))
  train.warm_init(model, (5,))
  thread = initialisation._JITTED_INITS[id(model)][2]  # noqa: SLF001
  key = jax.random.key(4)
  got = train.init_variables(model, key, (5,))
  assert not thread.is_alive()
  # Independent: the op-by-op init.
  want = model.init({"params": key, **rngs_for(key)},
                    jnp.zeros((1, 5), jnp.float32))
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_array_equal(a, b)
