"""The learner's state: `LearnerState`, an immutable pytree (the train
state, the pool, the labels taught so far, the rounds' root key, a
searched architecture), the round keys derived from it, and its storage
(Orbax, one call each way).
"""

import dataclasses
import json
import os
from typing import NamedTuple

import jax

from jaxdal import checkpoint, train
from jaxdal import data as data_lib

__all__ = ["INIT", "MEASURE", "PREDICT", "QUERY_POOL", "SEARCH", "SELECT",
           "TRAIN", "Architecture", "LearnerState", "key_of_round", "load",
           "round_key", "save"]

# Sub-streams of a round key: the one place they are numbered.
INIT, TRAIN, PREDICT, SELECT, SEARCH, MEASURE, QUERY_POOL = range(7)


class LearnerState(NamedTuple):
  """Everything a learner carries between calls; a pytree.

  Attributes:
    train: the `train.TrainState` of the last `fit` (None before it).
    pool: `data.PoolState` over the N examples: labeled, candidates,
      validation, the round each was labeled in, the round.
    labels: int32 `[N]`, the labels taught so far, -1 where unknown.
    key: the rounds' root key; round r uses `fold_in(key, r)`.
    arch: the `Architecture` the last search found (a `SearchMethod`'s
      learner), or None.
  """
  train: train.TrainState | None
  pool: data_lib.PoolState
  labels: jax.Array
  key: jax.Array
  arch: "Architecture | None" = None


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class Architecture:
  """What a search found (`SearchMethod.search`), as JSON: static data of
  the state, no leaves (`jax.tree` functions pass over it)."""
  found_json: str

  @property
  def found(self) -> dict:
    return json.loads(self.found_json)


def key_of_round(root: jax.Array, r: int) -> jax.Array:
  """Round r's key: `fold_in(root, r)`; the one place it is derived."""
  return jax.random.fold_in(root, r)


def round_key(state: LearnerState) -> jax.Array:
  """The key of the state's round: `key_of_round(state.key, round)`."""
  return key_of_round(state.key, int(state.pool.round))


def save(path: str, state: LearnerState) -> None:
  """Writes `state` to the folder `path` (Orbax; refuses to overwrite);
  a searched architecture goes beside it as `arch.json`."""
  checkpoint.save_tree(path, _storable(state))
  if state.arch is not None:
    with open(os.path.join(path, "arch.json"), "w") as f:
      f.write(state.arch.found_json)


def load(path: str, like: LearnerState) -> LearnerState:
  """Reads a state saved by `save`, shaped like `like` (e.g. a fitted
  state of the same learner: `load(path, state)`)."""
  tree = checkpoint.restore_tree(path, _storable(like))
  arch = None
  if os.path.isfile(os.path.join(path, "arch.json")):
    with open(os.path.join(path, "arch.json")) as f:
      arch = Architecture(f.read())
  return tree._replace(key=jax.random.wrap_key_data(
      tree.key, impl=jax.random.key_impl(like.key)), arch=arch)


def _storable(state: LearnerState) -> LearnerState:
  return state._replace(key=jax.random.key_data(state.key), arch=None)

