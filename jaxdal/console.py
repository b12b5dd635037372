"""The per-round table a run prints: the network it built, one row per
round, and the round's architecture in the words of its method
(`MethodSpec.describe`)."""

import inspect

from jaxdal import registry

__all__ = ["TABLE_HEADER", "calibration_line", "complexity_line", "lines",
           "network_line", "row"]

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


def complexity_line(measured: dict | None) -> str:
  """The pool's feature-space complexity in a few numbers (`""` if not
  measured): TwoNN dimension, effective rank, N1 boundary fraction."""
  pool = (measured or {}).get("pool")
  if not pool:
    return ""
  names = (("twonn", "TwoNN dim"), ("effective_rank", "effective rank"),
           ("boundary_fraction", "boundary fraction"))
  return "; ".join(f"{label} {pool[key]:.3g}" for key, label in names
                   if pool.get(key) is not None)


def calibration_line(record: dict) -> str:
  """`ECE 0.041, NLL 0.52, Brier 0.27 (T 1.4: ECE 0.012); stop set: kappa
  0.97, uncertainty 0.18`: a record's calibration and stopping entries
  ('' if it has neither)."""
  parts = []
  cal = record.get("calibration")
  if cal:
    text = (f"ECE {cal['ece']:.3g}, NLL {cal['nll']:.3g}, "
            f"Brier {cal['brier']:.3g}")
    if "temperature" in cal:
      text += f" (T {cal['temperature']:.3g}: ECE {cal['scaled']['ece']:.3g})"
    parts.append(text)
  stop = record.get("stopping")
  if stop:
    kappa = "" if stop["kappa"] is None else f"kappa {stop['kappa']:.3g}, "
    parts.append(f"stop set: {kappa}uncertainty {stop['uncertainty']:.3g}")
  return "; ".join(parts)


def lines(record: dict, describe) -> list[str]:
  """The row of `record`, then its architecture, feature-space complexity
  and calibration lines if it has them."""
  text = describe(record.get("architecture"))
  measured = complexity_line(record.get("complexity"))
  calibrated = calibration_line(record)
  return ([row(record)] + ([f"      architecture: {text}"] if text else [])
          + ([f"      pool features: {measured}"] if measured else [])
          + ([f"      calibration: {calibrated}"] if calibrated else []))


def network_line(name: str, constructor, kwargs: dict) -> str:
  """`network: mlp(hidden=[512, 256], activation='relu', ...)`: what a run
  builds, with every argument (the defaults of `constructor` filled in)."""
  full = {name: p.default for name, p in
          registry.keyword_parameters(constructor).items()
          if p.default is not inspect.Parameter.empty}
  full.update(kwargs)
  args = ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v!r}"
                   for k, v in full.items())
  return f"network: {name}({args})"
