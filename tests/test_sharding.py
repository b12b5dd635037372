"""A device mesh gives the one-device results: on 4 emulated CPU devices (a
subprocess with `--xla_force_host_platform_device_count=4`), a training
round, BALD scores, coreset and BADGE selections and a 3-round focus1 run
are compared with the same computations on one device.

Tolerances: sharded steps reduce in another order (gradients summed per
device then across devices; BatchNorm statistics likewise), about 1e-7 a
step and growing through BatchNorm over a round: parameters after one
round (16 SGD steps) agree to atol 2e-3 (8e-4 seen) and its validation
accuracy is equal;
scoring the same weights, probabilities and BALD scores agree to 1e-6;
integer results (selections, correct counts) and a run's records are
equal."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

FOCUS1 = ["--dataset", "synthetic", "--dataset_kwargs",
          '{"num_train": 200, "num_test": 48, "shape": [8, 8, 1], '
          '"num_classes": 3, "noise": 0.5, "seed": 5}', "--rounds", "3",
          "--initial", "12", "--acquire", "8", "--batch_size", "16",
          "--max_epochs", "2", "--acquisition", "badge", "--complexity",
          "none", "--noprogress", "--backbone_kwargs",
          '{"depth": 1, "width": 4}']


def _checks() -> dict:
  """Runs in the 4-device subprocess; returns the comparisons."""
  import jax
  import jax.numpy as jnp

  from jaxdal import (
    acquisition,
    data,
    models,
    optim,
    predict,
    sharding,
    train,
  )

  assert jax.device_count() == 4, jax.devices()
  mesh = sharding.make_mesh()
  out = {}
  ds = data.synthetic(num_train=200, num_test=48, shape=(8, 8, 1),
                      num_classes=3, noise=0.5, seed=5)
  model = models.build("cnn", 3, depth=2, width=8, dropout_rate=0.5)
  tx = optim.make_optimizer("sgd", learning_rate=0.05)

  def one_round(scored=None):
    trainer = train.make_trainer(model, tx)
    x, y = sharding.replicated((jnp.asarray(ds.x_train),
                                jnp.asarray(ds.y_train)))
    state = train.init_state(model, tx, jax.random.key(0), ds.input_shape)
    # Batches of 12: padded to 12 (3 per device); the last batch of the
    # 90 examples is cyclically padded as on one device.
    state, fit = train.fit(trainer, state, x, y, np.arange(90),
                           np.arange(150, 200), jax.random.key(1),
                           batch_size=12, max_epochs=2, learning_rate=0.05,
                           patience=5, target_train_accuracy=None,
                           progress=False)
    variables = {"params": state.params, **state.model_state}
    # Scoring and selection start from the one-device weights, so that they
    # are compared alone.
    scored = variables if scored is None else sharding.replicated(scored)
    predictor = predict.make_predictor(model, mc_samples=4, chunk=64)
    probs = predict.predict_probs(predictor, scored, x, jax.random.key(2),
                                  np.arange(100, 200))
    feats = predict.features(predictor, scored, x, np.arange(100, 200))
    bald = acquisition.scores.bald(probs)
    avail = np.ones(100, bool)
    labeled = np.zeros(100, bool)
    labeled[:5] = True
    avail[:5] = False
    picks = {
        "bald": acquisition.get("bald").select(
            None, 10, avail, probs=probs),
        "coreset": acquisition.kcenter_greedy(None, 10, avail,
                                              features=feats,
                                              labeled=labeled),
        "badge": acquisition.badge(jax.random.key(3), 10, avail,
                                   probs=probs.mean(0), features=feats)}
    return (jax.device_get(variables), fit.val_accuracy,
            np.asarray(probs), np.asarray(bald),
            {k: np.asarray(v).tolist() for k, v in picks.items()})

  single = one_round()
  with sharding.using(mesh):
    sharded = one_round(single[0])
  leaves = zip(jax.tree.leaves(single[0]), jax.tree.leaves(sharded[0]),
               strict=True)
  out["params_max_abs"] = max(float(np.max(np.abs(a - b))) for a, b in leaves)
  out["val_accuracy"] = [single[1], sharded[1]]
  out["probs_max_abs"] = float(np.max(np.abs(single[2] - sharded[2])))
  out["bald_max_abs"] = float(np.max(np.abs(single[3] - sharded[3])))
  out["picks"] = [single[4], sharded[4]]

  return out


@pytest.mark.slow
def test_four_devices_equal_one(tmp_path, subprocess_env):
  env = dict(subprocess_env,
             XLA_FLAGS="--xla_force_host_platform_device_count=4")
  env.pop("JAX_DISABLE_MOST_OPTIMIZATIONS", None)
  run = subprocess.run(
      [sys.executable, "-c", "import json; from tests.test_sharding import "
       "_checks; print('RESULT ' + json.dumps(_checks()))"], cwd=REPO,
      env=env, capture_output=True, text=True, timeout=900)
  assert run.returncode == 0, run.stderr[-3000:]
  line = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
  out = json.loads(line[-1][7:])
  assert out["params_max_abs"] < 2e-3, out
  assert out["val_accuracy"][0] == out["val_accuracy"][1]
  assert out["probs_max_abs"] < 1e-6 and out["bald_max_abs"] < 1e-6, out
  assert out["picks"][0] == out["picks"][1]

  # A 3-round focus1 run, on one device and with --mesh over four.
  records = []
  for name, extra in (("one", []), ("four", ["--mesh"])):
    workdir = tmp_path / name
    cli = subprocess.run(
        [sys.executable, "-m", "experiments.focus1", *FOCUS1, *extra,
         "--workdir", str(workdir)], cwd=REPO, env=env, capture_output=True,
        text=True, timeout=900)
    assert cli.returncode == 0, cli.stderr[-3000:]
    with open(workdir / "metrics.jsonl") as f:
      lines = [json.loads(line) for line in f]
    # Sharded steps too compile in round 0 only.
    assert [r["time"]["compilations"] for r in lines[1:]] == [0, 0], name
    records.append([{k: r[k] for k in ("labeled", "acquired",
                                       "test_accuracy", "val_accuracy",
                                       "epochs")} for r in lines])
  assert len(records[0]) == 3 and records[0] == records[1]


def test_distributed_settings_from_the_environment():
  from jaxdal import sharding
  assert sharding.distributed_settings({}) is None
  assert sharding.distributed_settings({
      "JAX_COORDINATOR_ADDRESS": "localhost:1234", "JAX_NUM_PROCESSES": "2",
      "JAX_PROCESS_ID": "1"}) == {"coordinator_address": "localhost:1234",
                                  "num_processes": 2, "process_id": 1}
  with pytest.raises(ValueError, match="JAX_NUM_PROCESSES set but "
                     "JAX_COORDINATOR_ADDRESS, JAX_PROCESS_ID not"):
    sharding.distributed_settings({"JAX_NUM_PROCESSES": "2"})
  with pytest.raises(ValueError, match=r"JAX_PROCESS_ID=2 must be in \[0, "
                     r"JAX_NUM_PROCESSES=2\)"):
    sharding.distributed_settings({
        "JAX_COORDINATOR_ADDRESS": "h:1", "JAX_NUM_PROCESSES": "2",
        "JAX_PROCESS_ID": "2"})


def test_padded_batch_masks_the_padding():
  from jaxdal import sharding
  from jaxdal.sharding import make_mesh
  with sharding.using(make_mesh()):
    n = sharding.size()
    idx, mask = sharding.padded_batch(np.arange(5, 10), np.ones(5, bool))
  assert len(idx) % n == 0 and len(idx) >= 5
  np.testing.assert_array_equal(idx[:5], np.arange(5, 10))
  assert mask.sum() == 5 and mask[:5].all()


def _free_port() -> int:
  import socket
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path, subprocess_env):
  """Two local processes under jax.distributed (CPU, gloo), one device
  each: one metrics.jsonl (process 0 writes), the single-process records
  (the training loss to 1e-5: reduction order)."""
  args = [sys.executable, "-m", "experiments.focus1", *FOCUS1[:4],
          "--rounds", "2", *FOCUS1[6:]]
  address = f"localhost:{_free_port()}"
  procs = [subprocess.Popen(
      [*args, "--workdir", str(tmp_path / "two")], cwd=REPO,
      env=dict(subprocess_env, JAX_COORDINATOR_ADDRESS=address,
               JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs[0][1][-3000:]
  # Process 1 prints nothing of its own (gloo's connection line aside).
  assert "final test accuracy" in outs[0][0]
  assert "network:" not in outs[1][0] and "final" not in outs[1][0]
  one = subprocess.run([*args, "--workdir", str(tmp_path / "one")],
                       cwd=REPO, env=subprocess_env, capture_output=True,
                       text=True, timeout=600)
  assert one.returncode == 0, one.stderr[-3000:]
  runs = []
  for name in ("one", "two"):
    with open(tmp_path / name / "metrics.jsonl") as f:
      runs.append([json.loads(line) for line in f])
  assert len(runs[0]) == len(runs[1]) == 2
  for a, b in zip(*runs, strict=True):
    for key in ("labeled", "acquired", "test_accuracy", "val_accuracy",
                "epochs"):
      assert a[key] == b[key], key
    assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
