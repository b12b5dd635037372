"""Experiment grids for `python -m experiments.focus1 --grid NAME`.

A grid is the product datasets x backbones x acquisitions x pretraining x
seeds; cell i runs in task `i % num_tasks`, so a cluster array job (or
several processes) covers it with `--task_index I --num_tasks M`.
"""

import itertools

GRIDS = {
    # The paper's Focus 1 image study (its protocol: --preset paper).
    "paper_images": dict(
        preset="paper",
        datasets=("mnist", "fashion_mnist", "cifar10", "svhn"),
        backbones=("resnet18", "resnet34", "resnet50", "vgg11", "vgg16",
                   "vgg19"),
        acquisitions=("random", "least_confidence", "margin", "entropy",
                      "bald", "coreset", "badge"),
        pretrain=("none", "deepcluster"),
        seeds=(0, 1, 2)),
    # A few cells on synthetic data, to try the machinery.
    "smoke": dict(preset="quick", datasets=("synthetic",),
                  backbones=("cnn",), acquisitions=("random", "entropy"),
                  pretrain=("none",), seeds=(0, 1)),
}


def cells(name: str) -> list[dict]:
  """The cells of grid `name`, in a fixed order."""
  if name not in GRIDS:
    raise ValueError(f"unknown grid {name!r}; valid: {', '.join(GRIDS)}")
  g = GRIDS[name]
  return [dict(dataset=d, backbone=b, acquisition=a, pretrain=p, seed=s)
          for d, b, a, p, s in itertools.product(
              g["datasets"], g["backbones"], g["acquisitions"], g["pretrain"],
              g["seeds"])]


def cell_name(cell: dict) -> str:
  return (f"{cell['dataset']}_{cell['backbone']}_{cell['acquisition']}_"
          f"{cell['pretrain']}_s{cell['seed']}")
