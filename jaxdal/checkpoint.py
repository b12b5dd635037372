"""Round checkpoints (the only module that imports orbax).

One Orbax `CheckpointManager` per workdir, step = round. Each step holds the
train state, the pool state, the metrics history and the run's config, and
is written atomically: a run killed mid-save resumes from the step before.
"""

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxdal.data.pool import PoolState


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


class RoundCheckpointer:
  """Saves and restores `(train_state, pool, metrics, config)` per round."""

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self._manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                             create=True))

  def latest_round(self) -> int | None:
    """The newest saved round, or None."""
    return self._manager.latest_step()

  def save(self, round_: int, *, train_state: Any, pool: PoolState,
           metrics: list[dict], config: dict) -> None:
    """Writes round `round_` and waits until it is on disk."""
    self._manager.save(
        round_,
        args=ocp.args.Composite(
            train_state=ocp.args.StandardSave(train_state),
            pool=ocp.args.StandardSave(pool._asdict()),
            metrics=ocp.args.JsonSave(metrics),
            config=ocp.args.JsonSave(config),
        ))
    self._manager.wait_until_finished()

  def restore(self, round_: int, *, train_state_like: Any,
              pool_like: PoolState) -> tuple[Any, PoolState, list[dict], dict]:
    """Reads round `round_`; `*_like` give the pytree structures to fill."""
    out = self._manager.restore(
        round_,
        args=ocp.args.Composite(
            train_state=ocp.args.StandardRestore(_abstract(train_state_like)),
            pool=ocp.args.StandardRestore(_abstract(pool_like._asdict())),
            metrics=ocp.args.JsonRestore(),
            config=ocp.args.JsonRestore(),
        ))
    return (out.train_state, PoolState(**out.pool), list(out.metrics),
            dict(out.config))

  def restore_pool(self, round_: int, pool_like: PoolState) -> PoolState:
    """Reads only the pool of round `round_` (enough to rebuild the network
    a search chose for it, before the train state can be shaped)."""
    out = self._manager.restore(
        round_, args=ocp.args.Composite(
            pool=ocp.args.StandardRestore(_abstract(pool_like._asdict()))))
    return PoolState(**out.pool)

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def save_tree(path: str, tree: Any) -> None:
  """Writes one pytree to `path` (atomically; refuses to overwrite)."""
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(os.path.abspath(path), tree)


def restore_tree(path: str, like: Any) -> Any:
  """Reads the pytree at `path`, shaped like `like`."""
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(os.path.abspath(path), _abstract(like))
