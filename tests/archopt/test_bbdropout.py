"""BBDropout gates, loss and optimiser (spec §6, tests 19-25)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import archopt, losses, train
from jaxdal.archopt import bbdropout as bb
from jaxdal.archopt import distributions as dists


def _gate_vars(gate, x):
  return gate.init({"params": jax.random.key(0), "arch": jax.random.key(1)},
                   x)


def test_init_and_clamps():
  gate = bb.BBGate(a_uc_init=-1.0)
  v = _gate_vars(gate, jnp.ones((2, 5)))
  a, b = bb.gate_ab(v["params"]["a_uc"], v["params"]["b_uc"])
  np.testing.assert_allclose(a, jax.nn.softplus(-1.0), rtol=1e-6)
  np.testing.assert_allclose(b, 1.0, atol=1e-4)
  a, b = bb.gate_ab(jnp.array(-100.0), jnp.array(100.0))
  np.testing.assert_allclose(a, jax.nn.softplus(-10.0), rtol=1e-6)
  np.testing.assert_allclose(b, jax.nn.softplus(50.0), rtol=1e-6)


def test_eval_is_deterministic_expected_pi_times_mask():
  gate = bb.BBGate(a_uc_init=-1.0, threshold=0.1)
  x = jax.random.normal(jax.random.key(2), (3, 4, 4, 6))
  v = _gate_vars(gate, x)
  v = {"params": {"a_uc": jnp.array([-1.0, -3.0, 1.0, -1.0, -6.0, 2.0]),
                  "b_uc": v["params"]["b_uc"]}}
  e_pi = dists.Kumaraswamy(*bb.gate_ab(v["params"]["a_uc"],
                                       v["params"]["b_uc"])).mean()
  want = x * (e_pi * (e_pi >= 0.1))
  out1 = gate.apply(v, x, rngs={"arch": jax.random.key(3)})
  out2 = gate.apply(v, x, rngs={"arch": jax.random.key(4)})
  np.testing.assert_allclose(out1, want, rtol=1e-6)
  np.testing.assert_array_equal(out1, out2)
  assert (np.asarray(e_pi) < 0.1).any()  # the mask did something


def test_training_shares_pi_across_the_batch_but_not_z():
  gate = bb.BBGate(a_uc_init=-1.0, temperature=1e-4)
  x = jnp.ones((20_000, 64))
  v = _gate_vars(gate, x)
  z = np.asarray(gate.apply(v, x, train=True,
                            rngs={"arch": jax.random.key(5)}))
  assert not np.array_equal(z[0], z[1])  # per-example masks
  means = z.mean(0)
  # One pi per channel: channel means scatter like Kumaraswamy draws, not
  # like Bernoulli(E[pi]) averages (which would all be 0.2385 +- 0.003).
  assert means.std() > 0.1


def test_active_filter_count():
  model = archopt.build("bbdropout", 10, layers=3, filters=64,
                        a_init=float(jax.nn.softplus(-1.0)), threshold=0.1)
  tx = model.optimizer(1e-3)
  st = train.init_state(model.model, tx, jax.random.key(0), (12, 12, 1))
  arch = model.architecture({"params": st.params})
  assert arch["active_filters"] == [64, 64, 64]
  strict = archopt.build("bbdropout", 10, layers=3, filters=64,
                         a_init=float(jax.nn.softplus(-1.0)), threshold=0.3)
  assert strict.architecture({"params": st.params})["active_filters"] == \
      [0, 0, 0]


def test_loss_is_ce_plus_kl_over_n():
  bundle = archopt.build("bbdropout", 4, layers=2, filters=4)
  tx = bundle.optimizer(1e-3)
  st = train.init_state(bundle.model, tx, jax.random.key(0), (10, 10, 1))
  x = jax.random.normal(jax.random.key(1), (8, 10, 10, 1))
  y = jnp.arange(8) % 4
  kl = bb.total_kl(st.params, 1e-4)
  per_gate = dists.kl_bbdropout(*bb.gate_ab(jnp.float32(
      dists.softplus_inverse(0.3133)), jnp.float32(0.5413)), 1e-4)
  np.testing.assert_allclose(kl, per_gate * 2 * 4, rtol=1e-5)
  for batch in (4, 8):
    value, aux = bundle.loss(st.params, {}, x[:batch], y[:batch],
                             jnp.ones(batch), jax.random.key(2), 123.0)
    ce = losses.weighted_ce(aux["logits"], y[:batch], jnp.ones(batch))
    np.testing.assert_allclose(value - ce, kl / 60_000, rtol=1e-4)


@pytest.mark.parametrize("train_gates", [True, False])
def test_train_gates_flag(train_gates):
  bundle = archopt.build("bbdropout", 4, layers=2, filters=4)
  tx = bundle.optimizer(1e-2, train_arch=train_gates)
  trainer = train.make_trainer(bundle.model, tx, bundle.loss)
  st = train.set_learning_rate(
      train.init_state(bundle.model, tx, jax.random.key(0), (10, 10, 1)),
      1e-2)
  x = jax.random.normal(jax.random.key(1), (8, 10, 10, 1))
  y = jnp.arange(8) % 4
  new, _ = trainer.train_step(st, x, y, jnp.arange(8), jnp.ones(8, bool),
                              jax.random.key(3), jnp.float32(8))
  for g in ("gate_0", "gate_1"):
    changed = not np.array_equal(new.params[g]["a_uc"], st.params[g]["a_uc"])
    assert changed == train_gates
  assert not np.array_equal(new.params["conv_0"]["kernel"],
                            st.params["conv_0"]["kernel"])


def test_network_starts_from_torch_default_weights():
  model = archopt.build("bbdropout", 10, layers=3, filters=16).model
  v = model.init({"params": jax.random.key(0), "arch": jax.random.key(1)},
                 jnp.zeros((1, 28, 28, 1)))
  p = v["params"]
  for name, fan_in in (("conv_0", 25), ("conv_1", 9 * 16),
                       ("dense_0", 16), ("classifier", 16)):
    bound = 1.0 / np.sqrt(fan_in)
    assert np.abs(p[name]["kernel"]).max() <= bound
    assert np.abs(p[name]["bias"]).max() <= bound
    assert np.abs(p[name]["bias"]).max() > 0  # torch draws biases too


@pytest.mark.parametrize("norm", ["batch", "group"])
def test_norm_option_normalises_each_convolution_before_its_gate(norm):
  model = archopt.build("bbdropout", 10, layers=3, filters=8,
                        norm=norm).model
  x = 100.0 * jax.random.normal(jax.random.key(0), (4, 28, 28, 1))
  v = model.init({"params": jax.random.key(0), "arch": jax.random.key(1)},
                 x)
  assert {f"norm_{i}" for i in range(3)} <= set(v["params"])
  assert ("batch_stats" in v) == (norm == "batch")
  # Normalised, a 100x input gives the same logits as a 1x input, up to
  # the biases of the first convolution (scaled with it here).
  p = jax.tree.map(lambda t: t, v["params"])
  p["conv_0"] = {"kernel": p["conv_0"]["kernel"],
                 "bias": 100.0 * p["conv_0"]["bias"]}
  small = model.apply({**v, "params": v["params"]}, x / 100.0,
                      train=True, rngs={"arch": jax.random.key(2)},
                      mutable=True)[0][0]
  large = model.apply({**v, "params": p}, x, train=True,
                      rngs={"arch": jax.random.key(2)}, mutable=True)[0][0]
  np.testing.assert_allclose(large, small, rtol=2e-3, atol=2e-3)


def test_unknown_norm_is_one_line():
  with pytest.raises(ValueError, match="unknown norm 'layer'; valid: none"):
    archopt.build("bbdropout", 10, norm="layer")
