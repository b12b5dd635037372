"""Transformer text encoders: BERT, DistilBERT and RoBERTa as one Linen
family, loading Hugging Face checkpoints without torch.

Variants (the architecture follows each Hugging Face model):
- **bert**: word + position + token-type embeddings, post-LayerNorm
  blocks, a tanh pooler over the first token; features = the pooler.
- **distilbert**: no token types, no pooler, dropout only on attention
  weights and after the feed-forward block; head `pre_classifier` + ReLU.
- **roberta**: BERT's blocks, position ids counted from `padding_idx + 1`
  over the non-padding tokens; head dense + tanh over the first token.

Inputs are token arrays `x` `[B, 3, L]` (input ids, attention mask, token
type ids; any dtype, cast to int32), so text flows through the same pool,
training and prediction code as images. `features` is exactly the input
of the final Dense "classifier" (before its dropout), so BADGE's embedding
is the true last-layer gradient. Dropout uses the `'dropout'` rng: in
training each example gets its own masks, with `mc=True` (MC dropout)
one mask per sample is shared by the batch, as in every jaxdal backbone.

Checkpoints (`load_pretrained`) are read by `transformer_checkpoint`
(architectures by `encoder_config`). A module built with a `checkpoint`
initialises to it: `model.init` gives the checkpoint's encoder and a
fresh classification head, so every round (and DeepCluster) starts from
the pretrained weights.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdal import hub
from jaxdal.models.encoder_config import (
    ACTIVATIONS,
    EncoderConfig,
    checkpoint_config,
    read_config,
)
from jaxdal.models.transformer_checkpoint import (
    checkpoint_params,
    insert_pretrained,
)

__all__ = ["Block", "Embeddings", "Encoder", "SelfAttention", "TextClassifier",
           "bert", "distilbert", "drop", "load_pretrained", "minilm",
           "position_ids", "pretrained", "random_encoder", "roberta",
           "split_tokens"]

_INIT = nn.initializers.normal(0.02)  # Hugging Face's initializer_range


def drop(module: nn.Module, x: jax.Array, rate: float, *, train: bool,
         mc: bool) -> jax.Array:
  """Inverted dropout on the `'dropout'` rng of `module`.

  In training every example gets its own mask; in MC mode (`mc=True`,
  `train=False`) one mask `[1, ...]` is shared by the batch, so a sample
  depends only on its key, never on chunk size or pool order.
  """
  if not (train or mc) or rate == 0.0:
    return x
  shape = x.shape if train else (1, *x.shape[1:])
  keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate, shape)
  return jnp.where(keep, x / (1.0 - rate), 0.0)


def position_ids(input_ids: jax.Array, config: EncoderConfig) -> jax.Array:
  """int32 `[B, L]` position ids.

  BERT and DistilBERT: `0..L-1`. RoBERTa: non-padding tokens count up
  from `pad + 1`, padding tokens get `pad` (Hugging Face's
  `create_position_ids_from_input_ids`).
  """
  batch, length = input_ids.shape
  if config.variant != "roberta":
    return jnp.broadcast_to(jnp.arange(length, dtype=jnp.int32),
                            (batch, length))
  real = (input_ids != config.pad_token_id).astype(jnp.int32)
  return jnp.cumsum(real, axis=1) * real + config.pad_token_id


def _dense(features: int, name: str) -> nn.Dense:
  return nn.Dense(features, kernel_init=_INIT, name=name)


def _norm(config: EncoderConfig, name: str) -> nn.LayerNorm:
  # Two-pass variance, as torch computes it (the fast E[x^2] - E[x]^2
  # loses digits).
  return nn.LayerNorm(epsilon=config.layer_norm_eps, use_fast_variance=False,
                      name=name)


class Embeddings(nn.Module):
  """Word + position (+ token type) embeddings, LayerNorm, dropout."""
  config: EncoderConfig

  @nn.compact
  def __call__(self, input_ids, token_type_ids, *, train: bool, mc: bool):
    c = self.config
    h = nn.Embed(c.vocab_size, c.hidden_size, embedding_init=_INIT,
                 name="word")(input_ids)
    h = h + nn.Embed(c.max_position, c.hidden_size, embedding_init=_INIT,
                     name="position")(position_ids(input_ids, c))
    if c.type_vocab_size:
      h = h + nn.Embed(c.type_vocab_size, c.hidden_size,
                       embedding_init=_INIT,
                       name="token_type")(token_type_ids)
    h = _norm(c, "norm")(h)
    return drop(self, h, c.hidden_dropout, train=train, mc=mc)


class SelfAttention(nn.Module):
  """Multi-head self-attention with an additive key mask.

  `[B, L, H]` and bool `[B, L]` -> `[B, L, H]`, before the residual.
  """
  config: EncoderConfig

  @nn.compact
  def __call__(self, h, mask, *, train: bool, mc: bool):
    c = self.config
    batch, length, width = h.shape
    d = width // c.num_heads

    def heads(name):
      return _dense(width, name)(h).reshape(batch, length, c.num_heads, d)

    q, k, v = heads("query"), heads("key"), heads("value")
    scores = jnp.einsum("bqnd,bknd->bnqk", q, k) / np.sqrt(d)
    bias = jnp.where(mask, 0.0, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores + bias[:, None, None, :], axis=-1)
    weights = drop(self, weights, c.attention_dropout, train=train, mc=mc)
    out = jnp.einsum("bnqk,bknd->bqnd", weights, v).reshape(batch, length,
                                                            width)
    return _dense(width, "output")(out)


class Block(nn.Module):
  """One post-LayerNorm transformer block `[B, L, H] -> [B, L, H]`."""
  config: EncoderConfig

  @nn.compact
  def __call__(self, h, mask, *, train: bool, mc: bool):
    c = self.config
    a = SelfAttention(c, name="attention")(h, mask, train=train, mc=mc)
    if c.variant != "distilbert":  # DistilBERT drops attention weights only
      a = drop(self, a, c.hidden_dropout, train=train, mc=mc)
    h = _norm(c, "attention_norm")(h + a)
    f = ACTIVATIONS[c.activation](_dense(c.intermediate_size,
                                         "intermediate")(h))
    f = drop(self, _dense(c.hidden_size, "output")(f), c.hidden_dropout,
             train=train, mc=mc)
    return _norm(c, "output_norm")(h + f)


class Encoder(nn.Module):
  """Embeddings and blocks: last hidden states `[B, L, H]`."""
  config: EncoderConfig

  @nn.compact
  def __call__(self, input_ids, attention_mask, token_type_ids, *,
               train: bool = False, mc: bool = False):
    mask = attention_mask.astype(bool)
    h = Embeddings(self.config, name="embeddings")(
        input_ids, token_type_ids, train=train, mc=mc)
    for i in range(self.config.num_layers):
      h = Block(self.config, name=f"layer_{i}")(h, mask, train=train, mc=mc)
    return h


def split_tokens(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Packed tokens `[B, 3, L]` -> input ids, attention mask and token type
  ids, each int32 `[B, L]`."""
  if x.ndim != 3 or x.shape[1] != 3:
    raise ValueError(f"text inputs must be packed tokens [B, 3, L] (ids, "
                     f"mask, types), got shape {tuple(x.shape)}")
  x = x.astype(jnp.int32)
  return x[:, 0], x[:, 1], x[:, 2]


class TextClassifier(nn.Module):
  """An encoder with its variant's classification head.

  `__call__(x [B, 3, L], *, train, mc) -> (logits [B, C], features [B, D])`
  with D = H; the last layer is the Dense "classifier".

  Attributes:
    num_classes: C.
    config: the encoder's architecture; None: the checkpoint's, read when
      the module is first used (so building a backbone reads nothing).
    checkpoint: a folder, hub id or "minilm" (`hub.resolve`); when set,
      `init` loads the encoder (and BERT's pooler) from it. "" = random
      initialisation.
    tokenizer: where the tokenizer of this encoder's vocabulary comes from
      (a folder, a hub id or "minilm"); the text sources tokenise with it.
    dropout_rate: replaces the checkpoint's dropout rates (with `config`
      None); None keeps them.
  """
  num_classes: int
  config: EncoderConfig | None = EncoderConfig()
  checkpoint: str = ""
  tokenizer: str = "minilm"
  dropout_rate: float | None = None

  @nn.nowrap
  def encoder_config(self) -> EncoderConfig:
    """`config`, or the checkpoint's (with `dropout_rate` applied)."""
    if self.config is not None:
      return self.config
    return checkpoint_config(self.checkpoint, self.dropout_rate)

  def setup(self):
    c = self.encoder_config()
    self.encoder = Encoder(c)
    if c.variant == "bert":
      self.pooler = _dense(c.hidden_size, "pooler")
    else:
      self.pre_classifier = _dense(c.hidden_size, "pre_classifier")
    self.classifier = _dense(self.num_classes, "classifier")

  def encode(self, input_ids, attention_mask, token_type_ids=None, *,
             train: bool = False, mc: bool = False) -> jax.Array:
    """Last hidden states `[B, L, H]` of int `[B, L]` ids and mask."""
    if token_type_ids is None:
      token_type_ids = jnp.zeros_like(input_ids)
    return self.encoder(input_ids, attention_mask, token_type_ids,
                        train=train, mc=mc)

  def __call__(self, x, *, train: bool = False, mc: bool = False):
    c = self.encoder_config()
    h = self.encode(*split_tokens(x), train=train, mc=mc)[:, 0]
    if c.variant == "bert":
      features = jnp.tanh(self.pooler(h))
    elif c.variant == "distilbert":
      features = jax.nn.relu(self.pre_classifier(h))
    else:
      features = jnp.tanh(self.pre_classifier(
          drop(self, h, c.classifier_dropout, train=train, mc=mc)))
    logits = self.classifier(drop(self, features, c.classifier_dropout,
                                  train=train, mc=mc))
    return logits, features

  @nn.nowrap
  def init(self, rngs, *args, **kwargs):
    """`nn.Module.init`, with the encoder taken from `checkpoint` if set."""
    variables = super().init(rngs, *args, **kwargs)
    if not self.checkpoint:
      return variables
    return insert_pretrained(variables, checkpoint_params(
        hub.resolve(self.checkpoint), self.encoder_config()))



# ---------------------------------------------------------------- loading
def load_pretrained(path_or_hub_id: str, num_labels: int, *,
                    key: jax.Array | None = None, max_length: int = 8,
                    download: bool | None = None
                    ) -> tuple[TextClassifier, dict]:
  """A checkpoint as `(module, variables)` with a new `num_labels` head.

  Args:
    path_or_hub_id: a folder with `config.json` and `model.safetensors`,
      "minilm", or a hub id (downloaded only when allowed, `hub.resolve`).
    num_labels: C of the new classification head.
    key: initialisation key of the head (default `key(0)`).
    max_length: sequence length used to initialise (shapes only).
    download: allow downloading a hub id; None: unless `HF_HUB_OFFLINE`.

  Returns:
    The `TextClassifier` (which initialises to the checkpoint) and its
    variables.

  Raises:
    CheckpointNotFoundError: no such folder or cached snapshot, or only a
      `pytorch_model.bin` (never unpickled; the message says how to
      convert it).
    ValueError: unused or missing tensors, or shapes that disagree.
  """
  folder = hub.resolve(path_or_hub_id, download=download)
  module = TextClassifier(num_classes=num_labels, config=read_config(folder),
                          checkpoint=folder, tokenizer=folder)
  key = jax.random.key(0) if key is None else key
  variables = module.init({"params": key, "dropout": key},
                          jnp.zeros((1, 3, max_length), jnp.int32))
  return module, variables


# --------------------------------------------------------------- backbones

def random_encoder(num_classes: int, *, variant: str = "bert",
                vocab_size: int = 30522, hidden_size: int = 32,
                num_layers: int = 2, num_heads: int = 2,
                intermediate_size: int = 64, max_position: int = 512,
                dropout_rate: float = 0.1, tokenizer: str = "minilm"
                ) -> TextClassifier:
  """A randomly initialised encoder (tiny by default, for tests), of any
  variant, over the vocabulary of `tokenizer` (default: MiniLM's uncased
  BERT vocabulary)."""
  config = EncoderConfig(
      variant=variant, vocab_size=vocab_size, hidden_size=hidden_size,
      num_layers=num_layers, num_heads=num_heads,
      intermediate_size=intermediate_size,
      max_position=max_position + (2 if variant == "roberta" else 0),
      type_vocab_size={"bert": 2, "distilbert": 0, "roberta": 1}.get(
          variant, 2),
      layer_norm_eps=1e-5 if variant == "roberta" else 1e-12,
      hidden_dropout=dropout_rate, attention_dropout=dropout_rate,
      classifier_dropout=dropout_rate,
      pad_token_id=1 if variant == "roberta" else 0)
  return TextClassifier(num_classes=num_classes, config=config,
                        tokenizer=tokenizer)


def pretrained(name: str, default: str):
  """A backbone constructor of checkpoint `default` (or the one given as
  `checkpoint`), read (and for a hub id fetched) when first used."""
  def build(num_classes: int, *, checkpoint: str = default,
            dropout_rate: float | None = None) -> TextClassifier:
    return TextClassifier(num_classes=num_classes, config=None,
                          checkpoint=checkpoint, tokenizer=checkpoint,
                          dropout_rate=dropout_rate)

  build.__name__ = name
  build.__doc__ = (f"{name}: the pretrained checkpoint {default!r} (or "
                   f"`checkpoint`) with a new head; `dropout_rate` (None: "
                   f"the checkpoint's) replaces its dropout rates.")
  return build


minilm = pretrained("minilm", "minilm")
bert = pretrained("bert", "bert-base-uncased")
distilbert = pretrained("distilbert", "distilbert-base-uncased")
roberta = pretrained("roberta", "roberta-base")
