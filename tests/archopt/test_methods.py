"""Every method in every mode it supports, through the loop, tiny."""

import os

import pytest

from jaxdal import archopt, loop, metrics, plots

TINY_DATA = dict(dataset="synthetic",
                 dataset_kwargs=dict(num_train=160, num_test=40,
                                     shape=[12, 12, 1], num_classes=3,
                                     noise=0.5, seed=1),
                 rounds=2, initial=9, acquire=6, batch_size=16, max_epochs=2,
                 patience=2, pretrain_epochs=1, pretrain_steps=2)
TINY_METHOD = {
    "bbdropout": dict(layers=2, filters=4),
    "depth_dropout": dict(truncation=3, width=4),
    "cnn1": dict(width=4), "cnn5": dict(width=4), "cnn9": dict(width=4),
    # Derived network 12 -> 6 -> 3 pixels; masked search stages of 3 cells
    # each, so one supernet compile serves every stage, round and mode.
    "pdarts": dict(channels=2, layers=3, search_config=dict(
        channels=2, layers=3, add_layers=[0, 0, 0], epochs=2, eps_no_arch=1,
        batch_size=4, steps_per_epoch=1, masked=True)),
}
SEARCHED = ("bbdropout", "depth_dropout", "pdarts")
# PDARTS searches before round 0 (joint: every round), 1-6 min a mode
# here: in the slow step.
CASES = [pytest.param(m, mode, marks=[pytest.mark.slow]
                      if m == "pdarts" else [])
         for m in archopt.names()
         for mode in (archopt.MODES if m in SEARCHED else ("joint",))]


def test_every_registered_method_is_covered():
  assert set(TINY_METHOD) == set(archopt.names())


@pytest.mark.parametrize("method,mode", CASES)
def test_method_runs_in_mode(method, mode, tmp_path):
  settings = loop.Settings.of(**TINY_DATA, method=method,
                           method_kwargs=TINY_METHOD[method], mode=mode)
  workdir = str(tmp_path / "w")
  records = loop.run(settings, workdir, progress=False, log=lambda s: None)
  assert [r["labeled"] for r in records] == [9, 15]
  arch = records[-1]["architecture"]
  if method == "pdarts":
    assert arch["source"] == "search"
    for cell in ("normal", "reduce"):
      assert len(arch["genotype"][cell]) == 8
    searches = sorted(os.listdir(os.path.join(workdir, "searches")))
    assert searches == ({"joint": ["round_000.json", "round_001.json"],
                         "spo": ["spo.json"], "upo": ["upo.json"]}[mode])
  else:
    assert arch["active_filters"] and len(arch["active_filters"]) >= 1
  if mode == "spo" and method != "pdarts":
    assert os.path.isdir(os.path.join(workdir, "preoptimised"))
  if mode == "upo" and method != "pdarts":
    assert os.path.isdir(os.path.join(workdir, "pretrained"))
  if mode != "joint":
    # The architecture is frozen after pre-optimisation.
    assert records[0]["architecture"] == records[1]["architecture"]
  figure = plots.architecture_evolution(workdir)
  assert (figure is not None) == (method in SEARCHED)
  _, on_disk = metrics.read_run(workdir)
  assert on_disk[-1]["architecture"] == arch


def test_fixed_networks_refuse_search_modes(tmp_path):
  settings = loop.Settings.of(**TINY_DATA, method="cnn5", mode="spo")
  with pytest.raises(ValueError, match="cnn5.* is fixed"):
    loop.run(settings, str(tmp_path / "w"), progress=False)
  assert not (tmp_path / "w").exists()


def test_unknown_method_and_mode(tmp_path):
  with pytest.raises(ValueError, match="valid: bbdropout, cnn1.*pdarts"):
    loop.run(loop.Settings.of(**TINY_DATA, method="darts"), str(tmp_path / "a"),
             progress=False)
  with pytest.raises(ValueError, match="valid: joint, spo, upo"):
    loop.run(loop.Settings.of(**TINY_DATA, method="bbdropout", mode="both"),
             str(tmp_path / "b"), progress=False)


def test_spo_rounds_keep_the_preoptimised_architecture(tmp_path):
  import jax
  import jax.numpy as jnp

  from jaxdal import checkpoint, models

  settings = loop.Settings.of(**TINY_DATA, method="bbdropout",
                              method_kwargs=TINY_METHOD["bbdropout"],
                              mode="spo")
  workdir = str(tmp_path / "w")
  records = loop.run(settings, workdir, progress=False, log=lambda s: None)
  bundle = archopt.build("bbdropout", 3, **TINY_METHOD["bbdropout"])
  like = bundle.model.init({"params": jax.random.key(0),
                            **models.rngs_for(jax.random.key(0))},
                           jnp.zeros((1, 12, 12, 1)))
  pre = checkpoint.restore_tree(os.path.join(workdir, "preoptimised"),
                                dict(like))
  want = bundle.architecture(pre)
  # The gates moved during pre-optimisation, then stayed put.
  assert want["expected_pi"] != bundle.architecture(dict(like))["expected_pi"]
  for r in records:
    assert r["architecture"] == want


@pytest.mark.parametrize("method", ["bbdropout", "depth_dropout"])
def test_frozen_architecture_in_joint_mode(method, tmp_path):
  settings = loop.Settings.of(**TINY_DATA, method=method,
                           method_kwargs=TINY_METHOD[method],
                           train_arch=False)
  records = loop.run(settings, str(tmp_path / "w"), progress=False,
                     log=lambda s: None)
  trained = loop.run(loop.Settings.of(**TINY_DATA, method=method,
                                   method_kwargs=TINY_METHOD[method]),
                     str(tmp_path / "t"), progress=False, log=lambda s: None)
  assert records[0]["architecture"] == records[1]["architecture"]
  assert records[1]["architecture"] != trained[1]["architecture"]


class _InterruptError(Exception):
  pass


@pytest.mark.slow  # Two PDARTS joint runs: ~2 min here.
def test_pdarts_joint_resumed_after_round_0_equals_uninterrupted(tmp_path):
  # Round 1's network comes from a search cached in the workdir: a resumed
  # run rebuilds round 0's network from it, restores, and continues.
  settings = loop.Settings.of(**TINY_DATA, method="pdarts",
                           method_kwargs=TINY_METHOD["pdarts"])
  whole = loop.run(settings, str(tmp_path / "a"), progress=False,
                   log=lambda s: None)

  def stop_after_round_0(line):
    if line.startswith("    0 "):
      raise _InterruptError

  workdir = str(tmp_path / "b")
  with pytest.raises(_InterruptError):
    loop.run(settings, workdir, progress=False, log=stop_after_round_0)
  lines = []
  resumed = loop.run(settings, workdir, progress=False, log=lines.append)
  assert any(line.startswith("resuming") for line in lines)
  keys = ("labeled", "test_accuracy", "acquired", "architecture", "epochs")
  for a, b in zip(whole, resumed, strict=True):
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_pdarts_without_search_trains_the_published_genotype(tmp_path):
  from jaxdal.archopt import pdarts
  settings = loop.Settings.of(**TINY_DATA, method="pdarts",
                           method_kwargs=TINY_METHOD["pdarts"],
                           train_arch=False)
  workdir = str(tmp_path / "w")
  records = loop.run(settings, workdir, progress=False, log=lambda s: None)
  published = pdarts.genotype_to_dict(pdarts.PUBLISHED)
  for r in records:
    assert r["architecture"]["genotype"] == published
    assert r["architecture"]["source"] == "published"
  assert not os.path.exists(os.path.join(workdir, "searches"))


def test_pdarts_refuses_body_pretraining(tmp_path):
  settings = loop.Settings.of(**TINY_DATA, method="pdarts",
                           method_kwargs=TINY_METHOD["pdarts"],
                           pretrain="deepcluster")
  with pytest.raises(ValueError, match="'pdarts' searches its network"):
    loop.run(settings, str(tmp_path / "w"), progress=False)
  assert not (tmp_path / "w").exists()


def test_pdarts_bad_search_setting_is_one_line(tmp_path):
  settings = loop.Settings.of(**TINY_DATA, method="pdarts",
                           method_kwargs={"search_config": {"epoch": 2}})
  with pytest.raises(ValueError, match="unknown search setting.*epochs"):
    loop.run(settings, str(tmp_path / "w"), progress=False)


# (A damaged search JSON is covered in tests/test_workdir.py: a PDARTS
# search through the loop costs minutes.)
@pytest.mark.parametrize("method,cache", [("bbdropout", "preoptimised")])
def test_damaged_cache_is_recomputed_with_a_warning(method, cache, tmp_path):
  import shutil
  settings = loop.Settings.of(**TINY_DATA, method=method,
                              method_kwargs=TINY_METHOD[method], mode="spo")
  workdir = str(tmp_path / "w")
  first = loop.run(settings, workdir, progress=False, log=lambda s: None)
  path = os.path.join(workdir, cache)
  if os.path.isdir(path):  # an Orbax tree: every file cut in half
    for folder, _, files in os.walk(path):
      for name in files:
        with open(os.path.join(folder, name), "r+b") as f:
          f.truncate(os.path.getsize(f.name) // 2)
  else:
    with open(path, "w") as f:
      f.write('{"genotype": ')
  # Drop the last round, so the rerun needs the cache again.
  shutil.rmtree(os.path.join(workdir, "checkpoints", "1"))
  lines = []
  again = loop.run(settings, workdir, progress=False, log=lines.append)
  warnings = [line for line in lines if line.startswith("warning:")]
  assert len(warnings) == 1 and f"{path} is unreadable" in warnings[0]

  def untimed(record):  # a search also records how long it took
    record = metrics.without_timings(record)
    if "search" in record:
      record["search"] = {k: v for k, v in record["search"].items()
                          if k != "time_s"}
    return record
  assert [untimed(r) for r in again] == [untimed(r) for r in first]
