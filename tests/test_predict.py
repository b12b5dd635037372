"""predict.py: MC-dropout probabilities and features, chunked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import models, optim, predict, train


@pytest.fixture(scope="module")
def trained(tiny_synthetic):
  """A model with non-trivial BatchNorm running statistics."""
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=2, width=8,
                       dropout_rate=0.5)
  tx = optim.make_optimizer("adam", learning_rate=3e-3)
  trainer = train.make_trainer(model, tx)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  state = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
  state, _ = train.fit(trainer, state, x, y, np.arange(100), np.arange(100,
                       140), jax.random.key(1), batch_size=16, max_epochs=3,
                       learning_rate=3e-3, patience=5, progress=False)
  variables = {"params": state.params, **state.model_state}
  return model, variables, x


def test_chunk_size_and_pool_order_do_not_matter(trained):
  model, variables, x = trained
  key = jax.random.key(7)
  idx = np.arange(0, 90)
  a = predict.predict_probs(predict.make_predictor(model, mc_samples=6,
                                                   chunk=32),
                            variables, x, key, idx)
  b = predict.predict_probs(predict.make_predictor(model, mc_samples=6,
                                                   chunk=50),
                            variables, x, key, idx)
  perm = np.random.default_rng(0).permutation(90)
  c = predict.predict_probs(predict.make_predictor(model, mc_samples=6,
                                                   chunk=32),
                            variables, x, key, idx[perm])
  assert a.shape == (6, 90, 4)
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a[:, perm], c, rtol=1e-5, atol=1e-6)
  # Samples differ from each other; the same key repeats bit for bit.
  assert float(jnp.var(a, axis=0).mean()) > 0
  again = predict.predict_probs(predict.make_predictor(model, mc_samples=6,
                                                       chunk=32),
                                variables, x, key, idx)
  np.testing.assert_array_equal(a, again)


def test_mc_sampling_uses_running_batchnorm_statistics(trained):
  # anchors (d) 11: one sample with dropout off == eval-mode softmax.
  model, variables, x = trained
  no_dropout = models.build("cnn", 4, depth=2, width=8, dropout_rate=0.0)
  p_mc = predict.predict_probs(predict.make_predictor(no_dropout,
                                                      mc_samples=1),
                               variables, x, jax.random.key(0))
  logits, _ = model.apply(variables, x, train=False)
  np.testing.assert_allclose(p_mc[0], jax.nn.softmax(logits), rtol=1e-5,
                             atol=1e-6)
  p_det = predict.predict_probs(predict.make_predictor(model), variables, x,
                                jax.random.key(0))
  assert p_det.shape == (1, x.shape[0], 4)
  np.testing.assert_allclose(p_det[0], jax.nn.softmax(logits), rtol=1e-5,
                             atol=1e-6)


def test_features(trained):
  model, variables, x = trained
  f = predict.features(predict.make_predictor(model, chunk=64), variables, x,
                       np.arange(10, 80))
  _, want = model.apply(variables, x[10:80], train=False)
  assert f.shape == (70, 8)
  np.testing.assert_allclose(f, want, rtol=1e-5, atol=1e-6)


def test_negative_mc_samples():
  with pytest.raises(ValueError, match="mc_samples"):
    predict.make_predictor(models.build("cnn", 2), mc_samples=-1)


def test_grad_embedding_of_the_classifier_is_badge_embedding(trained):
  from jaxdal import acquisition
  model, variables, x = trained
  x = x[:12]
  g = predict.grad_embedding(model.apply, variables, x)
  logits, feats = model.apply(variables, x, train=False)
  want = acquisition.badge_embedding(jax.nn.softmax(logits), feats)
  c, d = logits.shape[1], feats.shape[1]
  # Linen's kernel is [D, C]; BADGE's layout is class-major [C, D].
  got = g.reshape(-1, d, c).transpose(0, 2, 1).reshape(-1, c * d)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_grad_embedding_of_any_subtree(trained):
  model, variables, x = trained
  g = predict.grad_embedding(model.apply, variables, x[:3],
                             params=("classifier",))
  n_params = sum(v.size for v in variables["params"]["classifier"].values())
  assert g.shape == (3, n_params)
  assert np.isfinite(np.asarray(g)).all()


def test_probs_and_features_in_one_pass_equal_two_passes(trained):
  model, variables, x = trained
  predictor = predict.make_predictor(model, chunk=48)
  idx = np.arange(5, 105)
  probs, feats = predict.probs_and_features(predictor, variables, x,
                                            jax.random.key(0), idx)
  np.testing.assert_allclose(
      probs, predict.predict_probs(predictor, variables, x, jax.random.key(0),
                                   idx), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(
      feats, predict.features(predictor, variables, x, idx), rtol=1e-6,
      atol=1e-7)
  assert probs.shape == (1, 100, 4) and feats.shape == (100, 8)


@pytest.mark.parametrize("name", ["badge", "coreset", "entropy"])
def test_features_for_an_acquisition_equal_features(trained, name):
  """Through BADGE's one-pass program or the plain features one: the
  same features, bit for bit."""
  from jaxdal import acquisition
  model, variables, x = trained
  predictor = predict.make_predictor(model, chunk=48)
  idx = np.arange(3, 90)
  np.testing.assert_array_equal(
      predict.features_for(acquisition.get(name), predictor, variables, x,
                           idx),
      predict.features(predictor, variables, x, idx))


def test_row_footprint_counts_the_largest_per_row_intermediate():
  w = jnp.ones((3, 50))

  def dense(x):  # [B, 3] -> [B, 50]: 200 bytes a row
    return jnp.tanh(x @ w).sum(axis=1)

  row = jax.ShapeDtypeStruct((3,), jnp.float32)
  assert predict.row_footprint(dense, row) == (200, False)
  key = jax.random.key(0)
  # A mask per row depends on the batch shape; one broadcast over the
  # batch (MC dropout's) does not.
  per_row = predict.row_footprint(
      lambda x: x * jax.random.bernoulli(key, 0.5, x.shape), row)
  shared = predict.row_footprint(
      lambda x: x * jax.random.bernoulli(key, 0.5, (1, 3)), row)
  assert per_row[1] and not shared[1]


@pytest.mark.parametrize("chunk,row_bytes,cache,want", [
    (1024, 300_000, 8 << 20, 16), (1024, 3_000, 8 << 20, 1024),
    (12, 10, 35, 3), (7, 10, 35, 1), (6, 10**9, 1, 1)])
def test_micro_rows_divide_the_chunk_and_fit_the_cache(chunk, row_bytes,
                                                       cache, want):
  assert predict.micro_rows(chunk, row_bytes, cache) == want


@pytest.mark.parametrize("mc_samples", [0, 5])
def test_micro_batches_equal_whole_chunks(trained, mc_samples):
  # A tiny cache forces 1-row micro-batches; rows are independent, so only
  # the rounding of batched matrix products may differ (as across chunk
  # sizes).
  model, variables, x = trained
  key, idx = jax.random.key(3), np.arange(7, 97)
  whole, micro = (predict.make_predictor(model, mc_samples=mc_samples,
                                         chunk=48, cache_bytes=c)
                  for c in (None, 1))
  row = predict.row_footprint(
      lambda b: model.apply(variables, b, train=False)[0],
      jax.ShapeDtypeStruct(x.shape[1:], x.dtype))
  assert predict.micro_rows(48, row[0], 1) == 1 and not row[1]
  np.testing.assert_allclose(
      predict.predict_probs(micro, variables, x, key, idx),
      predict.predict_probs(whole, variables, x, key, idx),
      rtol=1e-5, atol=1e-6)
  for a, b in zip(predict.probs_and_features(micro, variables, x, key, idx),
                  predict.probs_and_features(whole, variables, x, key, idx),
                  strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
      predict.features(micro, variables, x, idx),
      predict.features(whole, variables, x, idx), rtol=1e-5, atol=1e-6)
