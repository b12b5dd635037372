"""The per-round table a run prints: one row per round, and the round's
architecture in the words of its method (`MethodSpec.describe`)."""

TABLE_HEADER = (f"{'round':>5} {'labeled':>7} {'test%':>7} {'val%':>7} "
                f"{'epochs':>6} {'stopped by':>14} {'train_s':>7} "
                f"{'select_s':>7}")


def row(record: dict) -> str:
  """One table row of a `metrics.jsonl` record."""
  t = record["time"]
  return (f"{record['round']:>5} {record['labeled']:>7} "
          f"{100 * record['test_accuracy']:>7.2f} "
          f"{100 * record['val_accuracy']:>7.2f} {record['epochs']:>6} "
          f"{record['stop_reason']:>14} {t['train_s']:>7.1f} "
          f"{t['select_s']:>7.2f}")


def lines(record: dict, describe) -> list[str]:
  """The row of `record`, then its architecture line if it has one."""
  text = describe(record.get("architecture"))
  return [row(record)] + ([f"      architecture: {text}"] if text else [])
