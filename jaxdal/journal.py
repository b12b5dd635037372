"""Answers given by a person, kept in an append-only JSON-lines file.

Each answer is one line, written and flushed to disk (`fsync`) before
`append` returns, so an answer that was acknowledged survives a crash or a
SIGKILL. A reader takes the complete lines only: a last line cut off by a
crash (no newline yet) was never acknowledged and is left out, and the next
`append` starts a new line after it.

  >>> import os, tempfile
  >>> j = Journal(os.path.join(tempfile.mkdtemp(), "labels.jsonl"))
  >>> j.append({"id": "a.png", "answer": "cat", "round": 0})
  >>> j.append({"id": "a.png", "answer": "dog", "round": 0})
  >>> latest(j.read(), round_=0)["a.png"]["answer"]
  'dog'
"""

import json
import os
import threading
from collections.abc import Iterable

__all__ = ["Journal", "latest"]


class Journal:
  """An append-only JSON-lines file of answers, safe against crashes.

  Args:
    path: the file (created on the first `append`).
  """

  def __init__(self, path: str):
    self.path = path
    self._lock = threading.Lock()

  def append(self, record: dict) -> None:
    """Writes `record` as one line and syncs it to disk before returning."""
    line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
    with self._lock, open(self.path, "ab+") as f:
      f.seek(0, os.SEEK_END)
      if f.tell():  # after a line cut off by a crash, start a new one
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":
          f.write(b"\n")
      f.write(line.encode())
      f.flush()
      os.fsync(f.fileno())

  def read(self) -> list[dict]:
    """The complete records, oldest first (a cut-off or unreadable line is
    left out: it was never acknowledged)."""
    if not os.path.isfile(self.path):
      return []
    with self._lock, open(self.path, "rb") as f:
      data = f.read()
    records = []
    for line in data.split(b"\n")[:-1]:  # the last piece has no newline
      try:
        record = json.loads(line)
      except ValueError:
        continue
      if isinstance(record, dict):
        records.append(record)
    return records


def latest(records: Iterable[dict], *, round_: int) -> dict[str, dict]:
  """`{id: record}` of round `round_`'s answers, the last one per id (a
  later answer to the same example replaces the earlier one)."""
  return {r["id"]: r for r in records if r.get("round") == round_}
