"""Parameter counts of the paper's backbones, from PyTorch definitions.

Provenance of the numbers in tests/models/test_resnet_vgg.py. Run with a
Python that has torch (the `bench` extra):

  python benchmarks/reference/param_counts_torch.py

The networks follow the paper's Appendix B with CIFAR stems: ResNet-18/34
(basic blocks 2-2-2-2, 3-4-6-3), ResNet-50 (bottlenecks 3-4-6-3), widths
64-128-256-512, 3x3 stem without max-pool, bias-free convolutions, FC to C;
VGG-11/16/19 (configurations A, D, E) with BatchNorm, then FC 4096, FC 4096,
FC 1000, FC C. Counts are torch's `parameters()` (BatchNorm running
statistics are buffers, as they are Flax `batch_stats`), for 10 classes and
32x32x3 inputs.
"""

import torch
from torch import nn


class Basic(nn.Module):
  expansion = 1

  def __init__(self, cin, cout, stride):
    super().__init__()
    self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.b1 = nn.BatchNorm2d(cout)
    self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.b2 = nn.BatchNorm2d(cout)
    self.short = nn.Sequential()
    if stride != 1 or cin != cout:
      self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                 nn.BatchNorm2d(cout))


class Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, cin, width, stride):
    super().__init__()
    cout = 4 * width
    self.c1 = nn.Conv2d(cin, width, 1, bias=False)
    self.b1 = nn.BatchNorm2d(width)
    self.c2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
    self.b2 = nn.BatchNorm2d(width)
    self.c3 = nn.Conv2d(width, cout, 1, bias=False)
    self.b3 = nn.BatchNorm2d(cout)
    self.short = nn.Sequential()
    if stride != 1 or cin != cout:
      self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                 nn.BatchNorm2d(cout))


def resnet(block, sizes, classes=10, cin=3):
  layers = [nn.Conv2d(cin, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)]
  c = 64
  for i, (n, w) in enumerate(zip(sizes, (64, 128, 256, 512), strict=True)):
    for j in range(n):
      layers.append(block(c, w, 2 if (i > 0 and j == 0) else 1))
      c = w * block.expansion
  layers.append(nn.Linear(c, classes))
  return nn.Sequential(*layers)


CFG = {"vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512,
                 "M"],
       "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512,
                 512, "M", 512, 512, 512, "M"],
       "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512,
                 512, 512, 512, "M", 512, 512, 512, 512, "M"]}


def vgg(name, classes=10, cin=3):
  layers, c = [], cin
  for v in CFG[name]:
    if v == "M":
      layers.append(nn.MaxPool2d(2))
    else:
      layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
      c = v
  layers += [nn.Flatten(), nn.Linear(512, 4096), nn.ReLU(),
             nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000),
             nn.ReLU(), nn.Linear(1000, classes)]
  return nn.Sequential(*layers)


def count(model):
  return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
  torch.manual_seed(0)
  nets = {"resnet18": resnet(Basic, (2, 2, 2, 2)),
          "resnet34": resnet(Basic, (3, 4, 6, 3)),
          "resnet50": resnet(Bottleneck, (3, 4, 6, 3)),
          **{n: vgg(n) for n in CFG}}
  for name, net in nets.items():
    print(f"{name}: {count(net):,}")
