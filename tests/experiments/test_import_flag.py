"""`--import MODULE` on every CLI: a user's own registry entries become
valid choices, listed by `--help`, and a module that cannot be imported is
one clear line. The plugin is examples/my_acq.py, copied into a folder of
its own, the way a user keeps one next to their runs."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from experiments import cli
from tests.conftest import REPO

MY_ACQ = os.path.join(REPO, "examples", "my_acq.py")

# A few seconds a run: one small CNN round on a synthetic pool, then one
# acquisition, no complexity measures.
TINY = ["--dataset", "synthetic", "--dataset_kwargs",
        '{"num_train": 120, "num_test": 30, "shape": [8, 8, 1], '
        '"num_classes": 3}', "--initial", "6", "--acquire", "5",
        "--rounds", "2", "--max_epochs", "1", "--batch_size", "16",
        "--mc_samples", "2", "--complexity", "none", "--noprogress",
        "--backbone_kwargs", '{"depth": 1, "width": 4}']


@pytest.fixture
def plugin_dir(tmp_path):
  """A folder holding only a copy of my_acq.py: the CLI's working dir."""
  folder = tmp_path / "mine"
  folder.mkdir()
  shutil.copy(MY_ACQ, folder)
  return folder


def run(program, args, cwd, env):
  return subprocess.run([sys.executable, "-m", f"experiments.{program}",
                         *args], cwd=cwd, env=env, capture_output=True,
                        text=True, timeout=300)


def test_names_are_found_in_both_forms_and_up_to_a_double_dash():
  argv = ["prog", "--import", "a", "--rounds", "2", "--import=b.c",
          "-import", "d.py", "--import-mode=x", "--", "--import", "e"]
  assert cli.import_names(argv) == ["a", "b.c", "d.py"]
  assert cli.import_names(["prog", "--import"]) == []


def test_help_lists_the_plugin_acquisition(plugin_dir, subprocess_env):
  out = run("focus1", ["--import", "my_acq", "--help"], plugin_dir,
            subprocess_env)
  assert out.stderr == ""  # absl's --help exits 1: the code says nothing
  acquisition_help = out.stdout.split("--acquisition:")[1].split("(default")
  assert "lowest_max" in acquisition_help[0]
  assert "--import: a Python module to import first" in out.stdout


def test_a_path_works_too_and_every_cli_documents_the_flag(subprocess_env):
  path = os.path.join("examples", "my_acq.py")
  for program in ("focus1", "focus2", "report", "toy"):
    out = run(program, [f"--import={path}", "--helpshort"], REPO,
              subprocess_env)
    assert out.stderr == "", (program, out.stderr[-2000:])
    assert "--import: a Python module to import first" in out.stdout, program
    if program.startswith("focus"):
      assert "lowest_max" in out.stdout, program


def test_a_tiny_run_with_the_plugin_acquisition(plugin_dir, tmp_path,
                                               subprocess_env):
  workdir = tmp_path / "run"
  out = run("focus1", ["--import", "my_acq", "--acquisition", "lowest_max",
                       *TINY, "--workdir", str(workdir)], plugin_dir,
            subprocess_env)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "final test accuracy" in out.stdout
  records = [json.loads(line) for line in
             (workdir / "metrics.jsonl").read_text().splitlines()]
  assert [r["labeled"] for r in records] == [6, 11]
  assert len(set(records[0]["acquired"])) == 5
  config = json.loads((workdir / "config.json").read_text())
  assert config["acquisition"] == "lowest_max"


@pytest.mark.parametrize("module,needle", [
    ("no_such_module", "cannot import --import 'no_such_module': no module "
                       "named 'no_such_module' in the current folder or on "
                       "PYTHONPATH"),
    ("no_such_package.sub", "no module named 'no_such_package'"),
    ("missing.py", "cannot import --import 'missing.py': no such file"),
    # Registering a name twice is the user's bug: named, with its line.
    ("twice", "cannot import --import 'twice': ValueError: acquisition "
              "'lowest_max' is already registered"),
    ("twice", "({dir}/twice.py, line 2)"),
])
def test_a_module_that_cannot_be_imported_is_one_line(
    module, needle, plugin_dir, subprocess_env):
  (plugin_dir / "twice.py").write_text(
      "from my_acq import acquisition, lowest_max\n"
      "acquisition.register('lowest_max', acquisition.from_score(lowest_max))"
      "\n")
  before = sorted(os.listdir(plugin_dir))
  out = run("focus1", ["--import", module, "--acquisition", "lowest_max",
                       *TINY], plugin_dir, subprocess_env)
  lines = out.stderr.strip().splitlines()
  assert out.returncode == 2, out.stderr[-2000:]
  assert len(lines) == 1, out.stderr
  assert lines[0].startswith("error: "), lines[0]
  assert needle.replace("{dir}", str(plugin_dir)) in lines[0], lines[0]
  assert "Traceback" not in out.stdout + out.stderr
  assert sorted(n for n in os.listdir(plugin_dir)
                if n != "__pycache__") == before


def test_an_import_only_in_a_flagfile_is_refused(plugin_dir, subprocess_env):
  # absl reads a flagfile after the flags are defined: too late to import.
  (plugin_dir / "flags.txt").write_text("--import=my_acq\n")
  out = run("focus1", ["--flagfile", "flags.txt", *TINY], plugin_dir,
            subprocess_env)
  lines = out.stderr.strip().splitlines()
  assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]
  assert "--import must be typed on the command line" in lines[0]
  assert not (plugin_dir / "runs").exists()
