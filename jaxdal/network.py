"""A round's network: a method's model with its optimiser, jitted steps
and predictor (`Network`, built once per architecture), and the weights a
fit starts from (`Start`, `initial_state`).
"""

from typing import NamedTuple

import optax

from jaxdal import acquisition as acquisition_lib
from jaxdal import archopt, pretrain, train
from jaxdal import predict as predict_lib

__all__ = ["Network", "Start", "initial_state", "make_network"]


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


def make_network(method: archopt.Method, tx: optax.GradientTransformation,
                 acq: acquisition_lib.Acquisition, *, mc_samples: int,
                 chunk: int, augment: bool = False) -> Network:
  """`method`'s jitted steps and the predictor `acq` needs."""
  return Network(
      method, tx,
      train.make_trainer(method.model, tx, method.loss, augment=augment),
      predict_lib.make_predictor_for(method.model, acq,
                                     mc_samples=mc_samples, chunk=chunk))


def initial_state(method: archopt.Method, tx, key, input_shape,
                  start: Start) -> train.TrainState:
  """A fit's fresh state: new weights from `key`, then `start`'s."""
  state = train.init_state(method.model, tx, key, input_shape)
  if start.variables is None:
    return state
  fresh = {"params": state.params, **state.model_state}
  v = (dict(start.variables) if start.keep == "all"
       else pretrain.transfer_body(start.variables, fresh))
  params = v.pop("params")
  return state._replace(params=params, model_state=v,
                        opt_state=tx.init(params))
