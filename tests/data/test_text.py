"""Text sources: packed tokens, the real Reuters articles, synthetic text,
and the Hugging Face datasets (offline: saved folders, a fast error)."""

import os
import time

import numpy as np
import pytest

from jaxdal import data
from jaxdal.data import text


@pytest.fixture(scope="module")
def tok():
  return text._tokenizer("minilm")


def test_tokens_are_packed_ids_mask_and_types(tok):
  x = data.tokenize(["Oil prices rose.", "A much longer sentence about the "
                     "merger of two companies and their shares"],
                    max_length=12)
  assert x.shape == (2, 3, 12) and x.dtype == np.int32
  ref = tok("Oil prices rose.")["input_ids"]  # [CLS] ... [SEP], unpadded
  np.testing.assert_array_equal(x[0, 0, :len(ref)], ref)
  assert x[0, 1].tolist() == [1] * len(ref) + [0] * (12 - len(ref))
  assert (x[0, 0, len(ref):] == tok.pad_token_id).all()
  assert x[1, 1].all() and x[1, 0, -1] == tok.sep_token_id  # truncated
  assert not x[:, 2].any()


def test_sentence_pairs_get_token_types(tok):
  x = data.tokenize(["what rose?"], pairs=["oil prices rose"], max_length=16)
  first = len(tok("what rose?")["input_ids"])
  second = len(tok("oil prices rose")["input_ids"]) - 1  # one [CLS] less
  assert x[0, 2].tolist() == [0] * first + [1] * second + [0] * (
      16 - first - second)


def test_reuters_tm_is_the_70_real_articles():
  ds = data.load("reuters_tm", max_length=64)
  assert ds.num_classes == 2
  assert ds.x_train.shape == ds.x_test.shape == (35, 3, 64)
  # 50 acq and 20 crude articles, every second one of each class tested.
  assert np.bincount(ds.y_train).tolist() == [25, 10]
  assert np.bincount(ds.y_test).tolist() == [25, 10]
  first_crude = text._tokenizer("minilm").decode(
      ds.x_train[np.flatnonzero(ds.y_train == 1)[0], 0],
      skip_special_tokens=True)
  # texts/crude/reut-00001.xml: "DIAMOND SHAMROCK (DIA) CUTS CRUDE PRICES"
  assert first_crude.startswith("diamond shamrock ( dia ) cuts crude prices")


def test_reuters_tm_missing_says_how_to_get_it(tmp_path, monkeypatch):
  monkeypatch.setattr(text, "DEBIAN_TM_TEXTS", str(tmp_path / "none"))
  with pytest.raises(data.DatasetNotFoundError,
                     match="apt-get install r-cran-tm"):
    data.load("reuters_tm")


def test_synthetic_text_is_seeded_and_topical():
  a = data.load("synthetic_text", num_train=40, num_test=8, num_classes=3,
                max_length=16, seed=5)
  b = data.load("synthetic_text", num_train=40, num_test=8, num_classes=3,
                max_length=16, seed=5)
  np.testing.assert_array_equal(a.x_train, b.x_train)
  assert np.bincount(a.y_train).tolist() == [14, 13, 13]
  words = text._tokenizer("minilm").convert_ids_to_tokens
  for row, label in zip(a.x_train, a.y_train, strict=True):
    topical = set(words(row[0])) & set(" ".join(text._TOPICS).split())
    assert topical <= set(text._TOPICS[label].split())
  with pytest.raises(ValueError, match="num_classes <= 6, got 9"):
    data.load("synthetic_text", num_classes=9)


@pytest.mark.parametrize("name", ["ag_news", "banking77", "dbpedia_14",
                                  "qnli"])
def test_missing_hf_dataset_fails_in_under_a_second(name, tmp_path,
                                                     monkeypatch):
  monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path))
  t0 = time.perf_counter()
  with pytest.raises(data.DatasetNotFoundError) as e:
    data.load(name)
  assert time.perf_counter() - t0 < 1.0
  assert "\n" not in str(e.value) and "--download" in str(e.value)


def test_hf_datasets_load_from_saved_folders(tmp_path):
  datasets = pytest.importorskip("datasets")
  datasets.DatasetDict({
      "train": datasets.Dataset.from_dict(
          {"question": ["who?", "what?", "when?"],
           "sentence": ["nobody.", "oil.", "now."], "label": [0, 1, 1]}),
      "validation": datasets.Dataset.from_dict(
          {"question": ["why?"], "sentence": ["because."], "label": [0]}),
  }).save_to_disk(os.path.join(tmp_path, "qnli"))
  ds = data.load("qnli", data_dir=str(tmp_path), max_length=12)
  assert ds.num_classes == 2 and ds.y_train.tolist() == [0, 1, 1]
  assert ds.x_train.shape == (3, 3, 12) and ds.x_test.shape == (1, 3, 12)
  np.testing.assert_array_equal(
      ds.x_train[1], data.tokenize(["what?"], pairs=["oil."],
                                   max_length=12)[0])
  assert ds.x_train[:, 2].any()  # the second sentences' token types


def test_cached_hf_datasets_are_read_offline(tmp_path, monkeypatch):
  datasets = pytest.importorskip("datasets")
  import huggingface_hub.constants as hub_constants
  monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path))
  os.makedirs(tmp_path / "PolyAI___banking77")  # what the cache holds
  monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
  monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
  calls = []

  def fake_load_dataset(repo, config):
    calls.append((repo, config, datasets.config.HF_HUB_OFFLINE,
                  hub_constants.HF_HUB_OFFLINE))
    split = datasets.Dataset.from_dict({"text": ["card lost", "top up"],
                                        "label": [3, 76]})
    return datasets.DatasetDict({"train": split, "test": split})

  monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
  ds = data.load("banking77", max_length=8)
  assert calls == [("PolyAI/banking77", None, True, True)]
  assert ds.num_classes == 77 and ds.y_train.tolist() == [3, 76]
  assert not datasets.config.HF_HUB_OFFLINE  # restored
