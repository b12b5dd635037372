"""Checkpoint tensor names onto jaxdal's encoders: the real BERT,
DistilBERT and RoBERTa checkpoints' names (lists in tests/data/transformer,
made by make_goldens.py) are covered, and anything else fails loudly."""

import json
import os

import pytest

from jaxdal import hub
from jaxdal.models.encoder_config import EncoderConfig
from jaxdal.models.transformer_checkpoint import (
    assign_names,
    name_map,
    weights_file,
)

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data",
                    "transformer")


@pytest.mark.parametrize("checkpoint", ["bert-base-uncased",
                                        "distilbert-base-uncased",
                                        "roberta-base"])
def test_names_cover_the_real_checkpoints(checkpoint):
  with open(os.path.join(DATA, f"names_{checkpoint}.txt")) as f:
    names = [line.strip() for line in f if not line.startswith("#")]
  variant = checkpoint.split("-")[0]
  config = EncoderConfig(
      variant=variant, num_layers=6 if variant == "distilbert" else 12,
      type_vocab_size={"bert": 2, "distilbert": 0, "roberta": 1}[variant])
  assigned = assign_names(names, config, checkpoint)
  # Every parameter of the encoder is filled, each by one tensor.
  assert len(assigned) == len(name_map(config))
  dropped = set(names) - set(assigned)
  prefixes = {"bert": ("cls.",), "distilbert": ("vocab_",),
              "roberta": ("lm_head.", "roberta.pooler.")}[variant]
  assert dropped and all(n.startswith(prefixes) for n in dropped)


def test_unused_or_missing_tensors_fail_loudly():
  config = EncoderConfig(num_layers=1)
  names = list(name_map(config))
  with pytest.raises(ValueError, match=r"1 tensors .* does not use, e\.g\. "
                     r"\['encoder.layer.0.attention.self.rotary'\]"):
    assign_names([*names, "encoder.layer.0.attention.self.rotary"], config)
  with pytest.raises(ValueError, match=r"1 bert tensors missing.*pooler"):
    assign_names([n for n in names if "pooler.dense.bias" not in n],
                    config)


def test_pickle_only_checkpoints_are_refused_with_a_conversion_hint(
    tmp_path):
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
  (tmp_path / "pytorch_model.bin").write_bytes(b"not unpickled")
  with pytest.raises(hub.CheckpointNotFoundError,
                     match=r"only pytorch_model\.bin.*save_pretrained"):
    weights_file(str(tmp_path))
