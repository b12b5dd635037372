"""DeepCluster-style unsupervised pretraining (Caron et al., 2018), the
paper's seventh strategy (after Siméoni et al., 2021).

Alternate: (1) k-means (k-means++ seeding) on the L2-normalised
penultimate features of every training image gives pseudo-labels; (2) the
network, with a freshly initialised classifier, trains on them for a number
of steps, drawing examples uniformly over clusters so that no cluster
swallows the others. The trained body (everything but the classifier)
then initialises the model of every active-learning round.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from jaxdal import diagnostics
from jaxdal import predict as predict_lib
from jaxdal import train as train_lib
from jaxdal.acquisition.kmeans import kmeans

if TYPE_CHECKING:
  from jaxdal import archopt

__all__ = ["PretrainResult", "deepcluster", "purity", "transfer_body", "whiten"]


@jax.jit
def whiten(features: jax.Array) -> jax.Array:
  """PCA-whitened, then L2-normalised rows, as DeepCluster clusters them.

  `[N, D] -> [N, D]`; directions of near-zero variance are damped by a
  small ridge rather than blown up.
  """
  f = features.astype(jnp.float32)
  f = f - f.mean(0)
  cov = f.T @ f / f.shape[0]
  evals, evecs = jnp.linalg.eigh(cov)
  w = f @ evecs / jnp.sqrt(evals + 1e-5 * jnp.max(evals) + 1e-12)
  return w / (jnp.linalg.norm(w, axis=1, keepdims=True) + 1e-8)


def purity(assignment: np.ndarray, labels: np.ndarray) -> float:
  """Share of examples whose cluster's majority label is their own label."""
  assignment, labels = np.asarray(assignment), np.asarray(labels)
  hits = sum(np.bincount(labels[assignment == c]).max()
             for c in np.unique(assignment))
  return hits / len(labels)


def transfer_body(pretrained: dict, fresh: dict) -> dict:
  """`fresh` variables with everything but `params/classifier` pretrained."""
  params = {**pretrained["params"], "classifier": fresh["params"]["classifier"]}
  return {**fresh, **{k: v for k, v in pretrained.items() if k != "params"},
          "params": params}


class PretrainResult(NamedTuple):
  """Pretrained variables and what the alternation did.

  Attributes:
    variables: the network's variables after the last epoch.
    assignments: int `[N]` cluster assignments, one per epoch (their
      agreement across epochs is DeepCluster's convergence signal).
    losses: mean training loss per epoch.
    compilations: XLA compilations per epoch (0 after the first: every
      epoch has the same shapes).
  """
  variables: dict
  assignments: list[np.ndarray]
  losses: list[float]
  compilations: list[int]


def deepcluster(
    build: Callable[[int], "archopt.Method"],
    x: jax.Array,
    key: jax.Array,
    *,
    num_clusters: int,
    epochs: int = 5,
    steps_per_epoch: int = 50,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    kmeans_iters: int = 20,
    chunk: int = 1024,
    progress: bool = True,
) -> PretrainResult:
  """DeepCluster on inputs `x` `[N, ...]`, no labels used.

  Epoch e uses `fold_in(key, e)` for clustering (stream 0), the classifier
  re-initialisation (1), the cluster-uniform batch draws (2) and dropout (3).

  Args:
    build: `num_classes -> Method` (model, loss, optimiser), called with
      `num_clusters`; `archopt.fixed` wraps a plain backbone.
    x: training inputs.
    key: root key of the pretraining.
    num_clusters: k of k-means (the paper: the number of classes).
    epochs: alternations of clustering and training.
    steps_per_epoch: training steps per alternation.
    batch_size: fixed training batch size.
    learning_rate: base learning rate of the method's optimiser.
    kmeans_iters: Lloyd iterations per clustering.
    chunk: rows per compiled feature-extraction call.
    progress: show a progress bar.

  Returns:
    `PretrainResult`.
  """
  method = build(num_clusters)
  model = method.model
  tx = method.optimizer(learning_rate, train_arch=True)
  trainer = train_lib.make_trainer(model, tx, method.loss)
  predictor = predict_lib.make_predictor(model, chunk=chunk)
  n = x.shape[0]
  n_all = jnp.asarray(n, jnp.float32)  # KL terms divide by every image
  state = train_lib.init_state(model, tx, jax.random.fold_in(key, 10_000),
                               x.shape[1:])
  all_rows = np.arange(n)
  losses, assignments, compilations = [], [], []
  for epoch in tqdm(range(epochs), desc="deepcluster", unit="epoch",
                    leave=False, disable=None if progress else True):
    compiled_before = diagnostics.compilations()
    k_e = jax.random.fold_in(key, epoch)
    variables = {"params": state.params, **state.model_state}
    feats = predict_lib.features(predictor, variables, x, all_rows,
                                 jax.random.fold_in(k_e, 4))
    feats = whiten(feats)
    _, assignment = kmeans(feats, num_clusters, jax.random.fold_in(k_e, 0),
                           iters=kmeans_iters)
    assignments.append(np.asarray(assignment))
    # Fresh classifier: cluster ids have no meaning across epochs.
    fresh = train_lib.init_state(model, tx, jax.random.fold_in(k_e, 1),
                                 x.shape[1:])
    params = {**state.params, "classifier": fresh.params["classifier"]}
    state = state._replace(params=params, opt_state=tx.init(params))
    state = train_lib.set_learning_rate(state, learning_rate)
    counts = jnp.bincount(assignment, length=num_clusters)
    weights = 1.0 / counts[assignment]
    batches = jax.random.choice(
        jax.random.fold_in(k_e, 2), n, (steps_per_epoch, batch_size),
        p=weights / weights.sum())
    mask = jnp.ones((batch_size,), bool)
    k_drop = jax.random.fold_in(k_e, 3)
    epoch_losses = []
    for s in range(steps_per_epoch):
      state, out = trainer.train_step(state, x, assignment,
                                      batches[s].astype(jnp.int32), mask,
                                      jax.random.fold_in(k_drop, s), n_all)
      epoch_losses.append(out["loss"])
    losses.append(float(np.mean(jax.device_get(epoch_losses))))
    compilations.append(diagnostics.compilations() - compiled_before)
  variables = {"params": state.params, **state.model_state}
  return PretrainResult(variables=variables, assignments=assignments,
                        losses=losses, compilations=compilations)
