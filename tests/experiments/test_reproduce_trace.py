"""Every number in REPRODUCTION.md's generated tables comes from committed
runs.

The check hides one listed run (or toy seed folder) at a time, renders the
blocks that listed its folder again, and marks the table cells that change
or disappear: each cell with a digit in it (row labels aside) must be
marked by at least one run, and every run a block reads must be tracked by
git under `docs/reproduction/`.
"""

import contextlib
import functools
import os
import re
import statistics
import subprocess

import pytest

from experiments import evidence, evidence_toy, reproduce
from jaxdal import data as data_lib
from jaxdal import metrics
from tests.conftest import REPO

RECORDS = os.path.join(REPO, "docs", "reproduction")
_DIGIT = re.compile(r"\d")
_NAME = re.compile(r"^[A-Za-z_]+\d+$")  # a network's name: cnn5, resnet18


def _number(cell: str) -> bool:
  return bool(_DIGIT.search(cell)) and not _NAME.match(cell)


def tables(text: str) -> dict[tuple, str]:
  """`{(table, row key, header): cell}` of the markdown tables in `text`,
  for the cells with a number outside the first column. A row's key is
  its first cell and its other labels (an acquisition, a network's name
  such as cnn5), so a row keeps its key when another row disappears.

  Shapes: one entry per numeric cell of every table.
  """
  out, table, header = {}, -1, None
  for line in text.splitlines():
    if not line.startswith("|"):
      header = None
      continue
    cells = [c.strip() for c in line.strip("|").split("|")]
    if header is None:
      header, table = cells, table + 1
      continue
    if set("".join(cells)) <= set("-: "):
      continue
    key = (cells[0],) + tuple(c for c in cells[1:] if not _number(c))
    for head, cell in zip(header[1:], cells[1:], strict=False):
      if _number(cell):
        out[table, key, head] = cell
  return out


def test_tables_reads_cells_by_row_and_header():
  text = ("x\n| net | acq | 200 |\n|---|---|---|\n| cnn1 | random | 58.8 |\n"
          "| cnn1 | entropy | 60.1 |\n\n| a | b |\n|---|---|\n| 100 | n/a |\n")
  assert tables(text) == {(0, ("cnn1", "random"), "200"): "58.8",
                          (0, ("cnn1", "entropy"), "200"): "60.1"}


@pytest.fixture(scope="module")
def cached_reads():
  """Run records and dataset labels read once (the generators only read
  what they are given): the check renders the blocks hundreds of times."""
  patch = pytest.MonkeyPatch()
  patch.setattr(metrics, "read_jsonl", functools.lru_cache(maxsize=None)(
      metrics.read_jsonl))
  patch.setattr(data_lib, "load", functools.lru_cache(maxsize=8)(
      data_lib.load))
  yield
  patch.undo()


def _render_listing(names, hidden=frozenset()):
  """`({block: text or None if it raised}, {block: folders it listed})`
  for the blocks `names`, with the runs in `hidden` (paths) not listed."""
  real = evidence.cells
  texts, listed = {}, {}
  for name in names:
    seen = set()

    def cells(root, seen=seen):
      seen.add(root)
      return [c for c in real(root) if os.path.join(root, c) not in hidden]

    evidence.cells = cells
    try:
      texts[name] = reproduce.BLOCKS[name](RECORDS)
    except (ValueError, KeyError, IndexError, StopIteration,
            ZeroDivisionError, statistics.StatisticsError):
      texts[name] = None
    finally:
      evidence.cells = real
    listed[name] = seen
  return texts, listed


def _tracked_runs() -> set[str]:
  """Folders under docs/reproduction holding a git-tracked metrics.jsonl,
  with every folder above them up to `runs/`."""
  out = subprocess.run(["git", "ls-files", "docs/reproduction"], cwd=REPO,
                       capture_output=True, text=True, check=True).stdout
  folders = set()
  for path in out.splitlines():
    if path.endswith(metrics.METRICS_FILE):
      parts = os.path.dirname(path).split("/")
      for k in range(parts.index("runs") + 2, len(parts) + 1):
        folders.add(os.path.join(REPO, *parts[:k]))
  return folders


def _changed(full: dict, names, hidden) -> set[tuple]:
  """The `(block, cell key)` of `full`'s table cells that change or
  disappear when the runs `hidden` are not listed (none of a block that
  cannot be made without them)."""
  texts, _ = _render_listing(names, frozenset(hidden))
  out = set()
  for name in names:
    if texts[name] is None:
      continue
    now = tables(texts[name])
    out |= {(name, k) for k, v in tables(full[name]).items()
            if now.get(k) != v}
  return out


@contextlib.contextmanager
def _swapped(unit: str, other: str):
  """Records read under run folder `unit` come from `other` instead."""
  real = metrics.read_jsonl

  def read(path):
    if path.startswith(unit + os.sep):
      path = other + path[len(unit):]
    return real(path)

  metrics.read_jsonl = read
  try:
    yield
  finally:
    metrics.read_jsonl = real


def _unseeded(unit: str) -> str:
  return re.sub(r"(^|_)s\d+$", "", os.path.basename(unit))


def untraced(names) -> list[str]:
  """The table cells of the blocks `names` that no committed run moves,
  one line each; raises if a block reads an untracked run.

  A run moves a cell when hiding it changes or removes the cell. Where a
  cell survives every single removal (a rank statistic, a mean of seeds
  that moves less than its last printed digit), reading another run of
  its folder (another cell's, where there is one) in the run's place, or
  hiding all the seeds of the run's cell, must change it.
  """
  full, listed = _render_listing(names)
  want = {(name, k) for name, text in full.items() for k in tables(text)}
  units = {os.path.join(root, c): root for roots in listed.values()
           for root in roots for c in evidence.cells(root)}
  untracked = sorted(u for u in units if u not in _tracked_runs())
  if untracked:
    raise AssertionError(f"runs read but not committed: {untracked}")

  def reading(root):
    return [n for n, roots in listed.items() if root in roots]

  groups = {}  # runs that differ only in their seed (`_s<k>`)
  for unit, root in sorted(units.items()):
    groups.setdefault((root, _unseeded(unit)), []).append(unit)

  def pending(root):
    return [n for n in reading(root)
            if any(c[0] == n for c in want - covered)]

  covered = set()
  for unit, root in sorted(units.items()):
    covered |= _changed(full, reading(root), [unit])
  for unit, root in sorted(units.items()):
    if names := pending(root):
      peers = [u for u in sorted(units) if units[u] == root]
      others = ([u for u in peers if _unseeded(u) != _unseeded(unit)]
                or [u for u in peers if u != unit])
      with _swapped(unit, others[0] if others else unit):
        covered |= _changed(full, names, [])
  for (root, _), members in sorted(groups.items()):
    if names := pending(root):
      covered |= _changed(full, names, members)
  return sorted(f"{name}: row {k[1]}, column {k[2]!r}"
                for name, k in want - covered)


_GIT = pytest.mark.skipif(not os.path.isdir(os.path.join(REPO, ".git")),
                          reason="needs the git checkout")


@_GIT
def test_a_typed_number_is_found(cached_reads, monkeypatch):
  del cached_reads

  def typed(records):
    return (evidence_toy.toy_gains(records)
            + "\n| a | b |\n|---|---|\n| x | 42 |\n")

  monkeypatch.setitem(reproduce.BLOCKS, "typed", typed)
  assert untraced(["toy_gains", "typed"]) == [
      "typed: row ('x',), column 'b'"]


@pytest.mark.slow
@_GIT
def test_every_table_cell_comes_from_a_committed_run(cached_reads):
  del cached_reads
  assert any(tables(reproduce.BLOCKS[n](RECORDS)) for n in reproduce.BLOCKS)
  assert untraced(list(reproduce.BLOCKS)) == []
