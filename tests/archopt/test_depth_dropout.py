"""Depth-Dropout's structure sampler and network (spec §6, tests 26-36)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import archopt, models, train
from jaxdal.archopt import depth_dropout as dd
from jaxdal.archopt import distributions as dists

K, M = 5, 6


@pytest.fixture(scope="module")
def net():
  bundle = archopt.build("depth_dropout", 3, truncation=K, width=M,
                         norm="group")
  x = jax.random.normal(jax.random.key(0), (4, 12, 12, 1))
  variables = bundle.model.init({"params": jax.random.key(1),
                                 "arch": jax.random.key(2)}, x)
  return bundle, variables, x


def test_stick_breaking():
  nu = jax.random.uniform(jax.random.key(0), (50, 8), minval=0.01)
  pi = dd.stick_breaking(nu)
  np.testing.assert_allclose(pi, jnp.cumprod(nu, axis=1), rtol=1e-5)
  assert (np.diff(np.asarray(pi), axis=1) <= 1e-7).all()


def test_expected_pi_under_q():
  a, b = dd.beta_params(jnp.full(3, dists.softplus_inverse(1.1)),
                        jnp.full(3, dists.softplus_inverse(1.0)))
  nu = jax.random.beta(jax.random.key(0), a, b, (100_000, 3))
  mc = np.asarray(dd.stick_breaking(nu).mean(0))
  want = np.cumprod(np.asarray(a / (a + b)))
  np.testing.assert_allclose(want[0], 0.5236, atol=1e-4)
  np.testing.assert_allclose(mc, want, atol=5 * 0.3 / np.sqrt(100_000))


def _structure(bundle, variables, *, train_mode, seed):
  return bundle.model.apply(
      variables, method=lambda m: m.structure(train=train_mode),
      rngs={"arch": jax.random.key(seed)})


def test_structure_shapes_and_modes(net):
  bundle, variables, _ = net
  z, threshold = _structure(bundle, variables, train_mode=True, seed=0)
  assert z.shape == (2, M, K) and 1 <= int(threshold) <= K
  assert ((np.asarray(z) > 0) & (np.asarray(z) < 1)).all()
  z1, _ = _structure(bundle, variables, train_mode=False, seed=1)
  z2, _ = _structure(bundle, variables, train_mode=False, seed=2)
  assert set(np.unique(np.asarray(z1))) <= {0.0, 1.0}
  assert not np.array_equal(z1, z2)


def test_active_depth_counts_layers():
  z = np.zeros((2, 3, 5), np.float32)
  z[0, 0, 0] = z[0, 1, 2] = 1.0  # layers 0 and 2: count 2 (middle gap)
  z[1, 2, 4] = 1.0  # one layer
  assert int(dd.active_depth(jnp.asarray(z))) == 2
  assert int(dd.active_depth(jnp.zeros((2, 3, 5)))) == 1


def _logits(bundle, variables, x, z, threshold):
  return bundle.model.apply(
      variables, x, z, threshold,
      method=lambda m, x, z, t: m.classifier(m.body(x, masks=z, threshold=t)))


def test_all_ones_is_the_plain_residual_cnn(net):
  bundle, variables, x = net
  got = _logits(bundle, variables, x, jnp.ones((M, K)), K)
  cnn = models.CNN(num_classes=3, depth=K, width=M, dropout_rate=0.0,
                   norm="group")
  plain = {"params": {"body": variables["params"]["body"],
                      "classifier": variables["params"]["classifier"]}}
  want, _ = cnn.apply(plain, x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threshold", range(1, K + 1))
def test_static_truncation_equals_running_threshold_layers(net, threshold):
  bundle, variables, x = net
  z = jax.random.uniform(jax.random.key(threshold), (M, K))
  got = _logits(bundle, variables, x, z, threshold)
  short = models.cnn.ResidualBody(M, threshold, "group")
  body = variables["params"]["body"]
  keep = {k: v for k, v in body.items()
          if not k.startswith(("convs_", "norms_"))
          or int(k.split("_")[1]) < threshold}
  feats = short.apply({"params": keep}, x, masks=z[:, :threshold])
  head = variables["params"]["classifier"]
  np.testing.assert_allclose(got, feats @ head["kernel"] + head["bias"],
                             rtol=1e-5, atol=1e-5)

  def total(params):
    return bundle.model.apply(
        {"params": params}, x, z, threshold,
        method=lambda m, x, z, t: m.classifier(
            m.body(x, masks=z, threshold=t))).sum()

  grads = jax.grad(total)(variables["params"])["body"]
  for layer in range(threshold, K):
    assert not np.asarray(grads[f"convs_{layer}"]["kernel"]).any()


def test_zero_masks_after_layer_0_leave_the_first_layer(net):
  bundle, variables, x = net
  z = jnp.zeros((M, K)).at[:, 0].set(1.0)
  got = _logits(bundle, variables, x, z, K)
  want = _logits(bundle, variables, x, jnp.ones((M, K)), 1)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_floor_on_beta_parameters():
  a, b = dd.beta_params(jnp.array(-1e3), jnp.array(-1e3))
  assert a >= np.float32(0.01) and b >= np.float32(0.01)


def test_loss_divides_kl_by_the_labeled_size(net):
  bundle, variables, x = net
  y = jnp.arange(4) % 3
  kl = float(dists.kl_beta_beta(1.11, 1.01, 1.0, 10.0)) * K
  values = {}
  for n in (100.0, 200.0):
    value, aux = bundle.loss(variables["params"], {}, x, y, jnp.ones(4),
                             jax.random.key(3), n)
    np.testing.assert_allclose(aux["kl"], kl, rtol=1e-4)
    values[n] = float(value)
  np.testing.assert_allclose(values[100.0] - values[200.0], kl / 200,
                             rtol=1e-3)


@pytest.mark.parametrize("train_structure", [True, False])
def test_train_structure_flag(net, train_structure):
  bundle, _, x = net
  tx = bundle.optimizer(1e-2, train_arch=train_structure)
  trainer = train.make_trainer(bundle.model, tx, bundle.loss)
  st = train.set_learning_rate(
      train.init_state(bundle.model, tx, jax.random.key(0), (12, 12, 1)),
      1e-2)
  y = jnp.arange(4) % 3
  new, _ = trainer.train_step(st, x, y, jnp.arange(4), jnp.ones(4, bool),
                              jax.random.key(3), jnp.float32(4))
  changed = not np.array_equal(new.params["a_uc"], st.params["a_uc"])
  assert changed == train_structure


def test_eval_samples_sets_the_structure_samples_at_inference_only():
  bundle = archopt.build("depth_dropout", 3, truncation=K, width=M,
                         norm="group", samples=2, eval_samples=7)
  x = jax.random.normal(jax.random.key(0), (4, 12, 12, 1))
  v = bundle.model.init({"params": jax.random.key(1),
                         "arch": jax.random.key(2)}, x)
  rngs = {"arch": jax.random.key(3)}
  method = dd.DepthDropoutCNN.sample_logits
  infer, _, _ = bundle.model.apply(v, x, rngs=rngs, method=method)
  trained, _, _ = bundle.model.apply(v, x, train=True, rngs=rngs,
                                     method=method)
  assert infer.shape == (7, 4, 3) and trained.shape == (2, 4, 3)
  # __call__ is their mean.
  logits, _ = bundle.model.apply(v, x, rngs=rngs)
  np.testing.assert_allclose(logits, infer.mean(0), rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match="eval_samples must be >= 0"):
    archopt.build("depth_dropout", 3, eval_samples=-1)


def test_example_masks_draw_a_structure_per_example_at_inference():
  bundle = archopt.build("depth_dropout", 3, truncation=K, width=M,
                         norm="group", eval_samples=3, example_masks=True)
  x = jnp.broadcast_to(jax.random.normal(jax.random.key(0), (1, 12, 12, 1)),
                       (5, 12, 12, 1))
  v = bundle.model.init({"params": jax.random.key(1),
                         "arch": jax.random.key(2)}, x)
  rngs = {"arch": jax.random.key(4)}
  z, threshold = bundle.model.apply(
      v, method=lambda m: m.structure(train=False, batch=5), rngs=rngs)
  assert z.shape == (3, 5, M, K)
  logits, _, _ = bundle.model.apply(v, x, rngs=rngs,
                                    method=dd.DepthDropoutCNN.sample_logits)
  # Identical inputs, own structures: different outputs.
  assert np.ptp(np.asarray(logits[0]), axis=0).max() > 1e-3
  # Example i is the batch-shared network run alone with its masks z[s, i].
  for s, i in ((0, 0), (2, 3)):
    feats = bundle.model.apply(
        v, method=lambda m, s=s, i=i: m.body(x[i:i + 1], masks=z[s, i],
                                             threshold=threshold))
    want = bundle.model.apply(v, method=lambda m, f=feats: m.classifier(f))
    np.testing.assert_allclose(logits[s, i], want[0], rtol=1e-5, atol=1e-5)
  # Training keeps one structure per batch.
  z_train, _ = bundle.model.apply(
      v, method=lambda m: m.structure(train=True, batch=5), rngs=rngs)
  assert z_train.shape == (2, M, K)
