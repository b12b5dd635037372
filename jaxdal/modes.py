"""When the architecture is optimised: joint, SPO and UPO.

- joint: architecture and weights train together every round (a search
  method searches anew every round);
- SPO: the architecture (and weights) are optimised once, on the initial
  labeled set, then every round starts from them;
- UPO: optimised once on unlabeled data with DeepCluster pseudo-labels.

Plain backbones with `--pretrain deepcluster` start every round from
DeepCluster weights too. Everything computed here is cached in the workdir
(`jaxdal.workdir`), so a resumed run never recomputes it.
"""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import archopt, data, pretrain, train, workdir
from jaxdal.data import fingerprint
from jaxdal.network import Start, initial_state
from jaxdal.settings import Settings

network = archopt.default_network

__all__ = ["Start", "Task", "fit_kwargs", "found_architecture",
           "initial_state", "network", "pool_before", "searches",
           "starting_weights"]


class Task(NamedTuple):
  """What pre-optimisation and searches read: the run's settings, data,
  folder and console."""
  settings: Settings
  ds: data.Dataset
  method: archopt.Method | archopt.SearchMethod  # the plan's, built once
  x_train: jax.Array
  y_train: jax.Array
  val_idx: np.ndarray
  workdir: str
  progress: bool
  log: Callable[[str], None]
  # A folder shared by runs that differ only in their acquisition (a
  # grid's): their DeepCluster pretraining, which happens before any
  # acquisition, is computed once there (None: each run computes its own).
  shared: str | None = None


def searches(s: Settings, method) -> bool:
  """True when the run's network comes from searches."""
  return isinstance(method, archopt.SearchMethod) and s.arch.train_arch


def _variables_like(method: archopt.Method, key, input_shape) -> dict:
  return train.init_variables(method.model, key, input_shape)


def _deepcluster_result(task: Task, key):
  s = task.settings
  # One cluster per class: the plan's network, with its classes.
  return pretrain.deepcluster(
      lambda k: network(task.method), task.x_train, key,
      num_clusters=task.ds.num_classes, epochs=s.arch.pretrain_epochs,
      steps_per_epoch=s.arch.pretrain_steps, batch_size=s.fit.batch_size,
      learning_rate=s.fit.learning_rate, progress=task.progress)


def starting_weights(task: Task, pool: data.PoolState, key) -> Start:
  """DeepCluster weights (`--pretrain deepcluster`, and UPO), SPO's
  network, or nothing; computed once and cached in the workdir. A searched
  network starts fresh (nothing pre-trained fits it)."""
  s, ds = task.settings, task.ds
  if searches(s, task.method):
    return Start()
  method = network(task.method)
  if s.arch.pretrain != "deepcluster" and s.arch.mode not in ("upo", "spo"):
    return Start()  # fresh weights every round: no template to restore
  like = _variables_like(method, key, ds.input_shape)
  if s.arch.pretrain == "deepcluster" or s.arch.mode == "upo":
    def deepcluster():
      result = _deepcluster_result(task, key)
      return result.variables, (f"DeepCluster, {s.arch.pretrain_epochs} "
                                f"epochs, loss {result.losses[-1]:.3f}")
    def shared_or_own():
      if task.shared is None:
        return deepcluster()
      # Identical for runs that differ only in their acquisition.
      name = ("pretrained-" + workdir.fingerprint(
          {**s.to_dict(), "data": fingerprint.fingerprint(task.ds)},
          ignore=("acquisition",)))
      return workdir.shared_tree(task.shared, name, like, deepcluster)
    return Start(workdir.cached_tree(task.workdir, "pretrained", like,
                                     shared_or_own, task.log), "body")
  if s.arch.mode == "spo":
    def preoptimise():
      tx = method.optimizer(s.fit.learning_rate, train_arch=True)
      trainer = train.make_trainer(method.model, tx, method.loss)
      state = train.init_state(method.model, tx, jax.random.fold_in(key, 0),
                               ds.input_shape)
      state, fit = train.fit(
          trainer, state, task.x_train, task.y_train,
          data.labeled_indices(pool), task.val_idx,
          jax.random.fold_in(key, 1), **fit_kwargs(s, task.progress))
      return ({"params": state.params, **state.model_state},
              f"supervised pre-optimisation, {fit.epochs} epochs")
    return Start(workdir.cached_tree(task.workdir, "preoptimised", like,
                                     preoptimise, task.log), "all")
  return Start()


def fit_kwargs(s: Settings, progress: bool) -> dict:
  """`train.fit`'s keyword arguments of a run."""
  return dict(batch_size=s.fit.batch_size, max_epochs=s.fit.max_epochs,
              learning_rate=s.fit.learning_rate, patience=s.fit.patience,
              target_train_accuracy=s.fit.target_train_accuracy,
              schedule=s.fit.schedule, progress=progress)


def found_architecture(task: Task, method: archopt.SearchMethod, r: int,
                       pool_r: data.PoolState, initial: data.PoolState,
                       round_key, pretrain_key, describe) -> dict:
  """What round r's network was found by: joint mode searches with the
  weights on the labeled set and the architecture on the validation split
  (as ArchDAL does); SPO once on the initial labeled set; UPO once on the
  unlabeled pool with DeepCluster pseudo-labels. Cached per search."""
  mode = task.settings.arch.mode
  if mode == "upo":
    name, compute = "upo", lambda: _unsupervised_search(task, method,
                                                        initial, pretrain_key)
  else:
    name = f"round_{r:03d}" if mode == "joint" else "spo"
    weights, arch = data.search_split(pool_r if mode == "joint" else initial)
    key = round_key if mode == "joint" else pretrain_key
    x, y = task.x_train, task.y_train

    def compute():
      return method.search(x[weights], y[weights], x[arch], y[arch], key,
                           task.progress)
  found, computed = workdir.cached_json(task.workdir, name, compute,
                                        task.log)
  if computed:
    summary = method.adopt(found).architecture(None)
    task.log(f"search {name}: {describe(summary)} ({found['time_s']:.1f}s)")
  return found


def _unsupervised_search(task: Task, method: archopt.SearchMethod, pool,
                         key) -> dict:
  """DeepCluster pseudo-labels of every training image (with the method's
  default network), then a search on the unlabeled pool split 50/50
  between weights and architecture (PDARTS's train_portion)."""
  result = _deepcluster_result(task, jax.random.fold_in(key, 0))
  pseudo = jnp.asarray(result.assignments[-1])
  unlabeled = np.flatnonzero(np.asarray(data.available(pool)))
  order = unlabeled[np.asarray(jax.random.permutation(
      jax.random.fold_in(key, 1), len(unlabeled)))]
  half = len(order) // 2
  x = task.x_train
  found = method.search(x[order[:half]], pseudo[order[:half]],
                        x[order[half:]], pseudo[order[half:]],
                        jax.random.fold_in(key, 2), task.progress)
  found["pseudo_label_purity"] = pretrain.purity(
      np.asarray(pseudo), np.asarray(task.ds.y_train))
  return found


def pool_before(pool: data.PoolState, r: int) -> data.PoolState:
  """The pool as round r trained on it (labels acquired in rounds <= r)."""
  label_round = np.asarray(pool.label_round)
  labeled = (label_round >= 0) & (label_round <= r)
  return pool._replace(labeled=jnp.asarray(labeled),
                       round=jnp.asarray(r, jnp.int32))
