"""Counting XLA compilations, to check that rounds reuse compiled steps."""

import jax

_BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
_count = 0
_registered = False


def _on_duration(event: str, duration: float, **kwargs) -> None:
  del duration, kwargs
  global _count
  if event == _BACKEND_COMPILE_EVENT:
    _count += 1


def compilations() -> int:
  """Number of backend compilations in this process since the first call."""
  global _registered
  if not _registered:
    jax.monitoring.register_event_duration_secs_listener(_on_duration)
    _registered = True
  return _count
