"""A round's network: a method's model with its optimiser, jitted steps
and predictor (`Network`, built once per architecture), and the weights a
fit starts from (`Start`, `initial_state`).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdal import acquisition as acquisition_lib
from jaxdal import archopt, pretrain, seeds, train
from jaxdal import predict as predict_lib
from jaxdal.evaluation import evaluate_logits
from jaxdal.stopping import FitResult

__all__ = ["Network", "Start", "fit", "initial_state", "logits",
           "make_network", "member", "member_key", "member_probs",
           "variables"]


class Start(NamedTuple):
  """The weights every fit starts from: None (fresh), a pretrained body
  (`keep="body"`, a fresh classifier) or a whole network (`keep="all"`)."""
  variables: dict | None = None
  keep: str = "body"


class Network(NamedTuple):
  """A method's network with its optimiser, jitted steps and predictor;
  built once per architecture, so an unchanged one never recompiles."""
  method: archopt.Method
  tx: optax.GradientTransformation
  trainer: train.Trainer
  predictor: predict_lib.Predictor
  # A deep ensemble's size, and the vmapped steps its members train with
  # (`seeds.together`); 1 and None for one network.
  members: int = 1
  together: train.Stepper | None = None


def make_network(method: archopt.Method, tx: optax.GradientTransformation,
                 acq: acquisition_lib.Acquisition, *, mc_samples: int,
                 chunk: int, augment: bool = False,
                 members: int = 1) -> Network:
  """`method`'s jitted steps and the predictor `acq` needs. With `members`
  > 1 (a deep ensemble) the predictor makes one deterministic pass per
  member: the members' probabilities are the acquisition's `[T, N, C]`
  samples, in place of MC dropout."""
  mc = 0 if members > 1 else mc_samples
  return Network(
      method, tx,
      train.make_trainer(method.model, tx, method.loss, augment=augment),
      predict_lib.make_predictor_for(method.model, acq, mc_samples=mc,
                                     chunk=chunk),
      members,
      seeds.together(method.model, tx, method.loss, augment=augment)
      if members > 1 else None)


def member_key(key: jax.Array, m: int) -> jax.Array:
  """Ensemble member m's key: `key` itself for member 0 (so a one-member
  ensemble is the plain network), `fold_in(key, m)` for the others."""
  return key if m == 0 else jax.random.fold_in(key, m)


def member(state, m: int, members: int):
  """Member m of a stacked ensemble state (`[M, ...]` leaves); `state`
  itself when `members` is 1."""
  return state if members == 1 else jax.tree.map(lambda leaf: leaf[m], state)


def variables(state: train.TrainState, m: int = 0, members: int = 1) -> dict:
  """Member m's `{"params": ..., **model_state}` (the state's own for one
  network), as the model's `apply` takes them."""
  ts = member(state, m, members)
  return {"params": ts.params, **ts.model_state}


def member_probs(net: Network, state: train.TrainState, x_all: jax.Array,
                 key: jax.Array, indices: np.ndarray | None = None,
                 first: jax.Array | None = None) -> jax.Array:
  """`[M, P, C]` probabilities of `x_all[indices]`, one deterministic pass
  per member; member 0's may be given (`first`, `[1, P, C]`) if made."""
  probs = [first if first is not None else predict_lib.predict_probs(
      net.predictor, variables(state, 0, net.members), x_all, key, indices)]
  probs += [predict_lib.predict_probs(net.predictor,
                                      variables(state, m, net.members),
                                      x_all, key, indices)
            for m in range(1, net.members)]
  return jnp.concatenate(probs, axis=0)


def logits(net: Network, state: train.TrainState, x_all: jax.Array,
           indices: np.ndarray, *, chunk: int = 512) -> np.ndarray:
  """`[n, C]` float32 logits of `x_all[indices]` (`evaluate_logits`); an
  ensemble's are the log of its members' mean probabilities."""
  if net.members == 1:
    return evaluate_logits(net.trainer, state, x_all, indices, chunk=chunk)
  probs = np.mean([jax.nn.softmax(evaluate_logits(
      net.trainer, member(state, m, net.members), x_all, indices,
      chunk=chunk)) for m in range(net.members)], axis=0)
  return np.log(np.maximum(probs, 1e-30)).astype(np.float32)


def initial_state(method: archopt.Method, tx, key, input_shape,
                  start: Start, members: int = 1) -> train.TrainState:
  """A fit's fresh state: new weights from `key`, then `start`'s; for an
  ensemble of `members`, their states stacked (`[M, ...]` leaves), member
  m's weights from `member_key(key, m)`."""
  if members > 1:
    return seeds.stack([initial_state(method, tx, member_key(key, m),
                                      input_shape, start)
                        for m in range(members)])
  state = train.init_state(method.model, tx, key, input_shape)
  if start.variables is None:
    return state
  fresh = {"params": state.params, **state.model_state}
  v = (dict(start.variables) if start.keep == "all"
       else pretrain.transfer_body(start.variables, fresh))
  params = v.pop("params")
  return state._replace(params=params, model_state=v,
                        opt_state=tx.init(params))


def fit(net: Network, state: train.TrainState, x_all: jax.Array,
        y_all: jax.Array, train_idx: np.ndarray, val_idx: np.ndarray,
        key: jax.Array, **kwargs) -> tuple[train.TrainState, FitResult]:
  """`train.fit` of `net`, or of its ensemble: the `members` stacked
  states train as one vmapped step (`train.fit_group`), member m with the
  key `member_key(key, m)` and its own stopping rule, so each member ends
  as `train.fit` of it alone would, up to the rounding of batched layers.

  Returns:
    `(state, FitResult)`; an ensemble's result has the most epochs and
    steps any member ran, the members' mean accuracies and loss, and their
    stop reasons joined by "+" where they differ ("diverged" if any
    member's loss stopped being finite).
  """
  if net.members == 1:
    return train.fit(net.trainer, state, x_all, y_all, train_idx, val_idx,
                     key, **kwargs)
  m = net.members
  fitted = train.fit_group(
      net.together, seeds.unstack(state, m), x_all, y_all, [train_idx] * m,
      [val_idx] * m, [member_key(key, i) for i in range(m)], **kwargs)
  results = [r for _, r in fitted]
  reasons = sorted({r.stop_reason for r in results})
  return seeds.stack([s for s, _ in fitted]), FitResult(
      epochs=max(r.epochs for r in results),
      train_accuracy=float(np.mean([r.train_accuracy for r in results])),
      val_accuracy=float(np.mean([r.val_accuracy for r in results])),
      best_val_accuracy=float(np.mean([r.best_val_accuracy
                                       for r in results])),
      stop_reason=("diverged" if "diverged" in reasons
                   else "+".join(reasons)),
      steps=max(r.steps for r in results),
      train_loss=float(np.mean([r.train_loss for r in results])))
