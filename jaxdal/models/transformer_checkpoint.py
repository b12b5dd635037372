"""Hugging Face checkpoints onto jaxdal's Linen encoders: tensors read with
`safetensors.numpy` and mapped name by name; a tensor the map does not claim
(but for the known pretraining heads) or a parameter it does not fill (but
for the new head) is an error. Never unpickles."""

import functools
import os

import jax.numpy as jnp
import numpy as np

from jaxdal import hub
from jaxdal.models.encoder_config import EncoderConfig

__all__ = ["HEADS", "assign_names", "canonical_name", "checkpoint_params",
           "insert_pretrained", "map_tensors", "name_map", "weights_file"]

# Tensors of the pretraining objectives (and of fine-tuned heads, which a
# new task replaces), known and deliberately not loaded.
HEADS = {
    "bert": ("cls.", "classifier.", "embeddings.position_ids"),
    "distilbert": ("vocab_transform.", "vocab_layer_norm.",
                   "vocab_projector.", "pre_classifier.", "classifier."),
    "roberta": ("lm_head.", "pooler.", "classifier.",
                "embeddings.position_ids"),
}
# Old BERT checkpoints (bert-base-uncased) name LayerNorm parameters
# gamma and beta.
_LEGACY = {".gamma": ".weight", ".beta": ".bias"}


def name_map(config: EncoderConfig) -> dict[str, tuple[tuple[str, ...],
                                                       bool]]:
  """Hugging Face tensor name (model prefix removed) -> (Linen parameter
  path, transpose?) for every parameter the checkpoint provides.

  Dense weights are `[out, in]` in torch and kernels `[in, out]` in Linen,
  hence the transpose.
  """
  names = {}

  def dense(hf, path):
    names[f"{hf}.weight"] = ((*path, "kernel"), True)
    names[f"{hf}.bias"] = ((*path, "bias"), False)

  def norm(hf, path):
    names[f"{hf}.weight"] = ((*path, "scale"), False)
    names[f"{hf}.bias"] = ((*path, "bias"), False)

  emb = ("encoder", "embeddings")
  names["embeddings.word_embeddings.weight"] = ((*emb, "word", "embedding"),
                                                False)
  names["embeddings.position_embeddings.weight"] = (
      (*emb, "position", "embedding"), False)
  if config.type_vocab_size:
    names["embeddings.token_type_embeddings.weight"] = (
        (*emb, "token_type", "embedding"), False)
  norm("embeddings.LayerNorm", (*emb, "norm"))
  for i in range(config.num_layers):
    p = ("encoder", f"layer_{i}")
    a = (*p, "attention")
    if config.variant == "distilbert":
      t = f"transformer.layer.{i}"
      for hf, ours in (("q_lin", "query"), ("k_lin", "key"),
                       ("v_lin", "value"), ("out_lin", "output")):
        dense(f"{t}.attention.{hf}", (*a, ours))
      norm(f"{t}.sa_layer_norm", (*p, "attention_norm"))
      dense(f"{t}.ffn.lin1", (*p, "intermediate"))
      dense(f"{t}.ffn.lin2", (*p, "output"))
      norm(f"{t}.output_layer_norm", (*p, "output_norm"))
    else:
      t = f"encoder.layer.{i}"
      for ours in ("query", "key", "value"):
        dense(f"{t}.attention.self.{ours}", (*a, ours))
      dense(f"{t}.attention.output.dense", (*a, "output"))
      norm(f"{t}.attention.output.LayerNorm", (*p, "attention_norm"))
      dense(f"{t}.intermediate.dense", (*p, "intermediate"))
      dense(f"{t}.output.dense", (*p, "output"))
      norm(f"{t}.output.LayerNorm", (*p, "output_norm"))
  if config.variant == "bert":
    dense("pooler.dense", ("pooler",))
  return names


def canonical_name(name: str, variant: str) -> str:
  """`bert.encoder.layer.0...LayerNorm.gamma` -> `encoder.layer.0...
  LayerNorm.weight`: the model prefix removed, legacy names renamed."""
  prefix = variant + "."
  if name.startswith(prefix):
    name = name[len(prefix):]
  for old, new in _LEGACY.items():
    if name.endswith(old) and "LayerNorm" in name:
      name = name[: -len(old)] + new
  return name


def assign_names(names, config: EncoderConfig, source: str = "checkpoint"
                 ) -> dict[str, tuple[tuple[str, ...], bool]]:
  """Checkpoint tensor names -> (Linen path, transpose?) of those loaded.

  Every name must be mapped (`name_map`) or belong to a known head
  (`HEADS`, dropped), and every mapped parameter must be named.

  Raises:
    ValueError: unused or missing tensors; the message names a few.
  """
  expected = name_map(config)
  assigned, unused = {}, []
  for name in names:
    key = canonical_name(name, config.variant)
    if key in expected:
      assigned[name] = expected.pop(key)
    elif not key.startswith(HEADS[config.variant]):
      unused.append(name)
  if unused:
    raise ValueError(f"{source}: {len(unused)} tensors jaxdal's "
                     f"{config.variant} does not use, e.g. {unused[:3]}")
  if expected:
    raise ValueError(f"{source}: {len(expected)} {config.variant} tensors "
                     f"missing, e.g. {sorted(expected)[:3]}")
  return assigned


def map_tensors(tensors: dict[str, np.ndarray], config: EncoderConfig,
                source: str = "checkpoint") -> dict:
  """Checkpoint tensors -> the nested Linen parameters they fill
  (`assign_names` decides which go where)."""
  params = {}
  for name, (path, transpose) in assign_names(tensors, config,
                                              source).items():
    node = params
    for part in path[:-1]:
      node = node.setdefault(part, {})
    value = tensors[name]
    node[path[-1]] = np.asarray(value.T if transpose else value, np.float32)
  return params


def weights_file(folder: str) -> str:
  """`folder/model.safetensors`; a clear error when only a pickle exists."""
  path = os.path.join(folder, "model.safetensors")
  if os.path.isfile(path):
    return path
  if os.path.isfile(os.path.join(folder, "pytorch_model.bin")):
    raise hub.CheckpointNotFoundError(
        f"{folder!r} has only pytorch_model.bin, a pickle jaxdal never "
        f"loads; convert it once where torch is installed: python -c \"from "
        f"transformers import AutoModel; AutoModel.from_pretrained('{folder}')"
        f".save_pretrained('<out>')\" and pass <out> (it writes "
        f"model.safetensors)")
  raise hub.CheckpointNotFoundError(f"{folder!r} has no model.safetensors")


@functools.lru_cache(maxsize=4)
def checkpoint_params(folder: str, config: EncoderConfig) -> dict:
  """The Linen parameters a checkpoint folder provides (read once)."""
  from safetensors.numpy import load_file  # Only loading needs it.
  return map_tensors(load_file(weights_file(folder)), config, folder)


def insert_pretrained(variables: dict, pretrained: dict) -> dict:
  """`variables` with the pretrained parameters in place (shapes must
  agree); the rest (the new head) keeps its initialisation."""
  def merge(node, new, path):
    out = dict(node)
    for key, value in new.items():
      if key not in node:
        raise ValueError(f"checkpoint parameter {'/'.join((*path, key))} has "
                         f"no place in the model")
      if isinstance(value, dict):
        out[key] = merge(node[key], value, (*path, key))
      elif tuple(node[key].shape) != value.shape:
        raise ValueError(f"checkpoint parameter {'/'.join((*path, key))} has "
                         f"shape {value.shape}, the model "
                         f"{tuple(node[key].shape)}")
      else:
        out[key] = jnp.asarray(value)
    return out

  return {**variables, "params": merge(variables["params"], pretrained, ())}
