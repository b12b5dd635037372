"""Encoder architectures: bad variants and model types name the choices;
a checkpoint's dropout rates are kept or replaced."""

import pytest

from jaxdal import hub
from jaxdal.models.encoder_config import (
    EncoderConfig,
    checkpoint_config,
    config_from_hf,
    read_config,
)


def test_bad_configs_name_the_value_and_the_choices():
  with pytest.raises(ValueError, match="unknown encoder variant 'gpt2'; "
                                       "valid: bert, distilbert, roberta"):
    EncoderConfig(variant="gpt2")
  with pytest.raises(ValueError, match="unsupported model_type 't5'"):
    config_from_hf({"model_type": "t5"})


def test_dropout_rate_replaces_the_checkpoints_rates_or_keeps_them():
  kept = checkpoint_config("minilm")
  assert kept == read_config(hub.resolve("minilm"))
  changed = checkpoint_config("minilm", 0.25)
  assert (changed.hidden_dropout, changed.attention_dropout,
          changed.classifier_dropout) == (0.25, 0.25, 0.25)
  with pytest.raises(ValueError, match="dropout_rate must be in"):
    checkpoint_config("minilm", 1.5)
