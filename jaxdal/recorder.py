"""Where a run's results go, in the style of big_vision's metric writer:
one object the round loop hands each finished round to, which writes
`metrics.jsonl` (atomically), the round's checkpoint, `failure.json`, the
console table. The loop computes; the recorder only writes. Process 0
writes for every process.
"""

import os
from collections.abc import Callable, Sequence

import jax

from jaxdal import checkpoint, console, faults, metrics, sharding
from jaxdal import workdir as workdir_lib

__all__ = ["Recorder", "host"]


def host() -> dict:
  """The machine a record was made on: CPU model, device kind, jax version
  (`records[i]["host"]`; comparisons leave it out, as they leave `time`)."""
  cpu = "unknown"
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next((line.split(":", 1)[1].strip() for line in f
                  if line.startswith("model name")), cpu)
  except OSError:
    import platform
    cpu = platform.processor() or cpu
  return {"cpu": cpu, "device": jax.devices()[0].device_kind,
          "jax": jax.__version__}


class Recorder:
  """A run's writer.

  Args:
    workdir: the run's folder.
    ckpt: its round checkpointer (`checkpoint.RoundCheckpointer`).
    config: what each checkpoint stores beside the state (`config.json`).
    log: where console lines go.
    describe: `summary -> str`, how the table shows an architecture.
  """

  def __init__(self, workdir: str, ckpt: checkpoint.RoundCheckpointer,
               config: dict, log: Callable[[str], None], describe: Callable):
    self.workdir, self.ckpt, self.config = workdir, ckpt, config
    self.log, self.describe = log, describe
    self.host = host()

  def table(self, network_line: str, records: Sequence[dict]) -> None:
    """The network's line, the table's header and the rounds so far."""
    self.log(network_line)
    self.log(console.TABLE_HEADER)
    for record in records:
      self.rows(record)

  def rows(self, record: dict) -> None:
    for line in console.lines(record, self.describe):
      self.log(line)

  def round(self, r: int, records: Sequence[dict], *, train_state,
            pool) -> None:
    """Round r finished (`records[-1]` its record): its checkpoint, then
    `metrics.jsonl`, then its table row."""
    self.ckpt.save(r, train_state=train_state, pool=pool,
                   metrics=list(records), config=self.config)
    faults.kill_point("checkpoint_saved")
    self.write(records)
    self.rows(records[-1])

  def write(self, records: Sequence[dict]) -> None:
    """Rewrites `metrics.jsonl` (atomically)."""
    if not sharding.is_writer():
      return
    path = os.path.join(self.workdir, metrics.METRICS_FILE)
    with workdir_lib.naming(path):
      metrics.write_jsonl(path, list(records))

  def failure(self, failure: dict) -> None:
    """`failure.json`: why the run stopped."""
    if sharding.is_writer():
      metrics.write_json(os.path.join(self.workdir, "failure.json"), failure)
