"""The architecture of a transformer text encoder (`EncoderConfig`) and
how it is read from a Hugging Face `config.json`."""

import dataclasses
import functools
import json
import os

import jax

from jaxdal import hub

__all__ = ["ACTIVATIONS", "EncoderConfig", "VARIANTS", "checkpoint_config",
           "config_from_hf", "read_config"]

VARIANTS = ("bert", "distilbert", "roberta")
ACTIVATIONS = {
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "relu": jax.nn.relu,
}


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Architecture of one encoder (hashable: it is a module attribute).

  Attributes:
    variant: "bert", "distilbert" or "roberta".
    vocab_size: V.
    hidden_size: H.
    num_layers: transformer blocks.
    num_heads: attention heads (H divisible by it).
    intermediate_size: width of the feed-forward block.
    max_position: position embeddings (RoBERTa's count the padding offset).
    type_vocab_size: token types (0: no token-type embedding).
    layer_norm_eps: LayerNorm epsilon.
    hidden_dropout: dropout on embeddings and block outputs.
    attention_dropout: dropout on attention weights.
    classifier_dropout: dropout before the head's layers.
    pad_token_id: the padding id (RoBERTa's position offset).
    activation: feed-forward activation, a key of `ACTIVATIONS`.
  """
  variant: str = "bert"
  vocab_size: int = 30522
  hidden_size: int = 768
  num_layers: int = 12
  num_heads: int = 12
  intermediate_size: int = 3072
  max_position: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12
  hidden_dropout: float = 0.1
  attention_dropout: float = 0.1
  classifier_dropout: float = 0.1
  pad_token_id: int = 0
  activation: str = "gelu"

  def __post_init__(self):
    if self.variant not in VARIANTS:
      raise ValueError(f"unknown encoder variant {self.variant!r}; valid: "
                       f"{', '.join(VARIANTS)}")
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"unknown activation {self.activation!r}; valid: "
                       f"{', '.join(ACTIVATIONS)}")
    if self.hidden_size % self.num_heads:
      raise ValueError(f"hidden_size {self.hidden_size} is not divisible by "
                       f"num_heads {self.num_heads}")


def config_from_hf(hf: dict) -> EncoderConfig:
  """`EncoderConfig` of a Hugging Face `config.json` (as a dict).

  Raises:
    ValueError: a model type other than bert, distilbert or roberta, or a
      setting jaxdal's encoders do not implement.
  """
  kind = hf.get("model_type")
  if kind not in VARIANTS:
    raise ValueError(f"unsupported model_type {kind!r}; valid: "
                     f"{', '.join(VARIANTS)}")
  if kind == "distilbert":
    if hf.get("sinusoidal_pos_embds", False):
      raise ValueError("distilbert with sinusoidal_pos_embds is not "
                       "supported; valid: learned position embeddings")
    return EncoderConfig(
        variant=kind, vocab_size=hf["vocab_size"], hidden_size=hf["dim"],
        num_layers=hf["n_layers"], num_heads=hf["n_heads"],
        intermediate_size=hf["hidden_dim"],
        max_position=hf["max_position_embeddings"], type_vocab_size=0,
        layer_norm_eps=1e-12, hidden_dropout=hf["dropout"],
        attention_dropout=hf["attention_dropout"],
        classifier_dropout=hf["seq_classif_dropout"],
        pad_token_id=hf.get("pad_token_id", 0),
        activation=hf.get("activation", "gelu"))
  embedding = hf.get("position_embedding_type", "absolute")
  if embedding != "absolute":
    raise ValueError(f"position_embedding_type {embedding!r} is not "
                     f"supported; valid: absolute")
  head_dropout = hf.get("classifier_dropout")
  return EncoderConfig(
      variant=kind, vocab_size=hf["vocab_size"],
      hidden_size=hf["hidden_size"], num_layers=hf["num_hidden_layers"],
      num_heads=hf["num_attention_heads"],
      intermediate_size=hf["intermediate_size"],
      max_position=hf["max_position_embeddings"],
      type_vocab_size=hf["type_vocab_size"],
      layer_norm_eps=hf["layer_norm_eps"],
      hidden_dropout=hf["hidden_dropout_prob"],
      attention_dropout=hf["attention_probs_dropout_prob"],
      classifier_dropout=(hf["hidden_dropout_prob"] if head_dropout is None
                          else head_dropout),
      pad_token_id=hf.get("pad_token_id", 1 if kind == "roberta" else 0),
      activation=hf.get("hidden_act", "gelu"))


def read_config(folder: str) -> EncoderConfig:
  """The `EncoderConfig` of a checkpoint folder's `config.json`."""
  path = os.path.join(folder, "config.json")
  if not os.path.isfile(path):
    raise hub.CheckpointNotFoundError(f"{folder!r} has no config.json; give "
                                      f"a Hugging Face checkpoint folder")
  with open(path) as f:
    return config_from_hf(json.load(f))


@functools.lru_cache(maxsize=16)
def checkpoint_config(checkpoint: str, dropout_rate: float | None = None
                      ) -> EncoderConfig:
  """The `EncoderConfig` of a checkpoint (folder, hub id or "minilm");
  `dropout_rate` (unless None) replaces its dropout rates."""
  config = read_config(hub.resolve(checkpoint))
  if dropout_rate is not None:
    if not 0 <= dropout_rate < 1:
      raise ValueError(f"dropout_rate must be in [0, 1) (or None: the "
                       f"checkpoint's), got {dropout_rate!r}")
    config = dataclasses.replace(config, hidden_dropout=dropout_rate,
                                 attention_dropout=dropout_rate,
                                 classifier_dropout=dropout_rate)
  return config
