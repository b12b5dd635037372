r"""Training throughput (images/s) of jaxdal backbones against the same
networks in PyTorch, on 32x32x3 batches of 128.

  python benchmarks/train.py                       # jaxdal only
  python benchmarks/train.py --torch_python /work/benchvenv/bin/python

Each framework runs in its own process: warm-up steps (compilation for
jaxdal), then timed SGD steps (forward, backward, update) on a fixed random
batch. The PyTorch models mirror jaxdal's: `cnn` (5x5 stem + average pool,
residual 3x3 blocks with LeakyReLU/BatchNorm, residual dense head),
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


def jax_throughput(name, batch, steps, warmup):
  import jax
  import jax.numpy as jnp

  from jaxdal import models, optim, train
  kwargs = {"depth": 5, "width": 64} if name == "cnn" else {}
  model = models.build(name, 10, **kwargs)
  tx = optim.make_optimizer("sgd", learning_rate=0.01, weight_decay=5e-4)
  trainer = train.make_trainer(model, tx)
  state = train.set_learning_rate(
      train.init_state(model, tx, jax.random.key(0), (32, 32, 3)), 0.01)
  x = jax.random.normal(jax.random.key(1), (batch, 32, 32, 3))
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


def torch_throughput(name, batch, steps, warmup):
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

  model = {"cnn": CNN, "resnet18": ResNet, "vgg11": VGG}[name]()
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                        weight_decay=5e-4)
  x = torch.randn(batch, 3, 32, 32)
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
  ap.add_argument("--steps", type=int, default=10)
  ap.add_argument("--warmup", type=int, default=2)
  ap.add_argument("--torch_python", default="")
  ap.add_argument("--child", default="")
  ap.add_argument("--model", default="")
  args = ap.parse_args()
  if args.child:
    fn = jax_throughput if args.child == "jax" else torch_throughput
    print("RESULT " + json.dumps(fn(args.model, args.batch, args.steps,
                                    args.warmup)))
    return
  rows = []
  for name in MODELS:
    row = {"model": name}
    for fw, python in (("jax", sys.executable), ("torch", args.torch_python)):
      if not python:
        continue
      env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
      out = subprocess.run(
          [python, os.path.abspath(__file__), "--child", fw, "--model", name,
           "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup)], capture_output=True, text=True,
          env=env)
      lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
      row[fw] = json.loads(lines[0][7:]) if lines else None
      if not lines:
        print(out.stderr[-1500:], file=sys.stderr)
    rows.append(row)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
  main()
