"""Compilation discipline: over rounds whose labeled set grows, every step
function (training, evaluation, scoring, selection, pretraining and each
Focus 2 method's) compiles in round 0 or before it, once, and never again.

Counts come from JAX's own compile events (`jaxdal.diagnostics`), per
compiled function name."""

import jax
import pytest

from jaxdal import diagnostics, loop

DATA = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=160, num_test=40, shape=[12, 12, 1],
                                num_classes=3, noise=0.5, seed=5),
            rounds=4, initial=9, acquire=7, batch_size=16, max_epochs=2,
            patience=2, complexity="none", pretrain_epochs=2,
            pretrain_steps=2)
CNN = dict(backbone_kwargs=dict(depth=1, width=4))
PDARTS = dict(channels=2, layers=3, search_config=dict(
    channels=2, layers=3, add_layers=[0, 0, 0], epochs=2, eps_no_arch=1,
    batch_size=4, steps_per_epoch=1, masked=True))
# name: (settings, {step function: compilations allowed in the experiment})
# Evaluation compiles once per split shape: validation and test chunks
# (`evaluation.eval_chunk_size`) differ; a pretraining or pre-optimisation
# network has its own steps.
SCENARIOS = {
    "badge_deepcluster": (dict(CNN, acquisition="badge",
                               pretrain="deepcluster"),
                          {"train_step": 2, "eval_step": 2, "_both_chunk": 1,
                           "_features_chunk": 1, "_badge_select": 1,
                           "kmeans": 1}),
    "bald": (dict(CNN, acquisition="bald", mc_samples=3),
             {"train_step": 1, "eval_step": 2, "_probs_chunk": 1,
              "select": 1}),
    "coreset": (dict(CNN, acquisition="coreset"),
                {"train_step": 1, "eval_step": 2, "_features_chunk": 1,
                 "_coreset_select": 1}),
    "bbdropout": (dict(method="bbdropout", acquisition="entropy",
                       method_kwargs=dict(layers=2, filters=4)),
                  {"train_step": 1, "eval_step": 2, "_probs_chunk": 1}),
    "depth_dropout": (dict(method="depth_dropout", mode="spo",
                           acquisition="margin",
                           method_kwargs=dict(truncation=3, width=4)),
                      {"train_step": 2, "eval_step": 3, "_probs_chunk": 1}),
    "pdarts": (dict(method="pdarts", mode="spo", acquisition="entropy",
                    method_kwargs=PDARTS),
               {"train_step": 1, "eval_step": 2, "_probs_chunk": 1}),
    # Joint mode searches every round and derives a new network from each
    # search: that network's steps compile (once), the search's never again.
    "pdarts_joint": (dict(method="pdarts", mode="joint",
                          acquisition="entropy", method_kwargs=PDARTS),
                     {"train_step": 4, "eval_step": 8, "_probs_chunk": 3}),
}
# Compilations a round after the first may make: a derived network's.
NEW_NETWORK = {"pdarts_joint": 20}


def _compiled_during(fn):
  # Another test in this worker may have compiled a module-level function
  # (`kmeans`) for these shapes already: start from empty caches.
  jax.clear_caches()
  before = diagnostics.compilations_by_function()
  out = fn()
  after = diagnostics.compilations_by_function()
  return out, {name.removeprefix("jit(").removesuffix(")"): n - before.get(
      name, 0) for name, n in after.items() if n > before.get(name, 0)}


# PDARTS searches before round 0 (about 300 compilations of its supernet
# stages, a few minutes here): in the slow step.
CASES = [pytest.param(name, marks=[pytest.mark.slow]
                      if name.startswith("pdarts") else [])
         for name in sorted(SCENARIOS)]


@pytest.mark.parametrize("scenario", CASES)
def test_each_step_function_compiles_once_per_experiment(scenario,
                                                         tmp_path):
  extra, allowed = SCENARIOS[scenario]
  settings = loop.Settings.of(**DATA, **extra)
  records, compiled = _compiled_during(lambda: loop.run(
      settings, str(tmp_path / "w"), progress=False, log=lambda s: None))
  assert [r["labeled"] for r in records] == [9, 16, 23, 30]
  # Nothing compiles once round 0 is done: not the steps (fixed shapes),
  # not the selection, not an eager op on a labeled-set-sized array.
  later = [r["time"]["compilations"] for r in records[1:]]
  if scenario in NEW_NETWORK:
    # (the search's ~300 compilations of round 0 would not fit)
    assert all(0 <= c <= NEW_NETWORK[scenario] for c in later), later
  else:
    assert later == [0, 0, 0]
  for name, most in allowed.items():
    assert 1 <= compiled.get(name, 0) <= most, (name, compiled)
