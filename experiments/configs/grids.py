"""Experiment grids for `python -m experiments.focus1 --grid NAME` and
`python -m experiments.focus2 --grid NAME`.

A grid names its program, its preset and its axes; its cells are the
product of the axes, in a fixed order (a grid given as `parts`, a list of
axes, has the products of its parts one after another, for axes that only
make sense together, such as Focus 2's modes of the optimised methods).
Cell i runs in task `i % num_tasks`, so a cluster array job (or several
processes) covers a grid with `--task_index I --num_tasks M`. A cell's
values are settings (config keys) laid over the preset and the typed flags.
"""

import itertools

_PAPER_ACQUISITIONS = ("random", "least_confidence", "margin", "entropy",
                       "bald", "coreset", "badge")
_IMAGE_ACQUISITIONS = ("random", "entropy", "margin", "bald", "coreset",
                       "badge")
_FOCUS2_ACQUISITIONS = ("random", "entropy", "margin", "coreset")
# The dearest optimised methods: random and the best acquisition of the
# quick-preset study (margin).
_FOCUS2_FEW = ("random", "margin")
# The "Beyond the paper" study: uncertainty, the paper's BADGE, and the
# low-budget and stochastic-batch acquisitions the peers added.
_LOW_BUDGET_ACQUISITIONS = ("random", "entropy", "badge", "typiclust",
                            "probcover", "power_bald", "epig")

GRIDS = {
    # The paper's Focus 1 image study (its protocol: --preset paper).
    "paper_images": dict(
        program="focus1", preset="paper", axes=dict(
            dataset=("mnist", "fashion_mnist", "cifar10", "svhn"),
            backbone=("resnet18", "resnet34", "resnet50", "vgg11", "vgg16",
                      "vgg19"),
            acquisition=_PAPER_ACQUISITIONS,
            pretrain=("none", "deepcluster"),
            seed=(0, 1, 2))),
    # The paper's Focus 1 text study (Figures 4 and 5; --preset paper_text:
    # each dataset's query pool comes with it). Hub checkpoints: fetch them
    # once with network (see README, Text).
    "paper_text": dict(
        program="focus1", preset="paper_text", axes=dict(
            dataset=("ag_news", "banking77", "dbpedia_14", "qnli"),
            backbone=("bert", "distilbert", "roberta"),
            acquisition=_PAPER_ACQUISITIONS,
            pretrain=("none", "deepcluster"),
            seed=(0, 1, 2))),
    # A few cells on synthetic data, to try the machinery.
    "smoke": dict(
        program="focus1", preset="quick", axes=dict(
            dataset=("synthetic",), backbone=("cnn",),
            acquisition=("random", "entropy"), pretrain=("none",),
            seed=(0, 1))),
    # Focus 2's machinery on synthetic data: a fixed and an optimised
    # network.
    "smoke2": dict(
        program="focus2", preset="quick", axes=dict(
            dataset=("synthetic",), method=("cnn1", "bbdropout"),
            mode=("joint",), acquisition=("random", "entropy"),
            seed=(0,))),
    # Medium preset (REPRODUCTION.md; measured cost per cell in its notes).
    # Focus 1: the light backbones of two kinds on both datasets, 3 seeds.
    # Measured cost per cell, two cells side by side on the 2-core CPU:
    # cnn 2.0 min on Fashion-MNIST (2.9 with DeepCluster), 1.4 on mnist5k;
    # mlp 0.3-1 min; seed 0 (48 cells) took 60 min in one task beside
    # another run, so about 1.5 h as two tasks run together.
    "focus1_medium": dict(
        program="focus1", preset="medium", axes=dict(
            dataset=("fashion_mnist", "mnist5k"), backbone=("cnn", "mlp"),
            acquisition=_IMAGE_ACQUISITIONS,
            pretrain=("none", "deepcluster"), seed=(0, 1, 2))),
    # Figure 6: the initial labeled set's size (the CNN, Fashion-MNIST).
    "focus1_initial": dict(
        program="focus1", preset="medium", axes=dict(
            dataset=("fashion_mnist",), backbone=("cnn",),
            initial=(100, 200, 400), acquisition=("random", "entropy",
                                                  "margin"),
            seed=(0, 1, 2))),
    # ResNet-18 costs ~10x a CNN cell: one dataset, one seed. Measured, two
    # cells side by side: 30 min a cell, plus 38 min of DeepCluster that the
    # six pretrained cells share (`.shared/`): about 6.6 h in one task,
    # 3.3 h as two tasks run together.
    "focus1_medium_resnet": dict(
        program="focus1", preset="medium", axes=dict(
            dataset=("fashion_mnist",), backbone=("resnet18",),
            acquisition=_IMAGE_ACQUISITIONS,
            pretrain=("none", "deepcluster"), seed=(0,))),
    # Focus 2 (Fashion-MNIST): the fixed CNNs and the optimised methods in
    # joint mode, 4 acquisitions x 3 seeds (PDARTS, which searches every
    # round, 2 acquisitions x seed 0: three seeds would take 6 h more).
    # Measured cost per cell, two cells side by side on the 2-core CPU:
    # cnn1 1.5, cnn5 2.4, cnn9 4.2, bbdropout 4.5, depth_dropout 19-25,
    # pdarts 53-61 min: the fixed CNNs about 1.6 h in one task, BBDropout
    # 0.9 h, Depth-Dropout about 4.4 h (`--cells` runs a part).
    "focus2_medium": dict(
        program="focus2", preset="medium", parts=[
            dict(dataset=("fashion_mnist",), method=("cnn1", "cnn5", "cnn9"),
                 acquisition=_FOCUS2_ACQUISITIONS, seed=(0, 1, 2)),
            dict(dataset=("fashion_mnist",),
                 method=("bbdropout", "depth_dropout"),
                 mode=("joint",), acquisition=_FOCUS2_ACQUISITIONS,
                 seed=(0, 1, 2)),
            dict(dataset=("fashion_mnist",), method=("pdarts",),
                 mode=("joint",), acquisition=_FOCUS2_FEW, seed=(0,)),
        ]),
    # Focus 2: the optimised methods' other modes (SPO, UPO): BBDropout with
    # 4 acquisitions and Depth-Dropout with 2, 3 seeds each; PDARTS with 2
    # acquisitions, seed 0 (three seeds would take 7 h more). Measured cost
    # per cell, two cells side by side: bbdropout SPO 4.5, UPO 5;
    # depth_dropout SPO 25, UPO 33-42 min (16-22 of them its DeepCluster
    # run); pdarts SPO 34, UPO 76-87 min (DeepCluster and a search on its
    # pseudo-labels first).
    "focus2_medium_modes": dict(
        program="focus2", preset="medium", parts=[
            dict(dataset=("fashion_mnist",), method=("bbdropout",),
                 mode=("spo", "upo"), acquisition=_FOCUS2_ACQUISITIONS,
                 seed=(0, 1, 2)),
            dict(dataset=("fashion_mnist",), method=("depth_dropout",),
                 mode=("spo", "upo"), acquisition=_FOCUS2_FEW,
                 seed=(0, 1, 2)),
            dict(dataset=("fashion_mnist",), method=("pdarts",),
                 mode=("spo", "upo"), acquisition=_FOCUS2_FEW, seed=(0,)),
        ]),
    # "Beyond the paper" (REPRODUCTION.md): do the low-budget acquisitions
    # beat uncertainty sampling at 100-500 labels, and does that depend on
    # the backbone? The quick preset (100 initial labels, 4 rounds of 100);
    # Fashion-MNIST with medium's caps (a 5,000 pool, 500 validation and
    # 2,000 test examples) so a cell costs about what an mnist5k one does.
    # One part per seed, so a half-done grid has whole seeds. Measured on
    # the 2-core CPU: about 1.5 min a cell on mnist5k.
    "beyond_low_budget": dict(
        program="focus1", preset="quick", parts=[
            part for seed in (0, 1, 2) for part in (
                dict(dataset=("mnist5k",), backbone=("cnn", "mlp"),
                     acquisition=_LOW_BUDGET_ACQUISITIONS, seed=(seed,)),
                dict(dataset=("fashion_mnist",), backbone=("cnn", "mlp"),
                     acquisition=_LOW_BUDGET_ACQUISITIONS, seed=(seed,),
                     fixed=dict(pool_size=5000, val_size=500,
                                test_size=2000)))]),
}


def names(program: str) -> list[str]:
  """The grids `program` ("focus1" or "focus2") runs."""
  return [name for name, g in GRIDS.items() if g["program"] == program]


def get(name: str, program: str) -> dict:
  """Grid `name` of `program`; a one-line ValueError listing the valid
  ones otherwise."""
  if name not in names(program):
    raise ValueError(f"unknown grid {name!r} for {program}; valid: "
                     f"{', '.join(names(program))}")
  return GRIDS[name]


class Cell(dict):
  """One cell's settings; those in `unnamed` (a part's `fixed` settings,
  shared by all its cells) are left out of its name."""
  unnamed: frozenset = frozenset()


def _part_cells(part: dict) -> list[Cell]:
  axes = {k: v for k, v in part.items() if k != "fixed"}
  fixed = part.get("fixed", {})
  out = []
  for values in itertools.product(*axes.values()):
    cell = Cell(zip(axes, values, strict=True), **fixed)
    cell.unnamed = frozenset(fixed)
    out.append(cell)
  return out


def cells(grid: dict) -> list[Cell]:
  """The cells of `grid`, in a fixed order (the product of its axes, the
  last axis fastest; part after part for a grid of `parts`). A part's
  `fixed` dict holds settings all its cells share, left out of their
  names."""
  parts = grid["parts"] if "parts" in grid else [grid["axes"]]
  return [cell for part in parts for cell in _part_cells(part)]


def cell_name(cell: dict) -> str:
  """`synthetic_cnn_entropy_none_s1`: the cell's values in axis order, the
  seed as `s<seed>` (a part's `fixed` settings left out)."""
  unnamed = getattr(cell, "unnamed", frozenset())
  return "_".join(f"s{v}" if k == "seed" else str(v)
                  for k, v in cell.items() if k not in unnamed)
