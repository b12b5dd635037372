"""Data parallelism with JAX's own SPMD: one `jax.sharding.Mesh` with a
`data` axis over every device (of every process, after
`jax.distributed.initialize()`).

While a mesh is active (`activate`, or `setup` from a flag and the
environment), training batches, evaluation batches and pool chunks are
sharded along `data` and parameters and the dataset are replicated; XLA
(GSPMD) partitions the same jitted steps, so the code that runs on one CPU
runs unchanged on emulated CPU devices, GPUs or a TPU slice. Rows that a
device count does not divide are padded and masked, never dropped. With no
mesh active nothing is placed and results are those of one device.

Emulate devices on CPU with
`XLA_FLAGS=--xla_force_host_platform_device_count=4`.
"""

import contextlib
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "activate", "active", "barrier", "distributed_settings",
           "is_writer", "make_mesh", "padded_batch", "replicated", "round_up",
           "rows", "setup", "sharded_batch", "size", "to_host", "using"]

AXIS = "data"
_DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES",
                    "JAX_PROCESS_ID")
_active: Mesh | None = None


def make_mesh(devices=None) -> Mesh:
  """A 1-D mesh with axis `data` over `devices` (default: all devices of
  all processes)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (AXIS,))


def activate(mesh: Mesh | None) -> None:
  """Makes `mesh` the mesh every step shards over (None: no sharding)."""
  global _active
  _active = mesh


def active() -> Mesh | None:
  """The active mesh, or None."""
  return _active


@contextlib.contextmanager
def using(mesh: Mesh | None):
  """`activate(mesh)` for the duration of a `with` block."""
  before = _active
  activate(mesh)
  try:
    yield mesh
  finally:
    activate(before)


def size() -> int:
  """Devices along `data` (1 with no mesh)."""
  return 1 if _active is None else _active.devices.size


def distributed_settings(env: Mapping[str, str]) -> dict | None:
  """`jax.distributed.initialize` arguments from `JAX_COORDINATOR_ADDRESS`,
  `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`, or None when none is set."""
  present = [name for name in _DISTRIBUTED_ENV if env.get(name)]
  if not present:
    return None
  if len(present) != len(_DISTRIBUTED_ENV):
    missing = [n for n in _DISTRIBUTED_ENV if n not in present]
    raise ValueError(f"{', '.join(present)} set but {', '.join(missing)} "
                     f"not; set all of {', '.join(_DISTRIBUTED_ENV)}")
  try:
    count, index = (int(env["JAX_NUM_PROCESSES"]),
                    int(env["JAX_PROCESS_ID"]))
  except ValueError:
    raise ValueError(f"JAX_NUM_PROCESSES and JAX_PROCESS_ID must be "
                     f"integers, got {env['JAX_NUM_PROCESSES']!r} and "
                     f"{env['JAX_PROCESS_ID']!r}") from None
  if not 0 <= index < count:
    raise ValueError(f"JAX_PROCESS_ID={index} must be in [0, "
                     f"JAX_NUM_PROCESSES={count})")
  return {"coordinator_address": env["JAX_COORDINATOR_ADDRESS"],
          "num_processes": count, "process_id": index}


def setup(mesh_flag: bool, env: Mapping[str, str]) -> Mesh | None:
  """Initialises `jax.distributed` when the environment asks for it and
  activates a mesh over all devices when `mesh_flag` or distributed; None
  (nothing changes) otherwise."""
  settings = distributed_settings(env)
  if settings is not None:
    jax.distributed.initialize(**settings)
  if not (mesh_flag or settings is not None):
    return None
  mesh = make_mesh()
  activate(mesh)
  return mesh


def is_writer() -> bool:
  """Whether this process writes files and console output (process 0)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process reaches `name` (nothing with one process)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def to_host(x) -> np.ndarray:
  """The whole of array `x` as NumPy on this process, gathered from every
  process when it spans devices of several (`jax.distributed`)."""
  if getattr(x, "is_fully_addressable", True):
    return np.asarray(jax.device_get(x))
  from jax.experimental import multihost_utils
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def round_up(n: int) -> int:
  """`n` rounded up to a multiple of the device count."""
  return -(-n // size()) * size()


def replicated(tree):
  """`tree` placed whole on every device of the active mesh (as is with
  none)."""
  if _active is None:
    return tree
  return jax.device_put(tree, NamedSharding(_active, PartitionSpec()))


def rows(tree):
  """Arrays whose leading axis (a multiple of the device count) is split
  along `data` (as is with no mesh)."""
  if _active is None:
    return tree
  return jax.device_put(tree, NamedSharding(_active, PartitionSpec(AXIS)))


def sharded_batch(idx: np.ndarray, mask: np.ndarray):
  """A batch's `[B]` indices and mask as the steps take them: as they are
  with no mesh, else padded (masked) to a multiple of the device count and
  split along `data`."""
  if _active is None:
    return idx, mask
  return rows(padded_batch(np.asarray(idx), np.asarray(mask)))


def padded_batch(idx: np.ndarray, mask: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
  """`[B]` indices and mask padded to a multiple of the device count with
  masked copies of the first row (they count in nothing but BatchNorm's
  batch statistics, like the last batch's cyclic padding)."""
  pad = round_up(len(idx)) - len(idx)
  if not pad:
    return idx, mask
  return (np.concatenate([idx, np.full(pad, idx[0], idx.dtype)]),
          np.concatenate([mask, np.zeros(pad, bool)]))
