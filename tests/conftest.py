"""Shared fixtures; keeps the CPU suite fast and offline."""

import ast
import os

# Never wait on a network: hub and TFDS lookups fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TFDS_DATA_DIR", "/nonexistent-tfds-dir")
# Each test compiles what it runs (compile counts, fresh processes); the
# cache has tests of its own (tests/test_compile_cache.py).
os.environ.setdefault("JAXDAL_COMPILE_CACHE", "off")

import jax  # noqa: E402
import pytest  # noqa: E402

# Tiny models: compile time dominates, so trade run time for compile time.
jax.config.update("jax_disable_most_optimizations", True)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules_loaded_by(statement: str, names) -> list[str]:
  """Which of `names` a fresh interpreter has in sys.modules after
  running `statement` (an import)."""
  import subprocess
  import sys
  code = (f"import sys; {statement}; "
          f"print(sorted(m for m in {tuple(names)!r} if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=120)
  assert out.returncode == 0, out.stderr
  return ast.literal_eval(out.stdout.strip())


@pytest.fixture(scope="session")
def mnist5k():
  from jaxdal import data
  return data.load("mnist5k")


@pytest.fixture(scope="session")
def tiny_synthetic():
  from jaxdal import data
  return data.synthetic(num_train=240, num_test=60, shape=(12, 12, 1),
                        num_classes=4, noise=0.5, seed=3)


@pytest.fixture
def subprocess_env(tmp_path):
  """Environment for CLI subprocesses: offline, no stray TFDS folders."""
  env = dict(os.environ)
  env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
             TFDS_DATA_DIR=str(tmp_path / "no-tfds"), HOME=str(tmp_path),
             JAX_DISABLE_MOST_OPTIMIZATIONS="1", PYTHONPATH=REPO)
  return env


def pytest_addoption(parser):
  parser.addoption("--runslow", action="store_true",
                   help="also run tests marked slow (minutes each)")


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: takes minutes; run with --runslow")
  config.addinivalue_line(
      "markers", "accelerator: the learner and round-loop checks "
      "benchmarks/accelerator.py runs on a GPU or TPU")


def pytest_collection_modifyitems(config, items):
  if config.getoption("--runslow"):
    return
  skip = pytest.mark.skip(reason="slow: run with --runslow")
  for item in items:
    if "slow" in item.keywords:
      item.add_marker(skip)
