"""experiments.report on a tiny grid: 2 architectures x 3 acquisitions x 2
seeds on synthetic data."""

import os
import shutil
import subprocess
import sys

import pytest

from experiments import report
from jaxdal import loop, metrics
from tests.conftest import REPO

GRID = dict(dataset="synthetic",
            dataset_kwargs=dict(num_train=150, num_test=60, shape=[8, 8, 1],
                                num_classes=3, noise=0.6, seed=2),
            rounds=3, initial=9, acquire=9, batch_size=16, max_epochs=3,
            patience=3)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
  root = tmp_path_factory.mktemp("grid")
  for method in ("cnn1", "cnn5"):
    for acq in ("random", "entropy", "margin"):
      for seed in (0, 1):
        settings = loop.Settings.of(**GRID, method=method,
                                 method_kwargs=dict(width=4),
                                 acquisition=acq, seed=seed)
        loop.run(settings, str(root / f"{method}_{acq}_s{seed}"),
                 progress=False, log=lambda s: None)
  return root


def test_every_figure_and_the_summary(grid, tmp_path):
  out = tmp_path / "report"
  written = report.write_report(str(grid), str(out))
  names = {os.path.basename(p) for p in written}
  assert names == {"labeling_efficiency.png", "gain_over_random.png",
                   "learning_curves.png", "spread_across_acquisitions.png",
                   "spread_across_architectures.png", "complexity.png",
                   "summary.md"}
  for path in written:
    assert os.path.getsize(path) > 1000
  summary = (out / "summary.md").read_text()
  assert "## Incomplete runs\n\nnone" in summary
  auc, rest = summary.split("## Spread")
  assert auc.count("| synthetic / cnn") == 6  # 2 x 3 AUC rows
  # One accuracy row per architecture; fixed networks have no architecture
  # table.
  assert rest.count("| synthetic / cnn") == 2
  assert "## Inferred architecture" not in summary
  assert "| synthetic (init 9, pretrain none) | cnn1/joint | cnn5/joint | 3 |" \
      in summary
  # Two architectures are too few groups for a rank correlation.
  assert "## Feature-space complexity and acquisition gains" in summary
  assert "(needs at least 3 groups with complexity records" in summary


def test_complexity_table_correlates_measures_with_gains():
  # Four groups whose pool TwoNN rises with entropy's gain over random.
  curves, complexity = {}, {}
  for i, (dim, gain) in enumerate([(3.0, 0.01), (5.0, 0.02), (8.0, 0.05),
                                   (9.0, 0.07)]):
    group = ("d", f"m{i}", "none", 10)
    sizes = [10, 20, 30]
    curves[group] = {"random": {0: (sizes, [0.5, 0.6, 0.7])},
                     "entropy": {0: (sizes, [0.5 + gain, 0.6 + gain,
                                             0.7 + gain])}}
    complexity[group] = {"twonn": (sizes, [dim, dim, dim])}
  table = "\n".join(report.complexity_markdown(curves, complexity))
  assert "| twonn | entropy | 4 | 1.00 |" in table
  # 4 pairs: 2 of the 24 orderings are as extreme, p = 1/12.
  assert "| 0.08" in table and "no relation found" in table


def test_missing_rounds_and_seeds_are_reported(grid, tmp_path):
  partial = tmp_path / "partial"
  shutil.copytree(grid, partial)
  shutil.rmtree(partial / "cnn5_margin_s1")
  metrics_file = partial / "cnn1_entropy_s0" / "metrics.jsonl"
  lines = metrics_file.read_text().splitlines()
  metrics_file.write_text("\n".join(lines[:2]) + "\n")
  report.write_report(str(partial), str(tmp_path / "out"))
  summary = (tmp_path / "out" / "summary.md").read_text()
  assert "cnn1_entropy_s0: 2 of 3 rounds" in summary
  assert "margin lacks seeds [1]" in summary


def test_finished_only_leaves_unfinished_runs_out_but_lists_them(grid,
                                                                 tmp_path):
  partial = tmp_path / "partial"
  shutil.copytree(grid, partial)
  metrics_file = partial / "cnn1_entropy_s0" / "metrics.jsonl"
  lines = metrics_file.read_text().splitlines()
  metrics_file.write_text(lines[0] + "\n")
  report.write_report(str(partial), str(tmp_path / "out"),
                      finished_only=True)
  summary = (tmp_path / "out" / "summary.md").read_text()
  assert "cnn1_entropy_s0: 1 of 3 rounds, unfinished" in summary
  assert "11 runs in 2 groups" in summary
  rows = [r for r in summary.split("## Spread")[0].splitlines()
          if "cnn1" in r and "| entropy |" in r]
  assert len(rows) == 1 and "| entropy | 1 | 3 |" in rows[0]  # seed 1 only
  report.write_report(str(partial), str(tmp_path / "all"))
  summary = (tmp_path / "all" / "summary.md").read_text()
  assert "12 runs in 2 groups" in summary
  assert "cnn1_entropy_s0: 1 of 3 rounds\n" in summary
  rows = [r for r in summary.split("## Spread")[0].splitlines()
          if "cnn1" in r and "| entropy |" in r]
  assert "| entropy | 2 | 1 |" in rows[0]  # both seeds, over 1 round


@pytest.mark.parametrize("make", ["empty", "foreign"])
def test_empty_or_foreign_directory_fails_clearly(make, tmp_path,
                                                  subprocess_env):
  if make == "foreign":
    (tmp_path / "notes.txt").write_text("not a run")
  out = subprocess.run([sys.executable, "-m", "experiments.report",
                        "--runs", str(tmp_path)], cwd=REPO, env=subprocess_env,
                       capture_output=True, text=True, timeout=120)
  assert out.returncode == 2
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and "no jaxdal runs" in lines[0]


def test_accuracy_table_gives_mean_and_sd_over_all_runs_of_a_group():
  sizes = [10, 20]
  curves = {("d", "cnn5/joint", "none", 10): {
      "random": {0: (sizes, [0.5, 0.9]), 1: (sizes, [0.6, 0.9])},
      "entropy": {0: (sizes, [0.7, 0.9]), 1: (sizes, [0.8, 0.9])}}}
  table = "\n".join(report.accuracy_markdown(curves))
  # [50, 60, 70, 80]: mean 65, sd sqrt(500 / 3) = 12.91; [90] x 4: sd 0.
  assert "| architecture | runs | 10 | 20 |" in table
  assert "| d / cnn5/joint (init 10) | 4 | 65.0 ± 12.9 | 90.0 ± 0.0 |" in table
  # A group whose runs have not all reached a size shows "-" there.
  curves[("d", "cnn9/joint", "none", 10)] = {
      "random": {0: (sizes, [0.6, 0.8]), 1: (sizes[:1], [0.7])}}
  table = "\n".join(report.accuracy_markdown(curves))
  assert "| d / cnn9/joint (init 10) | 2 | 65.0 ± 7.1 | - |" in table


def test_architecture_table_averages_depth_and_total_filters():
  def run(method, depths, filters):
    records = [dict(round=i, labeled=10 * (i + 1), test_accuracy=0.5,
                    architecture=dict(depth=d, active_filters=f))
               for i, (d, f) in enumerate(zip(depths, filters, strict=True))]
    config = dict(dataset="d", method=method, mode="joint", initial=10)
    return metrics.Run("p", config, records)

  runs = [run("depth_dropout", [9.0, 8.0], [[10, 20], [5, 5]]),
          run("depth_dropout", [10.0, 8.0], [[20, 30], [5, 15]]),
          run("cnn5", [5.0, 5.0], [[4, 4], [4, 4]])]  # fixed: not listed
  table = "\n".join(report.architecture_markdown(runs))
  assert "| d / depth_dropout/joint (init 10) | 2 | 10 | 9.50 | 40.0 |" in table
  assert "| d / depth_dropout/joint (init 10) | 2 | 20 | 8.00 | 15.0 |" in table
  assert table.count("| d /") == 2


def test_pretraining_table_pairs_runs_by_acquisition_and_seed():
  sizes = [10, 20, 30]
  plain = {"random": {0: (sizes, [0.5, 0.6, 0.7]), 1: (sizes, [0.5, 0.5,
                                                                0.5])},
           "entropy": {0: (sizes, [0.4, 0.6, 0.8])}}
  pre = {"random": {0: (sizes, [0.6, 0.7, 0.8]), 2: (sizes, [0.9] * 3)},
         "entropy": {0: (sizes, [0.4, 0.5, 0.6])}}
  curves = {("d", "cnn", "none", 10): plain,
            ("d", "cnn", "deepcluster", 10): pre,
            ("d", "mlp", "deepcluster", 10): pre}  # no plain runs: no row
  table = "\n".join(report.pretraining_markdown(curves))
  # Pairs: random s0 (AUC 0.6 -> 0.7, final 70 -> 80) and entropy s0 (AUC
  # 0.6 -> 0.5, final 80 -> 60); random s1/s2 have no partner.
  assert ("| d / cnn (init 10) | deepcluster | 2 | 0.600 | 0.600 | +0.00 | "
          "1 of 2 | -5.00 |") in table
  assert "mlp" not in table
  # An unfinished run is compared over the rounds it has: entropy s0 with
  # pretraining stopped after 2 rounds: against [0.4, 0.6] (AUC 0.5 ->
  # 0.45, final 60 -> 50).
  pre["entropy"][0] = (sizes[:2], [0.4, 0.5])
  table = "\n".join(report.pretraining_markdown(curves))
  assert ("| d / cnn (init 10) | deepcluster | 2 | 0.550 | 0.575 | +2.50 | "
          "1 of 2 | +0.00 |") in table
  assert report.pretraining_markdown({("d", "cnn", "none", 10): plain}) == []


def test_spreads_are_computed_per_dataset_and_skip_single_members():
  sizes = [10, 20]
  curves = {
      ("d1", "a", "none", 10): {"random": {0: (sizes, [0.5, 0.7]),
                                           1: (sizes, [0.7, 0.7])},
                                "entropy": {0: (sizes, [0.8, 0.9])}},
      ("d1", "b", "none", 10): {"random": {0: (sizes, [0.4, 0.6])}},
      # Another dataset far above: must not widen d1's spreads.
      ("d2", "a", "none", 10): {"random": {0: (sizes, [0.9, 1.0])},
                                "entropy": {0: (sizes, [0.9, 0.9])}},
      ("d1", "a", "deepcluster", 10): {"random": {0: (sizes, [0.0, 0.0])}},
  }
  text = "\n".join(report.spread_markdown(curves))
  across_acq, across_arch = text.split("Across architectures")
  # d1 / a: random's seed mean [0.6, 0.7] against entropy [0.8, 0.9]:
  # spread [20, 20] points. d1 / b has one acquisition: no spread.
  assert "- d1 (init 10) / a: 20.00 (2 acquisitions)" in across_acq
  assert "- d2 (init 10) / a: 5.00 (2 acquisitions)" in across_acq
  assert "/ b:" not in across_acq
  # d1 / random: a [0.6, 0.7] against b [0.4, 0.6]: spread [20, 10] -> 15;
  # entropy and every d2 acquisition have one architecture.
  assert "- d1 (init 10) / random: 15.00 (2 architectures)" in across_arch
  assert across_arch.count("\n- ") == 1


def test_spreads_say_what_they_need_when_there_are_none():
  sizes = [10, 20]
  # One acquisition per architecture without pretraining, one architecture
  # per acquisition: neither spread exists.
  curves = {
      ("d1", "a", "none", 10): {"random": {0: (sizes, [0.5, 0.7])}},
      ("d1", "a", "deepcluster", 10): {"margin": {0: (sizes, [0.4, 0.6])}},
  }
  text = "\n".join(report.spread_markdown(curves))
  across_acq, across_arch = text.split("Across architectures")
  assert ("- (needs two acquisitions for one architecture, without "
          "pretraining)") in across_acq
  assert ("- (needs two architectures for one acquisition, without "
          "pretraining)") in across_arch
  # With a spread there, no such line.
  curves[("d1", "a", "none", 10)]["entropy"] = {0: (sizes, [0.8, 0.9])}
  text = "\n".join(report.spread_markdown(curves))
  assert text.count("(needs two") == 1
