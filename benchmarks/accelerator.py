r"""Checks and measures jaxdal on an accelerator, in one command that fits a
short device lease (under 8 minutes on one H100/H200-class GPU):

  pip install -e . && pip install -r requirements-gpu.txt   # once
  python benchmarks/accelerator.py --out $OUT
  python benchmarks/accelerator.py --smoke --out /tmp/acc    # CPU, < 3 min

Sections, each in its own process with a time cap, each one JSON line:

1. `backend`: backend, device kind and count, versions.
2. `correctness`: the tests marked `accelerator` (the learner and the round
   loop), then the quick focus1 run and the main job (focus2 BBDropout),
   whose final accuracies must be within `TOLERANCE` points of the CPU's
   (`CPU_REFERENCE`; the spread between two CPU models is up to 2 points).
3. `throughput`: training images/s of cnn, ResNet-18 and VGG-11 (batch 128,
   32x32x3), float32 and bf16 compute, against PyTorch on the same device
   when `torch` with CUDA imports.
4. `seeds`: S = 1, 4, 8, 16 seeds trained together (one vmapped step):
   images/s per seed.
5. `selection`: coreset and BADGE on 10^6 x 512 features, k = 1,000: time
   and peak device memory.
6. `paper_round`: one round of `--preset paper` BBDropout on Fashion-MNIST,
   cut to 10 epochs: epochs per second and the hours the 25 rounds would
   take at most.
7. `cells`: the `smoke` grid (2 acquisitions x 2 seeds, synthetic data)
   one cell after another and with `--vmap_cells` (the four trained as
   one vmapped step): wall time of each and their ratio.

Writes `OUT/accelerator.json` (the lines) and `OUT/accelerator.md` (a
table). It installs nothing; with no accelerator it says how to get one
(`--smoke` runs everything at tiny sizes on the CPU instead). Nothing here
is CUDA-specific but the PyTorch comparison, so it runs on a TPU VM too.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTIONS = ("backend", "correctness", "throughput", "seeds", "selection",
            "paper_round", "cells")
# Seconds each section may take (full, smoke): the full caps add up to
# 8 minutes; the smoke caps leave room for a slow CI host (the smoke run
# takes about 3 minutes in all on a 2-core AMD EPYC).
CAPS = {"backend": (45, 60), "correctness": (135, 300),
        "throughput": (75, 150), "seeds": (60, 120), "selection": (60, 90),
        "paper_round": (60, 150), "cells": (45, 150)}
SETUP = "pip install -e . && pip install -r requirements-gpu.txt"
# Final test accuracy of the correctness runs on the CPU ("AMD EPYC", 2
# cores, jax 0.10.2: `python -m experiments.focus1` and `python -m
# experiments.focus2 --method bbdropout`, quick preset), and how far
# another device may be from them (the spread between two CPU models is up
# to 2 points). The smoke runs (tiny synthetic data) are not compared.
CPU_REFERENCE = {"focus1_quick": 0.96, "focus2_bbdropout_quick": 0.951}
TOLERANCE = 0.03


def _jax_info() -> dict:
  import jax
  devices = jax.devices()
  import flax
  import optax
  return {"backend": jax.default_backend(),
          "device_kind": devices[0].device_kind, "devices": len(devices),
          "jax": jax.__version__, "flax": flax.__version__,
          "optax": optax.__version__}


def backend(smoke: bool) -> dict:
  info = _jax_info()
  if info["backend"] == "cpu" and not smoke:
    info["error"] = (f"jax sees no accelerator; install the CUDA build "
                     f"first: {SETUP} (or pass --smoke)")
  return info


def _final_accuracy(workdir: str) -> float:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f][-1]["test_accuracy"]


def _cli(args: list[str]) -> float:
  env = {**os.environ, "HF_HUB_OFFLINE": "1", "JAXDAL_COMPILE_CACHE": "off"}
  subprocess.run([sys.executable, "-m", *args, "--noprogress"], check=True,
                 cwd=ROOT, env=env, capture_output=True, text=True)
  return _final_accuracy(args[args.index("--workdir") + 1])


def correctness(smoke: bool) -> dict:
  out = {}
  tests = subprocess.run(
      [sys.executable, "-m", "pytest", "-q", "-m", "accelerator", "-p",
       "no:cacheprovider", "tests"], cwd=ROOT, capture_output=True,
      text=True)
  out["tests"] = tests.stdout.strip().splitlines()[-1]
  out["tests_ok"] = tests.returncode == 0
  tiny = ["--dataset", "synthetic", "--rounds", "2", "--initial", "40",
          "--acquire", "40", "--max_epochs", "5"]
  runs = {"focus1": ["experiments.focus1"],
          "focus2": ["experiments.focus2", "--method", "bbdropout"]}
  with tempfile.TemporaryDirectory() as tmp:
    for name, cmd in runs.items():
      key = f"smoke_{name}" if smoke else (
          "focus1_quick" if name == "focus1" else "focus2_bbdropout_quick")
      t0 = time.perf_counter()
      acc = _cli([*cmd, *(tiny if smoke else []), "--workdir",
                  os.path.join(tmp, name)])
      ref = CPU_REFERENCE.get(key)
      out[key] = {"accuracy": acc, "cpu": ref,
                  "seconds": round(time.perf_counter() - t0, 1),
                  "ok": smoke or abs(acc - ref) <= TOLERANCE}
  out["ok"] = out["tests_ok"] and all(
      v["ok"] for v in out.values() if isinstance(v, dict))
  return out


def _bf16_loss(model):
  """The cross-entropy loss with parameters and inputs cast to bfloat16
  for the forward pass (float32 master weights and loss)."""
  import jax
  import jax.numpy as jnp

  from jaxdal import losses
  plain = losses.cross_entropy_loss(model)

  def half(tree):
    return jax.tree.map(lambda a: a.astype(jnp.bfloat16)
                        if a.dtype == jnp.float32 else a, tree)

  def loss_fn(params, model_state, x, y, weights, key, n_train):
    return plain(half(params), model_state, half(x), y, weights, key,
                 n_train)
  return loss_fn


def _jax_images_per_s(name: str, batch: int, steps: int, bf16: bool,
                      shape=(32, 32, 3)) -> float:
  import jax
  import jax.numpy as jnp

  from jaxdal import models, optim, train
  kwargs = {"depth": 5, "width": 64} if name == "cnn" else {}
  model = models.build(name, 10, **kwargs)
  tx = optim.make_optimizer("sgd", learning_rate=0.01, weight_decay=5e-4)
  trainer = train.make_trainer(model, tx, _bf16_loss(model) if bf16
                               else None)
  state = train.set_learning_rate(
      train.init_state(model, tx, jax.random.key(0), shape), 0.01)
  x = jax.random.normal(jax.random.key(1), (batch, *shape))
  y = jnp.arange(batch) % 10
  idx, mask, n = jnp.arange(batch), jnp.ones(batch, bool), jnp.float32(batch)
  for i in range(steps + 2):
    if i == 2:  # two warm-up steps (compilation)
      jax.block_until_ready(state)
      t0 = time.perf_counter()
    state, _ = trainer.train_step(state, x, y, idx, mask, jax.random.key(i),
                                  n)
  jax.block_until_ready(state)
  return round(batch * steps / (time.perf_counter() - t0), 1)


def _torch_images_per_s(name: str, batch: int, steps: int) -> float | None:
  try:
    import torch
  except ImportError:
    return None
  if not torch.cuda.is_available():
    return None
  sys.path.insert(0, HERE)
  import train as train_bench  # benchmarks/train.py: the mirrored models
  model = train_bench._torch_model(name).cuda()
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                        weight_decay=5e-4)
  x = torch.randn(batch, 3, 32, 32, device="cuda")
  y = torch.arange(batch, device="cuda") % 10
  for i in range(steps + 2):
    if i == 2:
      torch.cuda.synchronize()
      t0 = time.perf_counter()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
  torch.cuda.synchronize()
  return round(batch * steps / (time.perf_counter() - t0), 1)


def throughput(smoke: bool) -> dict:
  names = ("cnn",) if smoke else ("cnn", "resnet18", "vgg11")
  batch, steps = (8, 2) if smoke else (128, 50)
  out = {}
  for name in names:
    out[name] = {"jax_f32": _jax_images_per_s(name, batch, steps, False),
                 "jax_bf16": _jax_images_per_s(name, batch, steps, True),
                 "torch_f32": _torch_images_per_s(name, batch, steps)}
  return {"batch": batch, "images_per_s": out}


def seeds(smoke: bool) -> dict:
  import jax
  import jax.numpy as jnp

  from jaxdal import models, optim, train
  from jaxdal import seeds as seeds_lib
  counts, batch, steps = ((1, 2), 8, 2) if smoke else ((1, 4, 8, 16), 128,
                                                       30)
  model = models.build("cnn", 10)
  tx = optim.make_optimizer("adam", learning_rate=1e-3)
  group = seeds_lib.together(model, tx)
  x = jax.random.normal(jax.random.key(1), (batch, 28, 28, 1))
  y = jnp.arange(batch) % 10
  out = {}
  for s in counts:
    states = [train.init_state(model, tx, jax.random.key(i), (28, 28, 1))
              for i in range(s)]
    stacked = group.gather(states)
    idx = jnp.tile(jnp.arange(batch), (s, 1))
    mask = jnp.ones((s, batch), bool)
    roots, n = group.prepare([jax.random.key(i) for i in range(s)], batch)
    stacked, live = group.begin_epoch(stacked, None, [True] * s)
    for i in range(steps + 2):
      if i == 2:
        jax.block_until_ready(stacked)
        t0 = time.perf_counter()
      stacked, _ = group.train(stacked, x, y, idx, mask, roots, i, n, live)
    jax.block_until_ready(stacked)
    out[s] = round(batch * steps / (time.perf_counter() - t0), 1)
  return {"images_per_s_per_seed": out}


def _peak_bytes() -> int | None:
  import jax
  stats = jax.devices()[0].memory_stats() or {}
  return stats.get("peak_bytes_in_use")


def selection(smoke: bool) -> dict:
  sys.path.insert(0, HERE)
  import acquisition as acq_bench  # benchmarks/acquisition.py
  n, d, k = (2000, 32, 10) if smoke else (1_000_000, 512, 1000)
  feats, probs, _, labeled = acq_bench.make_inputs(n, d, 10, 2, 1000
                                                   if not smoke else 20)
  out = {"n": n, "d": d, "k": k}
  for name, fn in (("coreset", acq_bench.jaxdal_coreset),
                   ("badge", acq_bench.jaxdal_badge)):
    _, seconds, first = fn(feats, probs, None, labeled, k)
    out[name] = {"seconds": round(seconds, 2),
                 "with_compile_s": round(first, 2),
                 "peak_device_bytes": _peak_bytes()}
  return out


def paper_round(smoke: bool) -> dict:
  """The paper preset's first round, cut to a few epochs: epochs per
  second, and the hours 25 rounds of the preset's most epochs would take
  (an upper bound: its stopping rule usually stops earlier)."""
  from experiments.configs import focus2 as focus2_config
  from jaxdal import data
  paper = focus2_config.get_config("paper")
  epochs = 2 if smoke else 10
  dataset = "synthetic" if smoke else "fashion_mnist"
  try:  # a device machine may lack the full Fashion-MNIST
    data.load(dataset)
  except data.DatasetNotFoundError:
    dataset = "mnist5k"
  with tempfile.TemporaryDirectory() as tmp:
    cmd = ["experiments.focus2", "--method", "bbdropout", "--rounds", "1",
           "--max_epochs", str(epochs), "--patience", str(epochs),
           "--workdir", os.path.join(tmp, "p")]
    cmd += (["--dataset", dataset, "--initial", "20"] if smoke
            else ["--preset", "paper", "--dataset", dataset])
    t0 = time.perf_counter()
    _cli(cmd)
    seconds = time.perf_counter() - t0
    with open(os.path.join(tmp, "p", "metrics.jsonl")) as f:
      ran = json.loads(f.readline())["epochs"]
  rate = ran / seconds
  return {"dataset": dataset, "round_s": round(seconds, 1), "epochs": ran,
          "epochs_per_s": round(rate, 3),
          "hours_for_25_rounds_at_most": round(
              paper.rounds * paper.max_epochs / rate / 3600, 1)}


def cells(smoke: bool) -> dict:
  """The `smoke` grid's four cells (two with `--smoke`) one by one and
  with `--vmap_cells`:
  seconds each way (process start and compilation included, as a grid
  task pays them) and the final accuracies of both."""
  # Smoke: two of the cells (seed 0), tiny network and data.
  tiny = ["--backbone_kwargs", '{"depth": 1, "width": 4}', "--max_epochs",
          "2", "--dataset_kwargs", '{"num_train": 300, "num_test": 64}',
          "--cells", "*_s0"]
  out = {}
  with tempfile.TemporaryDirectory() as tmp:
    for name, extra in (("one_by_one", []), ("vmap_cells", ["--vmap_cells"])):
      workdir = os.path.join(tmp, name)
      cmd = ["experiments.focus1", "--grid", "smoke", "--rounds", "2",
             "--complexity", "none", "--workdir", workdir,
             *(tiny if smoke else []), *extra]
      t0 = time.perf_counter()
      env = {**os.environ, "HF_HUB_OFFLINE": "1",
             "JAXDAL_COMPILE_CACHE": "off"}
      subprocess.run([sys.executable, "-m", *cmd, "--noprogress"],
                     check=True, cwd=ROOT, env=env, capture_output=True,
                     text=True)
      out[name] = {"seconds": round(time.perf_counter() - t0, 1),
                   "final_accuracy": {
                       cell: _final_accuracy(os.path.join(workdir, cell))
                       for cell in sorted(os.listdir(workdir))
                       if os.path.isfile(os.path.join(
                           workdir, cell, "metrics.jsonl"))}}
  out["speedup"] = round(out["one_by_one"]["seconds"]
                         / out["vmap_cells"]["seconds"], 2)
  return out


def _child(section: str, smoke: bool) -> None:
  result = globals()[section](smoke)
  print("RESULT " + json.dumps(result, default=str), flush=True)


def _run_section(section: str, smoke: bool) -> dict:
  cap = CAPS[section][1 if smoke else 0]
  t0 = time.perf_counter()
  try:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", section]
        + (["--smoke"] if smoke else []), capture_output=True, text=True,
        timeout=cap, cwd=ROOT)
  except subprocess.TimeoutExpired:
    return {"section": section, "ok": False, "error": f"over {cap} s"}
  seconds = round(time.perf_counter() - t0, 1)
  lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
  if proc.returncode or not lines:
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"section": section, "ok": False, "seconds": seconds,
            "error": " | ".join(tail)}
  result = json.loads(lines[-1][7:])
  ok = "error" not in result and result.get("ok", True)
  return {"section": section, "ok": ok, "seconds": seconds,
          "result": result}


def markdown(lines: list[dict], info: dict) -> str:
  """The results as a Markdown table."""
  head = (f"Device: {info.get('device_kind', '?')} x "
          f"{info.get('devices', '?')} ({info.get('backend', '?')}), jax "
          f"{info.get('jax', '?')}\n\n| section | ok | seconds | result |\n"
          "|---|---|---|---|\n")
  rows = []
  for line in lines:
    what = line.get("error") or json.dumps(line.get("result"))
    rows.append(f"| {line['section']} | {'yes' if line['ok'] else 'NO'} | "
                f"{line.get('seconds', '')} | `{what}` |")
  return head + "\n".join(rows) + "\n"


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--out", default=os.environ.get("OUT", "accelerator_out"))
  ap.add_argument("--smoke", action="store_true",
                  help="every section at tiny sizes, on any backend")
  ap.add_argument("--only", default="", help="comma-separated sections")
  ap.add_argument("--child", default="", help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    _child(args.child, args.smoke)
    return
  chosen = [s for s in SECTIONS if not args.only
            or s in args.only.split(",")]
  os.makedirs(args.out, exist_ok=True)
  lines, t_all = [], time.perf_counter()
  for section in chosen:
    line = _run_section(section, args.smoke)
    lines.append(line)
    print(json.dumps(line), flush=True)
    if section == "backend" and not line["ok"]:
      break  # no accelerator: nothing else to measure
  info = next((ln.get("result", {}) for ln in lines
               if ln["section"] == "backend"), {})
  with open(os.path.join(args.out, "accelerator.json"), "w") as f:
    f.write("".join(json.dumps(ln) + "\n" for ln in lines))
  table = markdown(lines, info)
  with open(os.path.join(args.out, "accelerator.md"), "w") as f:
    f.write(table)
  print(table)
  print(f"total {time.perf_counter() - t_all:.0f} s; results in {args.out}")
  sys.exit(0 if all(ln["ok"] for ln in lines) else 1)


if __name__ == "__main__":
  main()
