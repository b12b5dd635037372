"""The active-learning loop as a small functional API over explicit state.

`learner(model, optimizer, x)` returns a `Learner`, a bundle of pure
functions over an immutable `LearnerState` pytree (the train state, the
pool, the labels taught so far, the rounds' root key):

  >>> import flax.linen as nn, jax, jax.numpy as jnp, numpy as np, optax
  >>> class MLP(nn.Module):
  ...   @nn.compact
  ...   def __call__(self, x, deterministic=True):
  ...     return nn.Dense(2)(nn.relu(nn.Dense(16)(x)))
  >>> x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
  >>> oracle = lambda idx: (x[idx, 0] > 0).astype(int)
  >>> al = learner(MLP(), optax.adam(1e-2), x, acquisition="margin",
  ...              max_epochs=20, num_classes=2)
  >>> state = al.init(jax.random.key(0))
  >>> idx = al.query(state, 10)          # nothing labeled: drawn at random
  >>> state = al.teach(state, idx, oracle(idx))
  >>> state, fit = al.fit(state)
  >>> idx = al.query(state, 10)          # the 10 smallest margins
  >>> state = al.teach(state, idx, oracle(idx))
  >>> int(state.pool.labeled.sum()), int(state.pool.round)
  (20, 2)

Labels come from the caller (`teach`); nothing needs the pool's labels.
Round r's key is `fold_in(state.key, r)` (`round_key`), split into the
sub-streams below, so a run resumed from a saved state makes the same
picks as the uninterrupted one, and the experiment programs
(`jaxdal.loop`) call these same functions.
"""

import json
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal import acquisition as acquisition_lib
from jaxdal import adapters, archopt, losses, sharding, train
from jaxdal import data as data_lib
from jaxdal import predict as predict_lib
from jaxdal.data import labels as labels_lib
from jaxdal.data.pool import query_candidates, search_split
from jaxdal.network import (
  Network,
  Start,
  initial_state,
  make_network,
  member_probs,
)
from jaxdal.network import fit as fit_network
from jaxdal.network import logits as network_logits
from jaxdal.network import variables as network_variables
from jaxdal.state import (
  INIT,
  MEASURE,
  PREDICT,
  QUERY_POOL,
  SEARCH,
  SELECT,
  TRAIN,
  Architecture,
  LearnerState,
  key_of_round,
  load,
  round_key,
  save,
)

__all__ = ["INIT", "MEASURE", "PREDICT", "QUERY_POOL", "SEARCH", "SELECT",
           "TRAIN", "Architecture", "Learner", "LearnerState", "Network",
           "Start", "key_of_round", "learner", "load", "query_candidates",
           "round_key", "save", "search_split"]

class Learner(NamedTuple):
  """The loop's steps as pure functions (`learner` builds them).

  Attributes:
    init: `(key or seed, *, labeled=None, labels=None, validation=None,
      val_labels=None, candidates=None) -> LearnerState`; `labeled` /
      `labels`: an initial labeled set (int `[L]` each), `validation` /
      `val_labels`: held-out labeled examples for early stopping, never
      queried; `candidates`: bool `[N]`, what may be queried (default:
      all but validation).
    fit: `(state, key=None) -> (state, FitResult)`: fresh weights (or the
      `start`'s) trained on the labeled set with the paper's stopping rule.
    query: `(state, k, key=None) -> int32 [k]` dataset indices to label
      next; random while nothing is labeled.
    teach: `(state, indices, labels) -> state`: the round advances.
    evaluate: `(state, x, y) -> float` accuracy.
    logits: `(state, x, *, indices=None) -> float32 [n, C]` inference-mode
      logits of `x` (or of `x[indices]`), whose argmax `evaluate` counts.
    predict: `(state, x, key=None) -> probs [T, N, C]` (T = 1 without MC;
      an ensemble's M members).
    network: `(state) -> Network` the state's round trains.
    start: `(state, key=None, *, warm=None) -> (Network, TrainState,
      train_idx, val_idx, train_key)`: what `fit` trains, for drivers that
      train several states together (`train.fit_group`); `warm` overrides
      the `warm_start` rule.
    inputs: `(state, key=None) -> (candidates, inputs)`: the candidates
      `query` scores (dataset indices, ascending) and what the acquisition
      reads of them (`{"probs", "features"}`).
    select: `(state, k, candidates, inputs, key=None) -> [k]` dataset
      indices: `query`'s selection on `inputs`' output.
    x: the examples `[N, ...]` on device.
    acquisition: the `Acquisition` queries use.
  """
  init: Callable
  fit: Callable
  query: Callable
  teach: Callable
  evaluate: Callable
  predict: Callable
  logits: Callable
  network: Callable
  start: Callable
  inputs: Callable
  select: Callable
  x: jax.Array
  acquisition: acquisition_lib.Acquisition


def _as_method(model, optimizer) -> tuple[archopt.Method, Callable]:
  """`(method, tx_for(learning_rate, train_arch))` of a model (any Linen
  module, adapted) or a jaxdal method, and the optimiser to use."""
  if isinstance(model, (archopt.Method, archopt.SearchMethod)):
    if optimizer is None:
      return model, None
    return model, (lambda lr, train_arch=True: optimizer)
  if optimizer is None:
    raise ValueError("optimizer is required for a model (an optax "
                     "GradientTransformation, e.g. optax.adam(1e-3)); only "
                     "a jaxdal method brings its own")
  backbone = adapters.as_backbone(model)
  method = archopt.Method(model=backbone,
                          loss=losses.cross_entropy_loss(backbone),
                          optimizer=lambda lr, train_arch=True: optimizer,
                          architecture=lambda variables: None)
  return method, None


def _key(state: LearnerState, key) -> jax.Array:
  """`key`, or the state's round key when None."""
  return round_key(state) if key is None else key


def learner(model, optimizer: optax.GradientTransformation | None, x, *,
            acquisition: str | acquisition_lib.Acquisition = "entropy",
            num_classes: int | None = None,
            learning_rate: float | None = None,
            schedule: str = "constant",
            batch_size: int = 64, max_epochs: int = 50, patience: int = 10,
            target_train_accuracy: float | None = 0.99,
            mc_samples: int = 10, chunk: int = 1024,
            query_pool: int | None = None, augment: bool = False,
            warm_start: bool = False, start: Start | None = None,
            train_arch: bool = True,
            search: bool | None = None,
            ensemble: int = 1,
            progress: bool = False) -> Learner:
  """The loop's steps over the examples `x` and any model.

  Args:
    model: a Flax module (logits, or `(logits, features)`; a mode flag is
      adapted: `jaxdal.adapters`), or a `jaxdal.archopt` method (which
      brings its own loss and optimiser).
    optimizer: any optax `GradientTransformation` (None: the method's own).
      A plain one keeps its own learning rate; `learning_rate` and a
      `schedule` other than "constant" need one made with
      `optax.inject_hyperparams`, or a method's.
    x: `[N, ...]` examples (numpy or jax), the pool and validation alike.
    acquisition: a registered name or an `Acquisition`.
    num_classes: C, to check labels (default: not checked).
    learning_rate: the base rate a schedule anneals (a method's optimiser
      needs it; default 1e-3 there).
    schedule: per-epoch learning-rate schedule (`jaxdal.optim.SCHEDULES`).
    batch_size: examples per training step.
    max_epochs: at most this many epochs per fit.
    patience: stop after this many epochs without a better validation
      accuracy.
    target_train_accuracy: stop once the training accuracy reaches it
      (None: never); the stopping rule is `train.fit`'s.
    mc_samples: T for acquisitions that use MC dropout.
    chunk: rows per compiled prediction call.
    query_pool: score a fresh random sample of this many unlabeled
      candidates per query (None: all).
    augment: flip-and-crop training batches (images).
    warm_start: a fit continues from the previous fit's weights.
    start: the weights a fit starts from (pretrained, pre-optimised).
    train_arch: train a method's architecture parameters.
    search: a search method (PDARTS) searches in every `fit` (default:
      `train_arch`); False trains its default network. The network is
      always the one of `state.arch`, so a driver may set the architecture
      itself (the experiment programs' cached SPO and UPO searches).
    ensemble: M > 1 trains a deep ensemble of M networks (member m from
      `network.member_key(key, m)`) as one vmapped step; test accuracy and
      `logits` are the members' mean probabilities', and the acquisition
      reads the members' probabilities as its `[T, N, C]` samples (its
      features, if it uses them, are member 0's).
    progress: progress bars while training.

  Returns:
    A `Learner`.
  """
  x = labels_lib.examples("x", x)
  start = Start() if start is None else start
  acq = (acquisition_lib.get(acquisition) if isinstance(acquisition, str)
         else acquisition)
  acq_name = acquisition if isinstance(acquisition, str) else "given"
  method, tx_for = _as_method(model, optimizer)
  # A search method searches in every fit (and its state's architecture
  # names the network), unless told not to.
  searcher = (method if isinstance(method, archopt.SearchMethod)
              and (train_arch if search is None else search) else None)
  method = archopt.default_network(method)
  tx_for = tx_for or method.optimizer
  is_method = isinstance(model, (archopt.Method, archopt.SearchMethod))
  if is_method and optimizer is not None and not train_arch:
    raise ValueError("train_arch=False freezes a method's architecture "
                     "through its own optimizer; leave optimizer=None")
  # A method's own optimiser has an injected rate (1e-3 unless given); a
  # plain optax one keeps its own.
  lr = learning_rate if learning_rate is not None else (
      1e-3 if is_method and optimizer is None else None)
  if schedule != "constant" and lr is None:
    raise ValueError(f"schedule {schedule!r} anneals a learning rate: give "
                     f"learning_rate and an optimizer made with "
                     f"optax.inject_hyperparams, or schedule='constant'")
  x_all = sharding.replicated(jnp.asarray(x))  # as the steps' inputs
  n = x_all.shape[0]
  if acq.uses_features and not is_method:  # jaxdal's models give features
    missing = adapters.features_missing(method.model, x_all[:1])
    if missing:
      raise ValueError(f"acquisition {acq_name!r} needs features: "
                       f"{missing}")
  if isinstance(ensemble, bool) or not isinstance(ensemble, int) or (
      ensemble < 1):
    raise ValueError(f"ensemble must be a positive integer, got "
                     f"{ensemble!r}")
  if ensemble > 1 and (searcher is not None or warm_start):
    raise ValueError(f"ensemble {ensemble} trains fresh members of one "
                     f"network each fit: not with a searching method or "
                     f"warm_start")
  networks = {}  # one per architecture: an unchanged one never recompiles

  def network(state):
    m, tag = method, ""
    if searcher is not None and state.arch is not None:
      m, tag = (searcher.adopt(state.arch.found),
                searcher.identity(state.arch.found))
    if tag not in networks:
      networks[tag] = make_network(
          m, tx_for(lr, train_arch=train_arch), acq, mc_samples=mc_samples,
          chunk=chunk, augment=augment, members=ensemble)
    return networks[tag]
  select_jit = jax.jit(acq.select, static_argnums=1)
  fit_kwargs = dict(batch_size=batch_size, max_epochs=max_epochs,
                    learning_rate=lr, patience=patience,
                    target_train_accuracy=target_train_accuracy,
                    schedule=schedule, progress=progress)

  def init(key, *, labeled=None, labels=None, validation=None,
           val_labels=None, candidates=None) -> LearnerState:
    if isinstance(key, int):  # a seed
      key = jax.random.key(key)
    pool, y = labels_lib.given_pool(
        n, num_classes, labeled=labeled, labels=labels,
        validation=validation, val_labels=val_labels, candidates=candidates)
    return LearnerState(None, pool, sharding.replicated(jnp.asarray(y)), key)

  def start_fit(state: LearnerState, key=None, *, warm=None):
    key_r = _key(state, key)
    net = network(state)
    if warm is None:  # a searched network is new: nothing to warm from
      warm = warm_start and state.train is not None and searcher is None
    if warm:
      ts = state.train._replace(opt_state=net.tx.init(state.train.params))
    else:
      ts = initial_state(net.method, net.tx, jax.random.fold_in(key_r, INIT),
                         tuple(x_all.shape[1:]), start, members=ensemble)
    train_idx = data_lib.labeled_indices(state.pool)
    if not len(train_idx):
      raise ValueError("fit needs labeled examples; query and teach some "
                       "first (or init with labeled=..., labels=...)")
    return (net, ts, train_idx,
            np.flatnonzero(np.asarray(state.pool.validation)),
            jax.random.fold_in(key_r, TRAIN))

  def search(state: LearnerState, key_r) -> LearnerState:
    """The search step of a fit: weights on the labeled set, the
    architecture on the validation split (half the labeled set without
    one), as ArchDAL's joint mode."""
    lab, val = search_split(state.pool)
    found = searcher.search(x_all[lab], state.labels[lab], x_all[val],
                            state.labels[val],
                            jax.random.fold_in(key_r, SEARCH), progress)
    return state._replace(arch=Architecture(json.dumps(found)))

  def fit(state: LearnerState, key=None):
    if searcher is not None:
      state = search(state, _key(state, key))
    net, ts, train_idx, val_idx, train_key = start_fit(state, key)
    ts, result = fit_network(net, ts, x_all, state.labels, train_idx,
                             val_idx, train_key, **fit_kwargs)
    return state._replace(train=ts), result

  def variables(state, m: int = 0):
    if state.train is None:
      raise ValueError("the learner has not been fitted: call fit(state) "
                       "after teaching some labels")
    return network_variables(state.train, m, ensemble)

  def select(state, k, cand, inputs, key=None):
    key_r = _key(state, key)
    avail = data_lib.available(state.pool)[cand]
    acquisition_lib.check_budget(k, avail)
    local = select_jit(jax.random.fold_in(key_r, SELECT), k, avail,
                       labeled=state.pool.labeled[cand], **inputs)
    # The one place candidate positions become dataset indices.
    return cand[np.asarray(local)].astype(np.int32)

  def inputs(state: LearnerState, key=None):
    key_r = _key(state, key)
    all_cand = np.flatnonzero(np.asarray(state.pool.candidate))
    cand = query_candidates(
        all_cand, np.asarray(data_lib.available(state.pool))[all_cand],
        query_pool, jax.random.fold_in(key_r, QUERY_POOL))
    key_p = jax.random.fold_in(key_r, PREDICT)
    out = predict_lib.acquisition_inputs(
        acq, network(state).predictor, variables(state), x_all, key_p, cand)
    if ensemble > 1 and out["probs"] is not None:
      out = {**out, "probs": member_probs(network(state), state.train,
                                          x_all, key_p, cand, out["probs"])}
    return cand, out

  def query(state: LearnerState, k: int, key=None) -> np.ndarray:
    key_r = _key(state, key)
    if not bool(state.pool.labeled.any()):
      avail = data_lib.available(state.pool)
      acquisition_lib.check_budget(k, avail)
      return np.asarray(acquisition_lib.random(
          jax.random.fold_in(key_r, SELECT), k, avail))
    cand, acq_inputs = inputs(state, key_r)
    return select(state, k, cand, acq_inputs, key_r)

  def teach(state: LearnerState, indices, labels) -> LearnerState:
    indices = labels_lib.index_vector("indices", indices)
    y = labels_lib.class_ids("labels", labels, len(indices), num_classes)
    pool = data_lib.acquire(state.pool, indices)
    new = np.asarray(state.labels).copy()
    new[indices] = y
    # Replicated over a device mesh, as `init` placed them: one sharding.
    return state._replace(pool=pool,
                          labels=sharding.replicated(jnp.asarray(new)))

  def evaluate(state: LearnerState, x_eval, y_eval, *, indices=None,
               chunk: int = 512) -> float:
    x_eval = labels_lib.examples("x", x_eval)
    if not isinstance(y_eval, jax.Array):  # device arrays stay as placed
      y_eval = labels_lib.class_ids("y", y_eval, x_eval.shape[0], num_classes)
    x_eval, y_eval = sharding.replicated((jnp.asarray(x_eval),
                                          jnp.asarray(y_eval)))
    idx = np.arange(x_eval.shape[0]) if indices is None else indices
    variables(state)  # fitted, or a one-line error
    if ensemble > 1:  # the members' mean probabilities
      guess = logits(state, x_eval, indices=idx, chunk=chunk).argmax(-1)
      return int(np.sum(guess == np.asarray(y_eval)[idx])) / len(idx)
    return train.evaluate(network(state).trainer, state.train, x_eval, y_eval,
                          idx, chunk=chunk)

  def logits(state: LearnerState, x_eval, *, indices=None,
             chunk: int = 512) -> np.ndarray:
    x_eval = sharding.replicated(jnp.asarray(labels_lib.examples("x",
                                                                 x_eval)))
    idx = np.arange(x_eval.shape[0]) if indices is None else indices
    variables(state)  # fitted, or a one-line error
    return network_logits(network(state), state.train, x_eval, idx,
                          chunk=chunk)

  def predict(state: LearnerState, x_new, key=None):
    x_new = jnp.asarray(labels_lib.examples("x", x_new))
    key = jax.random.fold_in(round_key(state), PREDICT) if key is None \
        else key
    if ensemble > 1:
      variables(state)  # fitted, or a one-line error
      return member_probs(network(state), state.train, x_new, key)
    return predict_lib.predict_probs(network(state).predictor,
                                     variables(state), x_new, key)

  return Learner(init=init, fit=fit, query=query, teach=teach,
                 evaluate=evaluate, predict=predict, logits=logits,
                 network=network,
                 start=start_fit, inputs=inputs, select=select, x=x_all,
                 acquisition=acq)
