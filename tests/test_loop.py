"""The round loop: outputs, selection wiring, compilation, workdir rules."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from jaxdal import (
    acquisition,
    checkpoint,
    data,
    loop,
    metrics,
    models,
    optim,
    predict,
    train,
)
from jaxdal import workdir as workdir_lib
from jaxdal.checkpoint import RoundCheckpointer
from jaxdal.data.fingerprint import describe_array

TINY = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=240, num_test=60, shape=[12, 12, 1],
                                num_classes=4, noise=0.5, seed=3),
            backbone_kwargs=dict(depth=1, width=8), rounds=3, initial=12,
            acquire=10, batch_size=16, max_epochs=3, patience=3)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("run") / "w")
  settings = loop.Settings.of(**TINY)
  records = loop.run(settings, workdir, progress=False, log=lambda s: None)
  return settings, workdir, records


@pytest.mark.accelerator
def test_outputs(tiny_run):
  settings, workdir, records = tiny_run
  assert [r["labeled"] for r in records] == [12, 22, 32]
  assert os.path.isfile(os.path.join(workdir, "figures",
                                     "learning_curve.png"))
  config, on_disk = metrics.read_run(workdir)
  # The settings, and the arrays behind the dataset's name.
  ds = data.load(TINY["dataset"], **TINY["dataset_kwargs"])
  assert config.pop("data_fingerprint") == {
      name: describe_array(getattr(ds, name))
      for name in ("x_train", "y_train", "x_test", "y_test")}
  assert config == settings.to_dict()
  assert on_disk == json.loads(json.dumps(records))
  assert records[-1]["acquired"] is None
  chosen = np.concatenate([r["acquired"] for r in records[:-1]])
  assert len(set(chosen.tolist())) == 20
  for r in records:
    assert 0.0 <= r["test_accuracy"] <= 1.0
  # The run held its workdir's lock and let it go when it ended.
  workdir_lib.RunLock(workdir).release()


def test_a_workdir_in_use_is_refused_untouched(tiny_run, tmp_path):
  settings, workdir, _ = tiny_run
  before = metrics.read_run(workdir)
  other = workdir_lib.RunLock(workdir)  # as another process would hold it
  try:
    with pytest.raises(workdir_lib.WorkdirError,
                       match=rf"workdir '{workdir}' is in use by another run "
                             rf"\(process {os.getpid()}\); wait for it"):
      loop.run(loop.Settings.of(**dict(TINY, rounds=4)), workdir,
               progress=False, log=lambda s: None)
  finally:
    other.release()
  assert metrics.read_run(workdir) == before  # not extended to 4 rounds


def test_rounds_record_feature_space_complexity(tiny_run):
  settings, _, records = tiny_run
  ds = data.load("synthetic", **settings.data.dataset_kwargs)
  pool0 = data.init_pool(jax.random.fold_in(jax.random.key(0), 0),
                         ds.y_train, initial=12, num_classes=4)
  candidates = int(np.asarray(pool0.candidate).sum())
  assert candidates < 2000
  for r in records:
    measured = r["complexity"]
    assert measured["labeled"]["n"] == settings.active.initial
    assert measured["pool"]["n"] == candidates  # all: under the cap
    for where in ("labeled", "pool"):
      assert set(measured[where]) == {
          "n", "twonn", "effective_rank", "participation_ratio",
          "fisher_ratio", "boundary_fraction"}
      assert 0.0 <= measured[where]["boundary_fraction"] <= 1.0
      assert measured[where]["effective_rank"] >= 1.0


def test_complexity_reads_the_acquisitions_features(tmp_path, monkeypatch):
  """With a feature acquisition (coreset), the complexity measures take the
  features the acquisition's pass computed; the records equal those of a
  run that computes them in a pass of their own."""
  settings = loop.Settings.of(**TINY, acquisition="coreset")
  shared = loop.run(settings, str(tmp_path / "shared"), progress=False,
                    log=lambda s: None)
  calls = []
  real = loop._features_from
  monkeypatch.setattr(loop, "_features_from", lambda scored, idx: calls.append(
      real(scored, idx) is not None))
  own = loop.run(settings, str(tmp_path / "own"), progress=False,
                 log=lambda s: None)
  # Every round but the last (which acquires nothing) had them at hand.
  assert calls == [True, True] * (TINY["rounds"] - 1) + [False, False]
  assert ([metrics.without_timings(r) for r in shared]
          == [metrics.without_timings(r) for r in own])


def test_badge_complexity_uses_no_features_program(tmp_path, monkeypatch):
  """With BADGE the complexity samples' features go through the
  acquisition pass's program (`probs_and_features`): the plain features
  program, which would compile for the last round's own pass, never runs;
  the records equal those of a run whose complexity passes use it."""
  settings = loop.Settings.of(**TINY, acquisition="badge")
  real = loop.predict_lib.features
  calls = []
  monkeypatch.setattr(loop.predict_lib, "features",
                      lambda *a, **k: calls.append(1) or real(*a, **k))
  shared = loop.run(settings, str(tmp_path / "shared"), progress=False,
                    log=lambda s: None)
  assert calls == []
  monkeypatch.setattr(
      loop.predict_lib, "features_for",
      lambda acq, pred, v, x, idx: loop.predict_lib.features(pred, v, x, idx))
  own = loop.run(settings, str(tmp_path / "own"), progress=False,
                 log=lambda s: None)
  assert len(calls) == 2  # the last round's two samples
  assert ([metrics.without_timings(r) for r in shared]
          == [metrics.without_timings(r) for r in own])


def test_complexity_none_records_none(tmp_path):
  records = loop.run(loop.Settings.of(**dict(TINY, rounds=1),
                                      complexity="none"),
                     str(tmp_path / "w"), progress=False, log=lambda s: None)
  assert "complexity" not in records[0]


def test_no_step_compiles_after_the_first_round(tiny_run):
  _, _, records = tiny_run
  assert records[0]["time"]["compilations"] > 0
  assert [r["time"]["compilations"] for r in records[1:]] == [0, 0]


@pytest.mark.accelerator
def test_acquired_points_are_the_models_most_uncertain(tiny_run):
  # Independent re-derivation of round 0's selection from its checkpoint:
  # predictions of the saved model, NumPy entropy and a stable sort.
  settings, workdir, records = tiny_run
  ds = data.load("synthetic", **settings.data.dataset_kwargs)
  model = models.build("cnn", ds.num_classes, **settings.arch.backbone_kwargs)
  tx = optim.make_optimizer("adam", learning_rate=1e-3)
  like = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
  pool0 = data.init_pool(jax.random.fold_in(jax.random.key(0), 0),
                         ds.y_train, initial=12, num_classes=4)
  ckpt = RoundCheckpointer(os.path.join(workdir, "checkpoints"))
  try:
    if 0 not in ckpt._manager.all_steps():
      pytest.skip("round 0 checkpoint rotated out")
    state, pool_after, _, _ = ckpt.restore(0, train_state_like=like,
                                           pool_like=pool0)
  finally:
    ckpt.close()
  variables = {"params": state.params, **state.model_state}
  probs = np.asarray(predict.predict_probs(predict.make_predictor(model),
                                           variables, ds.x_train,
                                           jax.random.key(0)))[0]
  ent = -(probs * np.log(np.clip(probs, 1e-30, 1))).sum(-1)
  avail = np.asarray(data.available(pool0))
  ent = np.where(avail, ent, -np.inf)
  want = np.argsort(-ent, kind="stable")[:10]
  # float32 entropies may swap near-ties; compare as sets with one slack.
  assert len(set(want.tolist()) & set(records[0]["acquired"])) >= 9
  assert sorted(np.flatnonzero(np.asarray(pool_after.label_round) == 1)) == \
      sorted(records[0]["acquired"])


def test_rerun_of_a_finished_run_changes_nothing(tiny_run):
  settings, workdir, records = tiny_run
  again = loop.run(settings, workdir, progress=False, log=lambda s: None)
  assert again == json.loads(json.dumps(records))


def test_run_saved_before_a_settings_field_existed_resumes(tiny_run,
                                                          tmp_path):
  import shutil
  settings, workdir, records = tiny_run
  old = str(tmp_path / "old")
  shutil.copytree(workdir, old)
  path = os.path.join(old, metrics.CONFIG_FILE)
  with open(path) as f:
    config = json.load(f)
  del config["test_size"]  # a field added later, left at its default
  with open(path, "w") as f:
    json.dump(config, f)
  again = loop.run(settings, old, progress=False, log=lambda s: None)
  assert again == json.loads(json.dumps(records))


def test_run_saved_before_the_data_fingerprint_resumes(tiny_run, tmp_path):
  import shutil
  settings, workdir, records = tiny_run
  old = str(tmp_path / "old")
  shutil.copytree(workdir, old)
  path = os.path.join(old, metrics.CONFIG_FILE)
  with open(path) as f:
    config = json.load(f)
  fingerprint = config.pop("data_fingerprint")
  with open(path, "w") as f:
    json.dump(config, f)
  again = loop.run(settings, old, progress=False, log=lambda s: None)
  assert again == json.loads(json.dumps(records))
  # Recorded from then on, so a later resume on other data is refused.
  assert metrics.read_run(old)[0]["data_fingerprint"] == fingerprint


def test_resume_on_changed_data_is_refused(tiny_run, tmp_path):
  """The same dataset name with other arrays behind it (before: the old
  records came back silently)."""
  import shutil
  settings, workdir, _ = tiny_run
  other = str(tmp_path / "other")
  shutil.copytree(workdir, other)
  changed = settings.replace(dataset_kwargs={**TINY["dataset_kwargs"]})
  path = os.path.join(other, metrics.CONFIG_FILE)
  with open(path) as f:
    config = json.load(f)
  config["data_fingerprint"]["x_train"] = "float32[1] sha256:0000"
  with open(path, "w") as f:
    json.dump(config, f)
  before = sorted(os.listdir(other))
  with pytest.raises(loop.WorkdirError, match=(
      r"^workdir '.*other' holds a run on other data with the same "
      r"settings \(x_train float32\[1\] sha256:0000 -> float32\[240,12,12,1\]"
      r" sha256:[0-9a-f]{16}\); pass --overwrite")):
    loop.run(changed, other, progress=False, log=lambda s: None)
  assert sorted(os.listdir(other)) == before


def test_different_config_is_refused_then_overwritten(tmp_path):
  workdir = str(tmp_path / "w")
  small = dict(TINY, rounds=1)
  loop.run(loop.Settings.of(**small), workdir, progress=False,
           log=lambda s: None)
  with pytest.raises(loop.WorkdirError, match="differs in: seed"):
    loop.run(loop.Settings.of(**dict(small, seed=1)), workdir, progress=False,
             log=lambda s: None)
  lines = []
  recs = loop.run(loop.Settings.of(**dict(small, seed=1)), workdir,
                  overwrite=True, progress=False, log=lines.append)
  assert metrics.read_run(workdir)[0]["seed"] == 1 and len(recs) == 1
  # The old run was moved aside, never deleted.
  (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith("w.old-")]
  assert metrics.read_run(str(aside))[0]["seed"] == 0
  assert lines[0] == f"moved the old run in {workdir} to {aside}"


@pytest.mark.accelerator
def test_more_rounds_extend_a_finished_run_exactly(tiny_run, tmp_path):
  settings, straight, records = tiny_run
  workdir = str(tmp_path / "w")
  two = loop.run(settings.replace(rounds=2), workdir, progress=False,
                 log=lambda s: None)
  assert two[-1]["acquired"] is None
  lines = []
  three = loop.run(settings, workdir, progress=False, log=lines.append)
  assert lines[0] == f"extending the run in {workdir}: rounds 2 -> 3"
  assert ([metrics.without_timings(r) for r in three]
          == [metrics.without_timings(r) for r in records])
  assert metrics.read_run(workdir)[0] == metrics.read_run(straight)[0]
  got, want = (checkpoint.read_round(os.path.join(w, "checkpoints"))
               for w in (workdir, straight))
  assert got["round"] == want["round"] == 2
  for a, b in zip(jax.tree.leaves((got["train_state"], got["pool"])),
                  jax.tree.leaves((want["train_state"], want["pool"])),
                  strict=True):
    np.testing.assert_array_equal(a, b)
  # Fewer rounds would drop finished ones: refused, nothing changed.
  with pytest.raises(loop.WorkdirError, match=r"holds a run with rounds 3 "
                     r"\(asked: 2\); only --rounds may change on resume, and "
                     r"only to a larger value"):
    loop.run(settings.replace(rounds=2), workdir, progress=False)
  assert metrics.read_run(workdir)[0]["rounds"] == 3
  # Any other change names the keys, and what may change.
  with pytest.raises(loop.WorkdirError, match=r"differs in: rounds, seed\); "
                     r"only --rounds may change"):
    loop.run(settings.replace(rounds=4, seed=1), workdir, progress=False)


def test_overwrite_waits_for_valid_settings(tmp_path):
  workdir = str(tmp_path / "w")
  small = dict(TINY, rounds=1)
  loop.run(loop.Settings.of(**small), workdir, progress=False,
           log=lambda s: None)
  bad = loop.Settings.of(**dict(small, backbone_kwargs=dict(depth="x")))
  with pytest.raises(ValueError, match=r"bad backbone argument depth='x' for "
                     r"'cnn': must be an integer"):
    loop.run(bad, workdir, overwrite=True, progress=False)
  config = metrics.read_run(workdir)[0]
  del config["data_fingerprint"]
  assert config == loop.Settings.of(**small).to_dict()
  assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_foreign_folder_is_refused(tmp_path, overwrite):
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(loop.WorkdirError, match="holds no jaxdal run"):
    loop.run(loop.Settings.of(**TINY), str(tmp_path), overwrite=overwrite,
             progress=False, log=lambda s: None)
  assert (tmp_path / "notes.txt").read_text() == "mine"


def test_run_without_its_config_is_refused_not_replaced(tmp_path):
  (tmp_path / "checkpoints").mkdir()
  with pytest.raises(loop.WorkdirError, match="no config.json; restore it"):
    loop.run(loop.Settings.of(**TINY), str(tmp_path), overwrite=True,
             progress=False)
  assert (tmp_path / "checkpoints").is_dir()


@pytest.mark.parametrize("change,match", [
    (dict(acquisition="nope"), "valid: alfamix, badge, bait, bald"),
    (dict(pretrain="simclr"), "valid: none, deepcluster"),
    (dict(acquire=0), "acquire must be a positive"),
    (dict(acquire=500), "pool holds"),
    (dict(acquisition="bald", mc_samples=1), "mc_samples >= 2"),
    (dict(backbone_kwargs=dict(depht=2)),
     "unknown argument 'depht' for backbone 'cnn'"),
])
def test_bad_settings_write_nothing(tmp_path, change, match):
  workdir = tmp_path / "new"
  with pytest.raises(ValueError, match=match):
    loop.run(loop.Settings.of(**dict(TINY, **change)), str(workdir),
             progress=False, log=lambda s: None)
  assert not workdir.exists()


def test_failure_in_the_first_round_leaves_no_workdir(tmp_path, monkeypatch):
  def broken_fit(*args, **kwargs):
    raise RuntimeError("boom")

  monkeypatch.setattr(train, "fit", broken_fit)
  with pytest.raises(RuntimeError, match="boom"):
    loop.run(loop.Settings.of(**TINY), str(tmp_path / "w"), progress=False,
             log=lambda s: None)
  assert not (tmp_path / "w").exists()


def test_warm_start_and_mc_acquisition_run(tmp_path):
  recs = loop.run(loop.Settings.of(**dict(TINY, rounds=2, warm_start=True,
                                       acquisition="bald", mc_samples=3)),
                  str(tmp_path / "w"), progress=False, log=lambda s: None)
  assert len(recs[0]["acquired"]) == 10
  assert acquisition.get("bald").uses_mc


def test_deepcluster_pretraining_is_saved_and_reused(tmp_path):
  settings = loop.Settings.of(**dict(TINY, rounds=2, pretrain="deepcluster",
                                  pretrain_epochs=2, pretrain_steps=5))
  logs = []
  first = loop.run(settings, str(tmp_path / "w"), progress=False,
                   log=logs.append)
  assert (tmp_path / "w" / "pretrained").is_dir()
  assert any("DeepCluster" in line for line in logs)
  # Fresh workdir, same settings: the same pretraining, the same run.
  again = loop.run(settings, str(tmp_path / "w2"), progress=False,
                   log=lambda s: None)
  assert ([metrics.without_timings(r) for r in first] ==
          [metrics.without_timings(r) for r in again])


def test_runs_differing_only_in_acquisition_share_their_pretraining(
    tmp_path):
  base = dict(TINY, rounds=2, pretrain="deepcluster", pretrain_epochs=2,
              pretrain_steps=5)
  shared = tmp_path / "shared"
  # The reference: margin's run with its own pretraining.
  alone = loop.run(loop.Settings.of(**base, acquisition="margin"),
                   str(tmp_path / "alone"), progress=False,
                   log=lambda s: None)
  logs = {"entropy": [], "margin": []}
  for acq, lines in logs.items():
    got = loop.run(loop.Settings.of(**base, acquisition=acq),
                   str(tmp_path / acq), progress=False, log=lines.append,
                   shared=str(shared))
  # entropy pretrained and saved; margin read entropy's copy and ran as it
  # would have alone.
  assert any("DeepCluster" in s and "saved to" in s for s in logs["entropy"])
  assert any("shared, read from" in s for s in logs["margin"])
  assert not any("DeepCluster" in s for s in logs["margin"])
  assert len(os.listdir(shared)) == 1
  assert ([metrics.without_timings(r) for r in got] ==
          [metrics.without_timings(r) for r in alone])


def test_fingerprint_ignores_only_the_named_keys():
  config = loop.Settings.of(**TINY).to_dict()
  same = workdir_lib.fingerprint({**config, "acquisition": "margin"},
                                 ignore=("acquisition",))
  assert same == workdir_lib.fingerprint(config, ignore=("acquisition",))
  for key, value in [("seed", 1), ("pool_size", 99), ("backbone", "mlp")]:
    assert workdir_lib.fingerprint({**config, key: value},
                                   ignore=("acquisition",)) != same


def test_augmentation_changes_training_only(tmp_path):
  plain = loop.run(loop.Settings.of(**dict(TINY, rounds=1)),
                   str(tmp_path / "a"),
                   progress=False, log=lambda s: None)
  aug = loop.run(loop.Settings.of(**dict(TINY, rounds=1, augment=True)),
                 str(tmp_path / "b"), progress=False, log=lambda s: None)
  assert plain[0]["labeled"] == aug[0]["labeled"]
  # Same keys and data: any difference comes from the augmented batches.
  assert plain[0]["train_accuracy"] != aug[0]["train_accuracy"]


def test_divergence_stops_the_run_and_keeps_finished_rounds(tmp_path,
                                                            monkeypatch):
  fit = train.fit
  calls = []

  def diverging_in_round_1(*args, **kwargs):
    state, result = fit(*args, **kwargs)
    calls.append(1)
    if len(calls) == 2:
      result = result._replace(stop_reason="diverged",
                               train_loss=float("nan"))
    return state, result

  monkeypatch.setattr(loop.train, "fit", diverging_in_round_1)
  workdir = str(tmp_path / "w")
  with pytest.raises(loop.DivergenceError, match=r"diverged in round 1 .*"
                     r"the 1 finished rounds are kept"):
    loop.run(loop.Settings.of(**TINY), workdir, progress=False,
             log=lambda s: None)
  with open(os.path.join(workdir, "failure.json")) as f:
    failure = json.load(f)
  assert failure["round"] == 1 and failure["train_loss"] == "nan"
  records = metrics.read_run(workdir)[1]
  assert [r["round"] for r in records] == [0]
  assert np.isfinite(records[0]["train_loss"]) and records[0]["train_loss"] > 0
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["0"]


def test_absurd_learning_rate_is_caught_as_divergence(tmp_path):
  with pytest.raises(loop.DivergenceError, match="diverged in round 0"):
    loop.run(loop.Settings.of(**dict(TINY, learning_rate=1e12)),
             str(tmp_path / "d"), progress=False, log=lambda s: None)
  # No round finished: nothing half-written is left.
  assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("damage", ["truncate_train_state", "empty_metrics",
                                    "delete_pool"])
def test_damaged_newest_checkpoint_falls_back_a_round(tiny_run, tmp_path,
                                                      damage):
  settings, workdir, records = tiny_run
  copy = str(tmp_path / "w")
  shutil.copytree(workdir, copy)
  newest = os.path.join(copy, "checkpoints", "2")
  if damage == "truncate_train_state":
    for folder, _, files in os.walk(os.path.join(newest, "train_state")):
      for name in files:
        with open(os.path.join(folder, name), "r+b") as f:
          f.truncate(max(0, os.path.getsize(f.name) // 2))
  elif damage == "empty_metrics":
    open(os.path.join(newest, "metrics", "metrics"), "w").close()
  else:
    shutil.rmtree(os.path.join(newest, "pool"))
  # A hand-edited metrics.jsonl is rebuilt from the checkpoints, too.
  with open(os.path.join(copy, metrics.METRICS_FILE), "w") as f:
    f.write("edited\n")
  lines = []
  again = loop.run(settings, copy, progress=False, log=lines.append)
  warnings = [line for line in lines if line.startswith("warning:")]
  assert len(warnings) == 1 and "round 2 is unreadable" in warnings[0]
  assert "resuming" in " ".join(lines) and "after round 1" in " ".join(lines)
  assert ([metrics.without_timings(r) for r in again]
          == [metrics.without_timings(r) for r in json.loads(
              json.dumps(records))])
  assert metrics.read_run(copy)[1] == json.loads(json.dumps(again))
  assert os.listdir(os.path.join(copy, "corrupt"))[0].startswith("round_2-")


def _last_checkpoint_logits(settings, workdir, x):
  """The saved last round's model's logits on `x` (NumPy), and the data."""
  ds = data.load("synthetic", **settings.data.dataset_kwargs)
  model = models.build("cnn", ds.num_classes, **settings.arch.backbone_kwargs)
  saved = checkpoint.read_round(os.path.join(workdir, "checkpoints"))
  variables = {"params": saved["train_state"]["params"],
               **saved["train_state"]["model_state"]}
  logits, _ = model.apply(variables, x, train=False)
  return np.asarray(logits, np.float64), ds, saved["round"]


def test_calibration_and_stopping_records_match_the_saved_model(tiny_run):
  # NumPy re-derivation from the last checkpoint: test accuracy, ECE (15
  # bins), NLL and Brier of the test split; the stop set's predictions
  # (every candidate: the tiny pool is smaller than the stop set) and
  # scikit-learn's kappa between the last two rounds.
  from scipy import special
  from sklearn.metrics import cohen_kappa_score
  settings, workdir, records = tiny_run
  ds = data.load("synthetic", **settings.data.dataset_kwargs)
  logits, ds, r = _last_checkpoint_logits(settings, workdir, ds.x_test)
  last = records[r]
  probs, y = special.softmax(logits, axis=1), np.asarray(ds.y_test)
  assert last["test_accuracy"] == np.mean(probs.argmax(1) == y)
  conf, hit = probs.max(1), probs.argmax(1) == y
  bins = np.clip(np.floor(conf * 15).astype(int), 0, 14)
  ece = sum(abs(hit[bins == b].sum() - conf[bins == b].sum())
            for b in range(15)) / len(y)
  cal = last["calibration"]
  assert cal["ece"] == pytest.approx(ece, abs=2e-5)
  assert cal["nll"] == pytest.approx(-np.log(probs[np.arange(len(y)), y])
                                     .mean(), abs=2e-5)
  assert cal["brier"] == pytest.approx(
      ((probs - np.eye(4)[y]) ** 2).sum(1).mean(), abs=2e-5)
  assert "temperature" not in cal
  pool0 = data.init_pool(jax.random.fold_in(jax.random.key(0), 0),
                         ds.y_train, initial=12, num_classes=4)
  stop_set = np.flatnonzero(np.asarray(pool0.candidate))
  stop_logits, _, _ = _last_checkpoint_logits(settings, workdir,
                                              ds.x_train[stop_set])
  stop = last["stopping"]
  assert stop["predictions"] == stop_logits.argmax(1).tolist()
  before = records[r - 1]["stopping"]["predictions"]
  assert stop["kappa"] == pytest.approx(
      cohen_kappa_score(before, stop["predictions"]), abs=1e-5)
  assert records[0]["stopping"]["kappa"] is None
  assert [x["stopping"]["kappa_mean"] for x in records] == [None] * 3
  assert "stopped_by" not in last


def test_stop_when_budget_ends_the_run_and_a_rerun_keeps_it(tiny_run,
                                                          tmp_path):
  settings, _, records = tiny_run
  lines = []
  stopped = loop.run(settings.replace(stop_when="budget", max_labels=22),
                     str(tmp_path / "w"), progress=False, log=lines.append)
  assert [r["labeled"] for r in stopped] == [12, 22]
  assert stopped[-1]["acquired"] is None
  assert stopped[-1]["stopped_by"] == "budget: 22 labels reached max_labels 22"
  assert "stopped after round 1: budget: 22 labels" in "\n".join(lines)
  # The rounds before the stop are the full run's.
  assert metrics.without_timings(stopped[0]) == metrics.without_timings(
      json.loads(json.dumps(records[0])))
  again = loop.run(settings.replace(stop_when="budget", max_labels=22),
                   str(tmp_path / "w"), progress=False, log=lambda s: None)
  assert again == json.loads(json.dumps(stopped))


@pytest.mark.parametrize("change, match", [
    (dict(stop_when="budget"), "stop_when 'budget' needs --max_labels"),
    (dict(stop_when="early"), "unknown stopping criterion 'early'; valid: "
                              "none, kappa, uncertainty, budget"),
    (dict(calibrate="platt"), "unknown calibration 'platt'; valid: none, "
                              "temperature"),
    (dict(calibrate="temperature", val_fraction=0.0),
     "calibrate 'temperature' fits on the validation split"),
])
def test_bad_calibration_or_stopping_settings_write_nothing(tmp_path, change,
                                                           match):
  with pytest.raises(ValueError, match=match):
    loop.run(loop.Settings.of(**TINY, **change), str(tmp_path / "w"),
             progress=False)
  assert not os.path.exists(tmp_path / "w")


def test_temperature_scaling_feeds_the_acquisition(tmp_path):
  # Round 0's pick is the top entropy of the saved model's probabilities
  # scaled by the recorded temperature (NumPy), which the validation
  # split's NLL fixes (SciPy's scalar minimiser agrees).
  from scipy import optimize, special
  # A model that learns (TINY's stays near chance, where no finite
  # temperature is best).
  settings = loop.Settings.of(**{**TINY, "rounds": 2, "initial": 40,
                                 "max_epochs": 12, "patience": 12,
                                 "learning_rate": 1e-2},
                              calibrate="temperature")
  workdir = str(tmp_path / "w")
  records = loop.run(settings, workdir, progress=False, log=lambda s: None)
  t = records[0]["calibration"]["temperature"]
  assert set(records[1]["calibration"]["scaled"]) == {"ece", "nll", "brier"}
  ds = data.load("synthetic", **settings.data.dataset_kwargs)
  model = models.build("cnn", ds.num_classes, **settings.arch.backbone_kwargs)
  ckpt = checkpoint.read_round(os.path.join(workdir, "checkpoints"), 0)
  variables = {"params": ckpt["train_state"]["params"],
               **ckpt["train_state"]["model_state"]}
  pool0 = data.init_pool(jax.random.fold_in(jax.random.key(0), 0),
                         ds.y_train, initial=40, num_classes=4)
  val = np.flatnonzero(np.asarray(pool0.validation))
  logits = np.asarray(model.apply(variables, ds.x_train, train=False)[0],
                      np.float64)
  y = np.asarray(ds.y_train)

  def nll(temp):
    z = special.log_softmax(logits[val] / temp, axis=1)
    return -z[np.arange(len(val)), y[val]].mean()

  best = optimize.minimize_scalar(nll, bounds=(0.01, 100), method="bounded")
  assert records[0]["test_accuracy"] > 0.5, records[0]
  assert 0.05 < best.x < 50 and t == pytest.approx(best.x, rel=2e-3)
  scaled = special.softmax(logits / t, axis=1)
  ent = -(scaled * np.log(np.clip(scaled, 1e-30, 1))).sum(1)
  ent = np.where(np.asarray(data.available(pool0)), ent, -np.inf)
  want = np.argsort(-ent, kind="stable")[:10]
  assert len(set(want.tolist()) & set(records[0]["acquired"])) >= 9
