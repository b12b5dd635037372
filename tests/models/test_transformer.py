"""jaxdal's own BERT / DistilBERT / RoBERTa against the PyTorch reference
(goldens made by tests/data/transformer/make_goldens.py), the real
checkpoints' tensor names, and safetensors round trips."""

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import save_file

from jaxdal import hub, models
from jaxdal.models import transformer as tf
from jaxdal.models.encoder_config import EncoderConfig
from jaxdal.models.transformer_checkpoint import name_map

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data",
                    "transformer")
TINY = dict(vocab_size=50, hidden_size=16, num_layers=2, num_heads=2,
            intermediate_size=24, max_position=12)


def _tokens(rng, batch=4, length=10, vocab=50, pad=0):
  """Packed tokens `[B, 3, L]` with ragged real lengths."""
  ids = rng.integers(5, vocab, (batch, length)).astype(np.int32)
  lengths = rng.integers(2, length + 1, batch)
  mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
  ids = np.where(mask == 1, ids, pad)
  return np.stack([ids, mask, np.zeros_like(ids)], axis=1)


@pytest.fixture(scope="module")
def minilm():
  return models.load_pretrained("minilm", 2)


def test_minilm_encode_matches_pytorch_reference(minilm):
  module, variables = minilm
  golden = np.load(os.path.join(DATA, "minilm_encode.npz"))
  hidden = module.apply(variables, golden["input_ids"],
                        golden["attention_mask"], golden["token_type_ids"],
                        method=module.encode)
  assert hidden.shape == golden["hidden"].shape == (4, 24, 384)
  np.testing.assert_allclose(np.asarray(hidden), golden["hidden"], rtol=0,
                             atol=1e-4)


@pytest.mark.parametrize("variant", ["distilbert", "roberta"])
def test_tiny_distilbert_and_roberta_match_pytorch(variant):
  # Seeded random DistilBertModel / RobertaModel written by transformers'
  # save_pretrained; padded inputs, so RoBERTa's positions are tested.
  golden = np.load(os.path.join(DATA, "tiny_encode.npz"))
  module, variables = models.load_pretrained(
      os.path.join(DATA, f"tiny_{variant}"), 2)
  assert module.config.variant == variant
  hidden = module.apply(variables, golden[f"{variant}_ids"],
                        golden[f"{variant}_mask"], method=module.encode)
  np.testing.assert_allclose(np.asarray(hidden), golden[f"{variant}_hidden"],
                             rtol=0, atol=1e-5)


def test_minilm_is_a_registered_offline_backbone(minilm):
  model = models.build("minilm", 5)
  config = model.encoder_config()
  assert config == minilm[0].config
  assert config.num_layers == 6 and config.hidden_size == 384
  assert models.tokenizer_of(model) == "minilm"
  assert os.path.isfile(os.path.join(hub.resolve("minilm"), "vocab.txt"))
  # Its init is the checkpoint (a fresh head): rounds start pretrained.
  variables = model.init({"params": jax.random.key(1)},
                         jnp.zeros((1, 3, 8), jnp.int32))
  a = variables["params"]["encoder"]["layer_3"]["intermediate"]["kernel"]
  b = minilm[1]["params"]["encoder"]["layer_3"]["intermediate"]["kernel"]
  np.testing.assert_array_equal(a, b)
  assert variables["params"]["classifier"]["kernel"].shape == (384, 5)


def _hf_config(model: tf.TextClassifier) -> dict:
  c = model.config
  if c.variant == "distilbert":
    return dict(model_type="distilbert", vocab_size=c.vocab_size,
                dim=c.hidden_size, n_layers=c.num_layers, n_heads=c.num_heads,
                hidden_dim=c.intermediate_size,
                max_position_embeddings=c.max_position, dropout=0.1,
                attention_dropout=0.1, seq_classif_dropout=0.1,
                sinusoidal_pos_embds=False, pad_token_id=0)
  return dict(model_type=c.variant, vocab_size=c.vocab_size,
              hidden_size=c.hidden_size, num_hidden_layers=c.num_layers,
              num_attention_heads=c.num_heads,
              intermediate_size=c.intermediate_size,
              max_position_embeddings=c.max_position,
              type_vocab_size=c.type_vocab_size,
              layer_norm_eps=c.layer_norm_eps, hidden_dropout_prob=0.1,
              attention_probs_dropout_prob=0.1, hidden_act="gelu",
              pad_token_id=c.pad_token_id)


def _save_hf(model, variables, folder, *, extra=()):
  """Writes `variables` as a Hugging Face checkpoint (prefixed names, torch
  layouts, a pretraining head) and its config.json."""
  c = model.config
  tensors = {}
  for name, (path, transpose) in name_map(c).items():
    value = np.asarray(variables["params"][path[0]] if len(path) == 1 else
                       _at(variables["params"], path))
    tensors[f"{c.variant}.{name}"] = np.ascontiguousarray(
        value.T if transpose else value)
  head = {"bert": "cls.predictions.bias", "distilbert": "vocab_projector.bias",
          "roberta": "lm_head.bias"}[c.variant]
  tensors[head] = np.zeros(c.vocab_size, np.float32)
  for name in extra:
    tensors[name] = np.zeros(3, np.float32)
  os.makedirs(folder, exist_ok=True)
  save_file(tensors, os.path.join(folder, "model.safetensors"))
  with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(_hf_config(model), f)


def _at(tree, path):
  for part in path:
    tree = tree[part]
  return tree


@pytest.mark.parametrize("variant", ["bert", "distilbert", "roberta"])
def test_tiny_checkpoints_round_trip(variant, tmp_path):
  model = models.build("transformer", 3, variant=variant, **TINY)
  x = _tokens(np.random.default_rng(0), pad=model.config.pad_token_id)
  variables = model.init({"params": jax.random.key(0)}, jnp.asarray(x))
  _save_hf(model, variables, tmp_path / variant)
  loaded, loaded_vars = models.load_pretrained(str(tmp_path / variant), 3)
  assert loaded.config == model.config
  want = model.apply(variables, *np.moveaxis(x, 1, 0), method=model.encode)
  got = loaded.apply(loaded_vars, *np.moveaxis(x, 1, 0), method=loaded.encode)
  np.testing.assert_array_equal(got, want)
  # The encoder is the saved one; only the new head differs.
  flat = jax.tree_util.tree_flatten_with_path(loaded_vars["params"])[0]
  for path, leaf in flat:
    keys = tuple(p.key for p in path)
    if keys[0] in ("encoder", "pooler"):
      np.testing.assert_array_equal(leaf, _at(variables["params"], keys))


def test_an_unknown_tensor_in_a_file_fails(tmp_path):
  model = models.build("transformer", 2, variant="distilbert", **TINY)
  variables = model.init({"params": jax.random.key(0)},
                         jnp.zeros((1, 3, 4), jnp.int32))
  _save_hf(model, variables, tmp_path, extra=("distilbert.adapter.weight",))
  with pytest.raises(ValueError, match="distilbert.adapter.weight"):
    models.load_pretrained(str(tmp_path), 2)


def test_uncached_hub_id_offline_fails_at_once(tmp_path, monkeypatch):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
  message = ("'bert-base-uncased' is not in the Hugging Face cache and "
             "downloads are off")
  with pytest.raises(hub.CheckpointNotFoundError, match=message):
    models.build("bert", 2).init({"params": jax.random.key(0)},
                                 jnp.zeros((1, 3, 4), jnp.int32))
  t0 = time.perf_counter()
  with pytest.raises(hub.CheckpointNotFoundError, match=message):
    hub.resolve("bert-base-uncased")
  assert time.perf_counter() - t0 < 1.0
  with pytest.raises(hub.CheckpointNotFoundError, match="does not exist"):
    hub.resolve("/no/such/folder")


@pytest.mark.parametrize("variant", ["bert", "distilbert", "roberta"])
def test_contract_features_feed_the_classifier(variant):
  model = models.build("transformer", 4, variant=variant, **TINY)
  x = jnp.asarray(_tokens(np.random.default_rng(1),
                          pad=model.config.pad_token_id))
  variables = model.init({"params": jax.random.key(2)}, x)
  logits, features = model.apply(variables, x)
  assert logits.shape == (4, 4) and features.shape == (4, 16)
  head = variables["params"]["classifier"]
  np.testing.assert_allclose(logits, features @ head["kernel"] + head["bias"],
                             rtol=1e-5, atol=1e-6)
  # MC dropout: samples differ, one mask per sample is shared by the batch
  # (a row's output does not depend on the other rows), inference is fixed.
  def mc(key, rows):
    return model.apply(variables, x[:rows], mc=True,
                       rngs={"dropout": key})[0]
  a, b = mc(jax.random.key(3), 4), mc(jax.random.key(4), 4)
  assert not np.allclose(a, b)
  np.testing.assert_allclose(mc(jax.random.key(3), 2), a[:2], rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_array_equal(model.apply(variables, x)[0], logits)


def test_roberta_position_ids_count_from_the_padding_offset():
  config = EncoderConfig(variant="roberta", pad_token_id=1)
  ids = np.array([[0, 7, 9, 2, 1, 1], [0, 5, 1, 8, 2, 1]])
  # Hugging Face's create_position_ids_from_input_ids, in NumPy.
  real = (ids != 1).astype(int)
  want = np.cumsum(real, axis=1) * real + 1
  np.testing.assert_array_equal(tf.position_ids(jnp.asarray(ids), config),
                                want)
  bert = EncoderConfig()
  np.testing.assert_array_equal(tf.position_ids(jnp.asarray(ids), bert),
                                np.tile(np.arange(6), (2, 1)))


def test_unpacked_tokens_name_the_expected_layout():
  with pytest.raises(ValueError, match=r"packed tokens \[B, 3, L\]"):
    tf.split_tokens(jnp.zeros((2, 8)))


def test_a_cached_hub_id_is_read_without_the_network(tmp_path, monkeypatch):
  import huggingface_hub
  import huggingface_hub.constants as hub_constants
  repo = tmp_path / "models--jaxdal-test--tiny"
  (repo / "refs").mkdir(parents=True)
  (repo / "refs" / "main").write_text("abc123")
  (repo / "snapshots" / "abc123").mkdir(parents=True)
  (repo / "snapshots" / "abc123" / "config.json").write_text("{}")
  monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
  fetch = huggingface_hub.snapshot_download

  def cache_only(*args, local_files_only, **kwargs):
    assert local_files_only, "the network was asked"
    return fetch(*args, local_files_only=True, cache_dir=str(tmp_path),
                 **kwargs)

  monkeypatch.setattr(huggingface_hub, "snapshot_download", cache_only)
  folder = hub.resolve("jaxdal-test/tiny", download=True)
  assert folder == str(repo / "snapshots" / "abc123")
