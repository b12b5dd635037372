r"""Training and inference throughput (images/s) of jaxdal backbones against
the same networks in PyTorch, on 32x32x3 batches of 128.

  python benchmarks/train.py                       # jaxdal only
  python benchmarks/train.py --torch_python /work/benchvenv/bin/python
  python benchmarks/train.py --shape 28,28,1 --models resnet18 --steps 0

Each framework runs in its own process: warm-up steps (compilation for
jaxdal), then timed SGD steps (forward, backward, update) on a fixed random
batch. Inference is scoring: `--infer` images through
`predict.probs_and_features` in 1,024-row chunks (BADGE's pass), computed
whole ("infer_whole", what jaxdal did before micro-batches) and in
cache-sized micro-batches ("infer", the default), best of `--repeats`,
measured alternately in one process; PyTorch: `model.eval()` under
`torch.no_grad()` in batches of 128. The PyTorch models mirror jaxdal's:
`cnn` (5x5 stem + average pool, residual 3x3 blocks with
LeakyReLU/BatchNorm, residual dense head),
ResNet-18 and VGG-11 from benchmarks/reference/param_counts_torch.py.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ("cnn", "resnet18", "vgg11")


def jax_inference(name, shape, images, repeats):
  """`{"infer": images/s, "infer_whole": images/s}` of BADGE's scoring
  pass, micro-batched (the default) and whole 1,024-row chunks."""
  import jax

  from jaxdal import models, optim, predict, train
  kwargs = {"depth": 5, "width": 64} if name == "cnn" else {}
  model = models.build(name, 10, **kwargs)
  tx = optim.make_optimizer("sgd", learning_rate=0.01)
  state = train.init_state(model, tx, jax.random.key(0), shape)
  variables = {"params": state.params, **state.model_state}
  x = jax.random.normal(jax.random.key(1), (images, *shape))
  predictors = {"infer": predict.make_predictor(model, chunk=1024),
                "infer_whole": predict.make_predictor(model, chunk=1024,
                                                      cache_bytes=None)}
  best = dict.fromkeys(predictors, float("inf"))
  for rep in range(repeats + 1):  # the first pass compiles
    for label, predictor in predictors.items():
      t0 = time.perf_counter()
      jax.block_until_ready(predict.probs_and_features(
          predictor, variables, x, jax.random.key(0)))
      if rep:
        best[label] = min(best[label], time.perf_counter() - t0)
  return {label: images / t for label, t in best.items()}


def torch_inference(name, shape, images, repeats):
  """`{"infer": images/s}` of `model.eval()` under `no_grad`, batches of
  128."""
  import torch
  model = _torch_model(name)
  model.eval()
  x = torch.randn(images, shape[2], shape[0], shape[1])
  best = float("inf")
  with torch.no_grad():
    for rep in range(repeats + 1):
      t0 = time.perf_counter()
      for batch in torch.split(x, 128):
        model(batch)
      if rep:
        best = min(best, time.perf_counter() - t0)
  return {"infer": images / best}


def jax_throughput(name, batch, steps, warmup, shape=(32, 32, 3)):
  import jax
  import jax.numpy as jnp

  from jaxdal import models, optim, train
  kwargs = {"depth": 5, "width": 64} if name == "cnn" else {}
  model = models.build(name, 10, **kwargs)
  tx = optim.make_optimizer("sgd", learning_rate=0.01, weight_decay=5e-4)
  trainer = train.make_trainer(model, tx)
  state = train.set_learning_rate(
      train.init_state(model, tx, jax.random.key(0), shape), 0.01)
  x = jax.random.normal(jax.random.key(1), (batch, *shape))
  y = jnp.arange(batch) % 10
  idx, mask, n = jnp.arange(batch), jnp.ones(batch, bool), jnp.float32(batch)
  for i in range(warmup):
    state, out = trainer.train_step(state, x, y, idx, mask,
                                    jax.random.key(i), n)
  jax.block_until_ready(state)
  t0 = time.perf_counter()
  for i in range(steps):
    state, out = trainer.train_step(state, x, y, idx, mask,
                                    jax.random.key(i), n)
  jax.block_until_ready(state)
  return batch * steps / (time.perf_counter() - t0)


def _torch_model(name):
  import torch
  from torch import nn
  sys.path.insert(0, os.path.join(HERE, "reference"))
  import param_counts_torch as ref

  torch.manual_seed(0)

  class CNN(nn.Module):
    def __init__(self, depth=5, width=64):
      super().__init__()
      self.stem = nn.Conv2d(3, width, 5, padding=1, bias=False)
      self.norms = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(depth))
      self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1,
                                           bias=False)
                                 for _ in range(depth - 1))
      self.mlp, self.mlp_norm = nn.Linear(width, width), nn.BatchNorm1d(width)
      self.drop, self.head = nn.Dropout(0.3), nn.Linear(width, 10)
      self.act = nn.LeakyReLU(0.01)

    def forward(self, x):
      h = nn.functional.avg_pool2d(self.norms[0](self.act(self.stem(x))), 2)
      for conv, norm in zip(self.convs, self.norms[1:], strict=True):
        h = h + norm(self.act(conv(h)))
      g = h.mean((2, 3))
      g = g + self.mlp_norm(self.act(self.mlp(g)))
      return self.head(self.drop(g))

  class ResNet(nn.Module):
    def __init__(self):
      super().__init__()
      seq = ref.resnet(ref.Basic, (2, 2, 2, 2))
      self.stem, self.bn = seq[0], seq[1]
      self.blocks = nn.ModuleList(seq[2:-1])
      self.fc = seq[-1]

    def forward(self, x):
      h = torch.relu(self.bn(self.stem(x)))
      for b in self.blocks:
        out = torch.relu(b.b1(b.c1(h)))
        out = b.b2(b.c2(out))
        h = torch.relu(out + b.short(h))
      return self.fc(h.mean((2, 3)))

  class VGG(nn.Module):
    def __init__(self):
      super().__init__()
      seq = ref.vgg("vgg11")
      self.features = nn.Sequential(*[m for m in seq
                                      if not isinstance(m, (nn.Linear,
                                                            nn.Flatten))
                                      ][:-1])
      self.fc = nn.Sequential(nn.Linear(512, 4096), nn.ReLU(),
                              nn.Linear(4096, 4096), nn.ReLU(),
                              nn.Linear(4096, 1000), nn.ReLU(),
                              nn.Linear(1000, 10))

    def forward(self, x):
      return self.fc(self.features(x).mean((2, 3)))

  return {"cnn": CNN, "resnet18": ResNet, "vgg11": VGG}[name]()


def torch_throughput(name, batch, steps, warmup, shape=(32, 32, 3)):
  import torch
  from torch import nn
  model = _torch_model(name)
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                        weight_decay=5e-4)
  x = torch.randn(batch, shape[2], shape[0], shape[1])
  y = torch.arange(batch) % 10
  model.train()

  def step():
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

  for _ in range(warmup):
    step()
  t0 = time.perf_counter()
  for _ in range(steps):
    step()
  return batch * steps / (time.perf_counter() - t0)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--batch", type=int, default=128)
  ap.add_argument("--steps", type=int, default=10,
                  help="timed training steps (0: no training column)")
  ap.add_argument("--warmup", type=int, default=2)
  ap.add_argument("--infer", type=int, default=1024,
                  help="images scored (0: no inference columns)")
  ap.add_argument("--repeats", type=int, default=2,
                  help="timed inference passes (best is kept)")
  ap.add_argument("--shape", default="32,32,3", help="H,W,C of an image")
  ap.add_argument("--models", default=",".join(MODELS))
  ap.add_argument("--torch_python", default="")
  ap.add_argument("--child", default="")
  ap.add_argument("--model", default="")
  args = ap.parse_args()
  shape = tuple(int(v) for v in args.shape.split(","))
  if args.child:
    result = {}
    if args.steps:
      fn = jax_throughput if args.child == "jax" else torch_throughput
      result["train"] = fn(args.model, args.batch, args.steps, args.warmup,
                           shape)
    if args.infer:
      fn = jax_inference if args.child == "jax" else torch_inference
      result.update(fn(args.model, shape, args.infer, args.repeats))
    print("RESULT " + json.dumps(result))
    return
  torch_python = args.torch_python if shape[2] == 3 else ""
  for name in args.models.split(","):
    row = {"model": name, "shape": args.shape}
    for fw, python in (("jax", sys.executable), ("torch", torch_python)):
      if not python:
        continue
      env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
      out = subprocess.run(
          [python, os.path.abspath(__file__), "--child", fw, "--model", name,
           "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--infer", str(args.infer),
           "--repeats", str(args.repeats), "--shape", args.shape],
          capture_output=True, text=True, env=env)
      lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
      row[fw] = json.loads(lines[0][7:]) if lines else None
      if not lines:
        print(out.stderr[-1500:], file=sys.stderr)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
  main()
