r"""The decile-distil side of `benchmarks/e2e_distil.py`: one active-learning
experiment with distil's own training class (`distil.utils.train_helper.
data_train`) and strategy (`EntropySampling`, `CoreSet`, `BADGE`).

  /tmp/torchref/bin/python benchmarks/e2e_distil_torch.py \
      --data /tmp/e2e/mnist5k.npz --strategy badge

Runs in an environment with torch and decile-distil (never jaxdal's venv);
imports nothing from jaxdal. `--data` is the `.npz` that `e2e_distil.py`
writes from jaxdal's own data API: the standardised images (NCHW), the
initial labeled indices and the unlabeled pool. Prints one line
`RESULT {json}` with per-round seconds (training, selection), epochs and
test accuracy.
"""

import argparse
import json
import random
import time

import numpy as np
import torch
from distil.active_learning_strategies import BADGE, CoreSet, EntropySampling
from distil.utils.train_helper import data_train
from torch import nn
from torch.nn import functional
from torch.utils.data import Dataset

STRATEGIES = {"entropy": EntropySampling, "coreset": CoreSet, "badge": BADGE}


class Arrays(Dataset):
  """distil's handler contract over float arrays already standardised:
  `(x, y, index)` with labels (`select=False`), `(x, index)` without."""

  def __init__(self, X, Y=None, select=True, use_test_transform=False):
    del use_test_transform  # no augmentation either way
    self.select = select
    self.X = torch.as_tensor(np.asarray(X, np.float32))
    self.Y = None if Y is None else torch.as_tensor(np.asarray(Y, np.int64))

  def __getitem__(self, index):
    if self.select:
      return self.X[index], index
    return self.X[index], self.Y[index], index

  def __len__(self):
    return len(self.X)


class ResidualCNN(nn.Module):
  """jaxdal's `cnn` backbone (`jaxdal/models/cnn.py`) in torch, layer for
  layer: 5x5 conv (padding 1, no bias) -> LeakyReLU -> BatchNorm -> 2x2
  average pool; `depth - 1` residual blocks `h + BN(LeakyReLU(conv3x3(h)))`;
  global average pool; `g + BN(LeakyReLU(Linear(g)))` = features [B, W];
  dropout; Linear classifier. distil asks `forward(x, last=True)` for the
  features and `get_embedding_dim()`."""

  def __init__(self, num_classes=10, depth=3, width=32, dropout_rate=0.3,
               in_channels=1):
    super().__init__()
    self.width = width
    self.stem = nn.Conv2d(in_channels, width, 5, padding=1, bias=False)
    self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1,
                                         bias=False)
                               for _ in range(depth - 1))
    self.norms = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(depth))
    self.mlp = nn.Linear(width, width)
    self.mlp_norm = nn.BatchNorm1d(width)
    self.dropout = nn.Dropout(dropout_rate)
    self.classifier = nn.Linear(width, num_classes)

  def forward(self, x, last=False):
    stem = self.norms[0](functional.leaky_relu(self.stem(x), 0.01))
    h = functional.avg_pool2d(stem, 2)
    for conv, norm in zip(self.convs, self.norms[1:], strict=True):
      h = h + norm(functional.leaky_relu(conv(h), 0.01))
    g = h.mean(dim=(2, 3))
    features = g + self.mlp_norm(functional.leaky_relu(self.mlp(g), 0.01))
    out = self.classifier(self.dropout(features))
    return (out, features) if last else out

  def get_embedding_dim(self):
    return self.width


def run(args) -> dict:
  if args.threads:
    torch.set_num_threads(args.threads)
  torch.manual_seed(args.seed)
  np.random.seed(args.seed)  # BADGE's k-means++ draws from scipy.stats
  random.seed(args.seed)
  data = np.load(args.data)
  x_train, y_train = data["x_train"], data["y_train"].astype(np.int64)
  x_test, y_test = data["x_test"], data["y_test"].astype(np.int64)
  labeled, pool = list(data["initial"]), list(data["pool"])
  net = ResidualCNN(num_classes=int(y_train.max()) + 1,
                    in_channels=x_train.shape[1])
  # data_train runs epochs while `epoch < n_epoch`, epoch counted from 1.
  train_args = {"n_epoch": args.max_epochs + 1, "lr": args.lr,
                "batch_size": args.batch_size, "optimizer": "adam",
                "max_accuracy": args.target_train_accuracy, "islogs": True,
                "isreset": True, "device": "cpu"}
  select_args = {"batch_size": args.select_batch, "device": "cpu"}
  trainer = data_train(x_train[labeled], y_train[labeled], net, Arrays,
                       train_args)
  strategy = STRATEGIES[args.strategy](
      x_train[labeled], y_train[labeled], x_train[pool], net, Arrays,
      int(y_train.max()) + 1, select_args)
  rounds = []
  # Imports, data and model done: what precedes distil's first training
  # step (benchmarks/startup.py compares it with jaxdal's).
  ready_at = time.time()
  for r in range(args.rounds):
    t0 = time.perf_counter()
    clf, logs = trainer.train()
    test_acc = trainer.get_acc_on_set(x_test, y_test)
    train_s = time.perf_counter() - t0
    record = {"round": r, "labeled": len(labeled), "test_accuracy": test_acc,
              "epochs": len(logs),
              "steps": len(logs) * -(-len(labeled) // args.batch_size),
              "train_s": round(train_s, 3), "select_s": 0.0}
    if r < args.rounds - 1:
      t1 = time.perf_counter()
      strategy.update_model(clf)
      chosen = sorted({int(i) for i in strategy.select(args.acquire)})
      record["select_s"] = round(time.perf_counter() - t1, 3)
      record["acquired"] = len(chosen)
      chosen_set = set(chosen)
      labeled += [pool[i] for i in chosen]
      pool = [p for i, p in enumerate(pool) if i not in chosen_set]
      trainer.update_data(x_train[labeled], y_train[labeled])
      strategy.update_data(x_train[labeled], y_train[labeled], x_train[pool])
    rounds.append(record)
  return {"strategy": args.strategy, "threads": torch.get_num_threads(),
          "torch": torch.__version__, "ready_at": ready_at,
          "rounds": rounds}


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--data", required=True)
  ap.add_argument("--strategy", required=True, choices=sorted(STRATEGIES))
  ap.add_argument("--rounds", type=int, default=5)
  ap.add_argument("--acquire", type=int, default=100)
  ap.add_argument("--batch_size", type=int, default=32)
  ap.add_argument("--max_epochs", type=int, default=30)
  ap.add_argument("--lr", type=float, default=2e-3)
  ap.add_argument("--target_train_accuracy", type=float, default=0.99)
  ap.add_argument("--select_batch", type=int, default=1024,
                  help="rows per prediction batch inside the strategy")
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--threads", type=int, default=0,
                  help="torch intra-op threads (0: torch's default)")
  args = ap.parse_args()
  print("RESULT " + json.dumps(run(args)), flush=True)


if __name__ == "__main__":
  main()
