"""Per-round metrics: the `metrics.jsonl` format and summaries of it."""

import json
import os

METRICS_FILE = "metrics.jsonl"
CONFIG_FILE = "config.json"


def write_jsonl(path: str, records: list[dict]) -> None:
  """Writes one JSON object per line, atomically (temp file + rename)."""
  tmp = f"{path}.tmp"
  with open(tmp, "w") as f:
    for r in records:
      f.write(json.dumps(r, sort_keys=True) + "\n")
  os.replace(tmp, path)


def read_jsonl(path: str) -> list[dict]:
  """The records of a JSON-lines file."""
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def read_run(workdir: str) -> tuple[dict, list[dict]]:
  """`(config, per-round records)` of a run directory."""
  with open(os.path.join(workdir, CONFIG_FILE)) as f:
    config = json.load(f)
  return config, read_jsonl(os.path.join(workdir, METRICS_FILE))


def learning_curve(records: list[dict]) -> tuple[list[int], list[float]]:
  """`(labeled-set sizes, test accuracies)` in round order."""
  records = sorted(records, key=lambda r: r["round"])
  return ([r["labeled"] for r in records],
          [r["test_accuracy"] for r in records])


def without_timings(record: dict) -> dict:
  """A record minus its machine-dependent `time` entry (for comparisons)."""
  return {k: v for k, v in record.items() if k != "time"}
