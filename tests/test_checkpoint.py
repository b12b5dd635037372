"""checkpoint.py: failed writes become one OSError naming the folder."""

import errno
import os
import threading
import time

import jax.numpy as jnp
import pytest

from jaxdal import checkpoint

# What TensorStore raises (from Orbax's writer threads) on a full disk.
TENSORSTORE_FULL = (
    'RESOURCE_EXHAUSTED: Error writing "params.w/0" in OCDBT database at '
    'local file "/x/checkpoints/0.orbax-checkpoint-tmp/": Failed to write '
    "361812 bytes to file 4: No space left on device [os_error_code='28']")


@pytest.mark.parametrize("error,code", [
    (ValueError(TENSORSTORE_FULL), errno.ENOSPC),
    (OSError(errno.EROFS, "Read-only file system"), errno.EROFS),
    (RuntimeError("commit failed"), None),
])
def test_write_error_finds_the_errno(error, code):
  found = checkpoint.write_error(error, "/x/checkpoints/0")
  if code is None:
    assert found is None
  else:
    assert (found.errno, found.filename) == (code, "/x/checkpoints/0")
    assert found.strerror == os.strerror(code)


def test_write_error_looks_through_the_cause():
  try:
    try:
      raise ValueError(TENSORSTORE_FULL)
    except ValueError as inner:
      raise RuntimeError("save thread failed") from inner
  except RuntimeError as e:
    assert checkpoint.write_error(e, "p").errno == errno.ENOSPC


def test_a_failed_write_is_one_oserror_and_its_noise_is_held_back(capfd):
  with pytest.raises(OSError) as info, checkpoint._writing("/x/ckpt/3"):  # noqa: SLF001
    os.write(2, b"Traceback (most recent call last):\n  ...\n")
    raise ValueError(TENSORSTORE_FULL)
  assert (info.value.errno, info.value.filename) == (errno.ENOSPC,
                                                     "/x/ckpt/3")
  assert capfd.readouterr().err == ""


def _late_traceback(delay_s: float) -> threading.Thread:
  """What TensorStore does after a failed write: an operation still in
  flight finishes later and prints a traceback from its own thread."""
  def write():
    time.sleep(delay_s)
    os.write(2, b"RuntimeError: Event loop is closed\n")
  thread = threading.Thread(target=write)
  thread.start()
  return thread


def test_tracebacks_arriving_after_a_failed_write_are_held_back(capfd):
  with pytest.raises(OSError), checkpoint._writing("/x/ckpt/3"):  # noqa: SLF001
    late = _late_traceback(0.3)
    raise ValueError(TENSORSTORE_FULL)
  late.join()
  assert capfd.readouterr().err == ""


def test_closing_after_a_failed_write_drops_what_it_held_back(capfd):
  with checkpoint._writing("/x/ckpt", discard=True):  # noqa: SLF001
    os.write(2, b"Traceback (most recent call last):\n")
    late = _late_traceback(0.3)
  late.join()
  assert capfd.readouterr().err == ""


def test_a_successful_write_passes_its_output_on(capfd):
  with checkpoint._writing("/x/ckpt/3"):  # noqa: SLF001
    os.write(2, b"a warning\n")
  assert capfd.readouterr().err == "a warning\n"


def test_other_errors_pass_through_with_their_output(capfd):
  with pytest.raises(KeyError), checkpoint._writing("/x"):  # noqa: SLF001
    os.write(2, b"context\n")
    raise KeyError("bug")
  assert capfd.readouterr().err == "context\n"


def test_read_round_needs_no_structure(tmp_path):
  from jaxdal.data.pool import PoolState
  pool = PoolState(*(jnp.zeros(4, bool) for _ in range(3)),
                   label_round=jnp.full(4, -1, jnp.int32),
                   round=jnp.asarray(0, jnp.int32))
  ckpt = checkpoint.RoundCheckpointer(str(tmp_path / "checkpoints"))
  state = {"params": {"w": jnp.arange(3.0)}}
  for r in (0, 1):
    ckpt.save(r, train_state=state, pool=pool, metrics=[{"round": r}],
              config={})
  ckpt.close()
  got = checkpoint.read_round(str(tmp_path / "checkpoints"))
  assert got["round"] == 1 and got["metrics"] == [{"round": 1}]
  assert got["train_state"]["params"]["w"].tolist() == [0.0, 1.0, 2.0]
  assert got["pool"]["label_round"].tolist() == [-1] * 4
  with pytest.raises(FileNotFoundError, match="no round checkpoint"):
    checkpoint.read_round(str(tmp_path / "none"))
