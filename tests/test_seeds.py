"""seeds.py: seeds trained together equal seeds trained one by one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdal import loop, metrics, models, optim, seeds, train

FIT = dict(batch_size=16, max_epochs=6, learning_rate=3e-3, patience=2,
           target_train_accuracy=0.95, progress=False)


@pytest.fixture(scope="module")
def problem(tiny_synthetic):
  ds = tiny_synthetic
  model = models.build("cnn", ds.num_classes, depth=1, width=8)
  tx = optim.make_optimizer("adam", learning_rate=3e-3)
  x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
  rng = np.random.default_rng(0)
  # Three seeds: their own data, keys and initial weights.
  train_idx = [rng.choice(120, 40, replace=False) for _ in range(3)]
  val_idx = [120 + rng.choice(40, 20, replace=False) for _ in range(3)]
  keys = [jax.random.key(10 + s) for s in range(3)]
  states = [train.init_state(model, tx, jax.random.key(s), ds.input_shape)
            for s in range(3)]
  return model, tx, x, y, train_idx, val_idx, keys, states


def test_fit_group_together_equals_fit_per_seed(problem):
  model, tx, x, y, train_idx, val_idx, keys, states = problem
  one_by_one = [train.fit(train.make_trainer(model, tx), st, x, y, ti, vi, k,
                          **FIT)
                for st, ti, vi, k in zip(states, train_idx, val_idx, keys,
                                         strict=True)]
  together = train.fit_group(seeds.together(model, tx), states, x, y,
                             train_idx, val_idx, keys, **FIT)
  epochs = set()
  for (state_a, fit_a), (state_b, fit_b) in zip(one_by_one, together,
                                                strict=True):
    assert fit_a._replace(train_accuracy=0, val_accuracy=0,
                          best_val_accuracy=0, train_loss=0) == fit_b._replace(
                              train_accuracy=0, val_accuracy=0,
                              best_val_accuracy=0, train_loss=0)
    np.testing.assert_allclose(fit_a.train_loss, fit_b.train_loss, rtol=1e-4)
    np.testing.assert_allclose(fit_a.val_accuracy, fit_b.val_accuracy)
    np.testing.assert_allclose(fit_a.train_accuracy, fit_b.train_accuracy)
    for a, b in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b),
                    strict=True):
      np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    epochs.add(fit_a.epochs)
  # The fixture makes the seeds stop at different epochs, so freezing a
  # stopped seed while the others train is exercised.
  assert len(epochs) > 1, epochs


def test_fit_group_needs_equal_sizes(problem):
  model, tx, x, y, train_idx, val_idx, keys, states = problem
  with pytest.raises(ValueError, match=r"equally many.*\[40, 39, 40\]"):
    train.fit_group(seeds.together(model, tx), states, x, y,
                    [train_idx[0], train_idx[1][:39], train_idx[2]],
                    val_idx, keys, **FIT)


def test_stack_and_unstack_are_inverse():
  trees = [{"a": jnp.full((2,), i), "b": (jnp.float32(i),)} for i in range(3)]
  stacked = seeds.stack(trees)
  assert stacked["a"].shape == (3, 2)
  for a, b in zip(seeds.unstack(stacked, 3), trees, strict=True):
    assert jax.tree.all(jax.tree.map(lambda u, v: bool((u == v).all()), a,
                                     b))


TINY = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=200, num_test=60, shape=[12, 12, 1],
                                num_classes=4, noise=0.6, seed=2),
            backbone_kwargs=dict(depth=1, width=8), rounds=3, initial=12,
            acquire=8, batch_size=16, max_epochs=5, patience=2,
            acquisition="margin")


def test_run_seeds_gives_each_seed_its_own_run(tmp_path):
  settings = [loop.Settings.of(**TINY, seed=s) for s in (0, 1)]
  alone = [loop.run(s, str(tmp_path / f"alone{s.active.seed}"), progress=False,
                    log=lambda line: None) for s in settings]
  together = loop.run_seeds(settings, [str(tmp_path / f"v{s.active.seed}")
                                       for s in settings],
                            progress=False, log=lambda line: None)
  for a, b in zip(alone, together, strict=True):
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b, strict=True):
      ra, rb = metrics.without_timings(ra), metrics.without_timings(rb)
      assert ra["acquired"] == rb["acquired"]
      assert ra["epochs"] == rb["epochs"]
      np.testing.assert_allclose(ra["test_accuracy"], rb["test_accuracy"])
  assert alone[0][0]["acquired"] != alone[1][0]["acquired"]
  _, on_disk = metrics.read_run(str(tmp_path / "v1"))
  assert on_disk[-1]["acquired"] == together[1][-1]["acquired"]


def test_run_seeds_refuses_settings_that_differ_beyond_the_seed(tmp_path):
  a = loop.Settings.of(**TINY, seed=0)
  b = loop.Settings.of(**{**TINY, "acquire": 4}, seed=1)
  with pytest.raises(ValueError, match="differ in acquire"):
    loop.run_seeds([a, b], [str(tmp_path / "a"), str(tmp_path / "b")],
                   progress=False)
  assert not (tmp_path / "a").exists()
