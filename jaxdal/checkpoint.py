"""Round checkpoints (the only module that imports orbax).

One Orbax `CheckpointManager` per workdir, step = round. Each step holds the
train state, the pool state, the metrics history and the run's config, and
is written atomically: a run killed mid-save resumes from the step before.
"""

import json
import os
import time
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxdal.data.pool import PoolState


def _abstract(tree):
  return jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)


class RoundCheckpointer:
  """Saves and restores `(train_state, pool, metrics, config)` per round."""

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self._directory = os.path.abspath(directory)
    self._options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                                 create=True)
    # Orbax reads every round's "metrics" item when it opens the folder:
    # an unreadable one is set aside first (`set_aside_at_open` says which).
    self.set_aside_at_open = [
        (r, self._move_aside(r)) for r in self._unreadable_metrics()]
    self._manager = ocp.CheckpointManager(self._directory,
                                          options=self._options)

  def _unreadable_metrics(self) -> list[int]:
    if not os.path.isdir(self._directory):
      return []
    bad = []
    for name in os.listdir(self._directory):
      path = os.path.join(self._directory, name, "metrics", "metrics")
      if name.isdigit() and os.path.exists(path):
        try:
          with open(path) as f:
            json.load(f)
        except (OSError, ValueError):
          bad.append(int(name))
    return sorted(bad)

  def _move_aside(self, round_: int) -> str:
    corrupt = os.path.join(os.path.dirname(self._directory), "corrupt")
    os.makedirs(corrupt, exist_ok=True)
    aside = os.path.join(corrupt, f"round_{round_}-"
                         f"{time.strftime('%Y%m%d-%H%M%S')}")
    while os.path.exists(aside):
      aside += "+"
    os.replace(os.path.join(self._directory, str(round_)), aside)
    return aside

  def latest_round(self) -> int | None:
    """The newest saved round, or None."""
    return self._manager.latest_step()

  def rounds(self) -> list[int]:
    """The saved rounds, oldest first."""
    return sorted(self._manager.all_steps())

  def set_aside(self, round_: int) -> str:
    """Moves round `round_`'s files out of the checkpoints (to
    `<workdir>/corrupt/round_<r>-<time>`), so a run can fall back to an
    older round; returns where they went. Nothing is deleted."""
    self._manager.wait_until_finished()
    self._manager.close()
    aside = self._move_aside(round_)
    self._manager = ocp.CheckpointManager(self._directory,
                                          options=self._options)
    return aside

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
