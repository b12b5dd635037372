"""Evaluation passes: chunk sizes, logits against the model applied to the
whole split at once, and accuracy as those logits' argmax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import evaluation, models, optim, sharding, train


@pytest.fixture(scope="module")
def fitted(tiny_synthetic):
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=1, width=8,
                       dropout_rate=0.0)
  trainer = train.make_trainer(model, optim.make_optimizer(
      "adam", learning_rate=3e-3))
  state = train.init_state(model, trainer.tx, jax.random.key(0),
                           ds.input_shape)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  state, _ = train.fit(trainer, state, x, y, np.arange(60),
                       np.arange(60, 120), jax.random.key(1), batch_size=16,
                       max_epochs=3, learning_rate=3e-3, progress=False)
  return model, trainer, state, x, y


def test_chunk_size_is_the_split_rounded_up_to_64_at_most_chunk():
  assert evaluation.eval_chunk_size(10, 512) == 64
  assert evaluation.eval_chunk_size(64, 512) == 64
  assert evaluation.eval_chunk_size(65, 512) == 128
  assert evaluation.eval_chunk_size(5000, 512) == 512


@pytest.mark.parametrize("chunk", [64, 512])
def test_logits_equal_the_model_on_the_whole_split(fitted, chunk):
  """Rows in any order, any chunking (the last chunk padded): the model's
  own logits on those rows, float32."""
  model, trainer, state, x, _ = fitted
  idx = np.random.default_rng(0).permutation(x.shape[0])[:150]
  got = evaluation.evaluate_logits(trainer, state, x, idx, chunk=chunk)
  want, _ = model.apply({"params": state.params, **state.model_state},
                        x[idx], train=False)
  assert got.shape == (150, want.shape[1]) and got.dtype == np.float32
  np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


def test_accuracy_is_the_logits_argmax(fitted):
  _, trainer, state, x, y = fitted
  idx = np.arange(130, 230)
  logits = evaluation.evaluate_logits(trainer, state, x, idx)
  want = float(np.mean(logits.argmax(1) == np.asarray(y)[idx]))
  got = evaluation.evaluate_group(train.one_seed(trainer), state, x, y,
                                  [idx])
  assert got == [pytest.approx(want)]
  empty = evaluation.evaluate_group(train.one_seed(trainer), state, x, y,
                                    [np.arange(0)])
  assert len(empty) == 1 and np.isnan(empty[0])  # no rows: no accuracy


def test_logits_under_a_mesh_equal_one_device(fitted):
  """Under a mesh over this process's devices (one here; the 4-device and
  two-process runs of tests/test_sharding.py record the same test split
  as one device): the same logits, placed arrays and all."""
  _, trainer, state, x, _ = fitted
  idx = np.arange(3, 70)
  want = evaluation.evaluate_logits(trainer, state, x, idx, chunk=64)
  with sharding.using(sharding.make_mesh()):
    xs = sharding.replicated(x)
    got = evaluation.evaluate_logits(trainer, sharding.replicated(state), xs,
                                     idx, chunk=64)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
