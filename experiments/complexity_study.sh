#!/usr/bin/env bash
# Feature-space complexity against acquisition gains (REPRODUCTION.md):
# the fixed CNNs 1/5/9 and the optimised BBDropout and Depth-Dropout
# (focus 2, quick preset, joint mode, seed 0) with random, entropy, margin
# and coreset, on mnist5k and on Debian's Fashion-MNIST (pool capped at
# 5,000, 500 validation and 2,000 test images), then one report per
# dataset.
#
#   bash experiments/complexity_study.sh [ROOT [DATASETS]]
#
# ROOT defaults to runs/complexity, DATASETS to "mnist5k fashion_mnist"
# (one of them alone runs that half).
#
# Finished runs are skipped (re-running resumes). Cost per run measured on
# a shared 2-core CPU: fixed CNNs 1.5-11 min, BBDropout 3-8 min,
# Depth-Dropout 8-20 min on mnist5k and about an hour on Fashion-MNIST (its
# 8-subnetwork evaluations over 2,000 test and 5,000 pool images): several
# hours in all; split it over sittings.
set -euo pipefail
root="${1:-runs/complexity}"
for dataset in ${2:-mnist5k fashion_mnist}; do
  extra=()
  if [ "$dataset" = fashion_mnist ]; then
    extra=(--pool_size 5000 --val_size 500 --test_size 2000)
  fi
  for method in cnn1 cnn5 cnn9 bbdropout depth_dropout; do
    for acquisition in random entropy margin coreset; do
      workdir="$root/$dataset/${method}_$acquisition"
      # The quick preset's 5 rounds all recorded: skip without loading the
      # data and the checkpoints (a resume would, then do nothing).
      if [ "$(cat "$workdir/metrics.jsonl" 2>/dev/null | wc -l)" -ge 5 ]; then
        echo "skip $workdir: finished"
        continue
      fi
      python -m experiments.focus2 --method "$method" \
          --acquisition "$acquisition" --dataset "$dataset" "${extra[@]}" \
          --noprogress --workdir "$workdir" | tail -n 1
    done
  done
  python -m experiments.report --runs "$root/$dataset" \
      --out "$root/$dataset/report"
done
