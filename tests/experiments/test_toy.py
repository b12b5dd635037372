"""The Figure 1 toy study: the three architectures select differently."""

import os

from experiments import toy


def test_architectures_select_different_points(tmp_path):
  workdirs = toy.run_toy(str(tmp_path), rounds=3)
  picked = {name: set(toy.acquired(workdirs[(name, "entropy")]).tolist())
            for name in toy.ARCHITECTURES}
  assert all(len(p) == 12 for p in picked.values())
  names = list(picked)
  for i, a in enumerate(names):
    for b in names[i + 1:]:
      assert picked[a] != picked[b], (a, b)
  path = toy.figure(workdirs, str(tmp_path), seed=0, rounds=3)
  assert os.path.getsize(path) > 10_000
