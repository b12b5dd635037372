"""network.py's deep ensembles: M members trained as one vmapped step equal
M separate fits with the same keys (up to the rounding of batched
layers); the learner's ensemble predictions, test accuracy and BALD
query against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from jaxdal import (
    acquisition,
    archopt,
    learning,
    loop,
    losses,
    models,
    optim,
    settings,
    train,
)
from jaxdal import network as network_lib

FIT = dict(batch_size=16, max_epochs=5, learning_rate=3e-3, patience=2,
           target_train_accuracy=0.95, progress=False)


def test_members_equal_separate_fits_with_their_keys(tiny_synthetic):
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=1, width=8)
  tx = optim.make_optimizer("adam", learning_rate=3e-3)
  method = archopt.Method(model=model,
                          loss=losses.cross_entropy_loss(model),
                          optimizer=lambda lr, train_arch=True: tx,
                          architecture=lambda v: None)
  net = network_lib.make_network(method, tx, acquisition.get("bald"),
                                 mc_samples=4, chunk=64, members=3)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  train_idx, val_idx = np.arange(40), np.arange(120, 140)
  init_key, key = jax.random.key(1), jax.random.key(2)
  stacked = network_lib.initial_state(method, tx, init_key, ds.input_shape,
                                      network_lib.Start(), members=3)
  state, result = network_lib.fit(net, stacked, x, y, train_idx, val_idx,
                                  key, **FIT)
  alone = [train.fit(net.trainer, train.init_state(
      model, tx, network_lib.member_key(init_key, m), ds.input_shape),
      x, y, train_idx, val_idx, network_lib.member_key(key, m), **FIT)
      for m in range(3)]
  for m, (state_m, _) in enumerate(alone):
    for a, b in zip(jax.tree.leaves(state_m),
                    jax.tree.leaves(network_lib.member(state, m, 3)),
                    strict=True):
      np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
  # Member 0 is the plain network's fit: a one-member ensemble is it.
  assert network_lib.member_key(key, 0) is key
  assert result.epochs == max(f.epochs for _, f in alone)
  assert result.train_accuracy == pytest.approx(
      np.mean([f.train_accuracy for _, f in alone]), abs=1e-6)
  assert result.stop_reason == "+".join(sorted({f.stop_reason
                                                for _, f in alone}))


def test_learner_ensemble_predicts_with_its_members(tiny_synthetic):
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=1, width=8)
  lrn = learning.learner(model, optim.make_optimizer("adam",
                                                     learning_rate=3e-3),
                         ds.x_train, acquisition="bald", ensemble=2,
                         batch_size=16, max_epochs=4, patience=4)
  state = lrn.init(0, labeled=np.arange(30), labels=ds.y_train[:30])
  state, _ = lrn.fit(state)
  probs = np.asarray(lrn.predict(state, ds.x_test))
  assert probs.shape == (2, len(ds.y_test), ds.num_classes)
  # Each member's probabilities are its own inference-mode softmax.
  for m in range(2):
    v = {"params": network_lib.member(state.train, m, 2).params,
         **network_lib.member(state.train, m, 2).model_state}
    own = special.softmax(np.asarray(model.apply(
        v, ds.x_test, train=False)[0], np.float64), axis=1)
    np.testing.assert_allclose(probs[m], own, atol=2e-5)
  assert not np.allclose(probs[0], probs[1], atol=1e-3)
  mean = probs.mean(0)
  np.testing.assert_allclose(
      special.softmax(lrn.logits(state, ds.x_test), axis=1), mean, atol=2e-5)
  assert lrn.evaluate(state, ds.x_test, ds.y_test) == np.mean(
      lrn.logits(state, ds.x_test).argmax(1) == ds.y_test)
  # BALD reads the members as its samples: NumPy mutual information.
  cand, inputs = lrn.inputs(state)
  p = np.asarray(inputs["probs"], np.float64)
  assert p.shape[0] == 2
  pbar = p.mean(0)
  mi = (-(pbar * np.log(np.clip(pbar, 1e-30, 1))).sum(1)
        + (p * np.log(np.clip(p, 1e-30, 1))).sum(2).mean(0))
  mi = np.where(np.asarray(state.pool.labeled)[cand], -np.inf, mi)
  want = cand[np.argsort(-mi, kind="stable")[:5]]
  got = lrn.select(state, 5, cand, inputs)
  assert len(set(want.tolist()) & set(got.tolist())) >= 4


@pytest.mark.parametrize("change, match", [
    (dict(ensemble=0), "ensemble must be a positive integer, got 0"),
    (dict(ensemble=2, warm_start=True), "not with --warm_start"),
    (dict(ensemble=2, method="bbdropout"), "not with --method"),
])
def test_bad_ensembles_are_refused(change, match):
  with pytest.raises(ValueError, match=match):
    settings.validate(loop.Settings.of(**change))


def test_seeds_together_refuse_an_ensemble(tmp_path):
  s = [loop.Settings.of(dataset="synthetic", ensemble=2, seed=i)
       for i in (0, 1)]
  with pytest.raises(ValueError, match="--ensemble 2 trains its members "
                     "together already"):
    loop.run_seeds(s, [str(tmp_path / "a"), str(tmp_path / "b")],
                   progress=False)
  assert not (tmp_path / "a").exists()
