"""The paper's text protocol: its preset, grid, optimiser and schedule."""

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import focus1 as focus1_config
from experiments.configs import grids
from jaxdal import loop, optim, plan


def _hf_linear_with_warmup(step, total, warmup):
  """transformers' get_linear_schedule_with_warmup factor, in NumPy."""
  return np.where(step < warmup, step / max(1, warmup),
                  np.maximum(0.0, (total - step) / max(1, total - warmup)))


@pytest.mark.parametrize("epochs, steps", [(5, 400), (3, 1000)])
def test_warmup_linear_is_the_epoch_mean_of_the_step_schedule(epochs,
                                                              steps):
  total = epochs * steps
  factor = _hf_linear_with_warmup(np.arange(total), total,
                                  int(optim.WARMUP * total))
  want = factor.reshape(epochs, steps).mean(axis=1)
  got = [optim.scheduled_lr("warmup_linear", 1.0, e, epochs)
         for e in range(epochs)]
  np.testing.assert_allclose(got, want, atol=2e-3)


def test_adamw_decays_weights_decoupled_from_the_gradient():
  tx = optim.make_optimizer("adamw", learning_rate=0.1, weight_decay=0.01)
  params = {"w": jnp.array([2.0, -4.0])}
  updates, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
  # Zero gradient: Adam's step is 0, the decay alone is -lr * wd * w.
  np.testing.assert_allclose(updates["w"], -0.1 * 0.01 * params["w"],
                             rtol=1e-6)


def test_paper_text_preset_is_the_papers_protocol():
  s = loop.Settings.from_config(
      focus1_config.get_config("paper_text", "cnn", "qnli"))
  plan.check(s)
  assert (s.data.dataset, s.arch.backbone) == ("ag_news", "bert")
  assert (s.active.initial, s.active.acquire, s.active.rounds) == (100, 100,
                                                                  26)
  assert (s.fit.batch_size, s.fit.max_epochs, s.fit.optimizer) == (
      20, 5, "adamw")
  assert (s.fit.learning_rate, s.fit.weight_decay, s.fit.schedule) == (
      5e-5, 0.01, "warmup_linear")
  assert s.fit.target_train_accuracy is None and s.data.val_fraction == 0
  assert s.active.query_pool == 500  # QNLI's
  for dataset, size in (("ag_news", 3000), ("banking77", 3000),
                        ("dbpedia_14", 10_000)):
    assert focus1_config.get_config("paper_text", "bert",
                                    dataset).query_pool == size
  assert "paper_text" in focus1_config.PRESETS


def test_quick_preset_fits_text_backbones_only():
  text = focus1_config.get_config("quick", "minilm")
  assert (text.initial, text.optimizer, text.chunk) == (4, "adamw", 64)
  image = focus1_config.get_config("quick", "cnn")
  assert (image.initial, image.optimizer, image.chunk) == (100, "adam",
                                                           1024)
  with pytest.raises(ValueError, match="unknown preset 'papertext'"):
    focus1_config.get_config("papertext")


def test_paper_text_grid_covers_the_papers_text_study():
  cells = grids.cells(grids.get("paper_text", "focus1"))
  assert len(cells) == 4 * 3 * 7 * 2 * 3
  assert {c["dataset"] for c in cells} == {"ag_news", "banking77",
                                           "dbpedia_14", "qnli"}
  assert {c["backbone"] for c in cells} == {"bert", "distilbert", "roberta"}
  assert {c["pretrain"] for c in cells} == {"none", "deepcluster"}
