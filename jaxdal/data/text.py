"""Text datasets as packed token arrays, so text flows through the same
pool, training and prediction path as images.

An example is `[3, L]` int32: input ids, attention mask and token type ids,
padded (or truncated) to a fixed `max_length` by a Hugging Face fast
tokenizer (`transformers.AutoTokenizer`), so every batch has one shape.

- synthetic_text: seeded sentences whose topic words give the class;
- reuters_tm: the 70 real Reuters-21578 articles (acq, crude) shipped in
  the Debian package r-cran-tm;
- ag_news, banking77, dbpedia_14, qnli: Hugging Face `datasets` (the
  `text` extra), read from `data_dir` (`save_to_disk` folders) or the
  datasets cache; fetched only with `download=True`. Missing data fails at
  once (datasets itself would retry for about 45 s).

`tokenizer` names a folder, a hub id or "minilm" (the uncased BERT
vocabulary shipped with all-MiniLM-L6-v2, also that of bert-base-uncased
and distilbert-base-uncased); the loop passes the backbone's own.
"""

import contextlib
import functools
import glob
import html
import os
import re
from collections.abc import Sequence

import jax
import numpy as np

from jaxdal import hub
from jaxdal.data.dataset import Dataset, DatasetNotFoundError

__all__ = ["DEBIAN_TM_TEXTS", "HFText", "HF_SOURCES", "REUTERS_CLASSES",
           "reuters_tm", "synthetic_text", "text_dataset", "tokenize"]

DEBIAN_TM_TEXTS = "/usr/lib/R/site-library/tm/texts"
REUTERS_CLASSES = ("acq", "crude")


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str):
  # transformers advises on import that torch is missing: jaxdal needs only
  # its tokenizers, so the advice (and only advice) is silenced.
  os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
  from transformers import AutoTokenizer  # Only text needs it.
  return AutoTokenizer.from_pretrained(hub.resolve(name), use_fast=True)


def tokenize(texts: Sequence[str], *, tokenizer: str = "minilm",
             max_length: int = 128,
             pairs: Sequence[str] | None = None) -> np.ndarray:
  """Packed tokens int32 `[N, 3, max_length]` of `texts` (and `pairs`,
  the second sentences of sentence-pair tasks)."""
  if max_length < 4:
    raise ValueError(f"max_length must be at least 4, got {max_length}")
  tok = _tokenizer(tokenizer)
  enc = tok(list(texts), list(pairs) if pairs is not None else None,
            padding="max_length", truncation=True, max_length=max_length,
            return_token_type_ids=True, return_tensors="np")
  return np.stack([enc["input_ids"], enc["attention_mask"],
                   enc["token_type_ids"]], axis=1).astype(np.int32)


def text_dataset(name: str, train: tuple, test: tuple, num_classes: int, *,
                 tokenizer: str, max_length: int) -> Dataset:
  """A `Dataset` of tokens from `(texts, labels[, pairs])` per split."""
  def encode(split):
    texts, labels, *pairs = split
    x = tokenize(texts, tokenizer=tokenizer, max_length=max_length,
                 pairs=pairs[0] if pairs else None)
    return x, np.asarray(labels, np.int32)

  (x_train, y_train), (x_test, y_test) = encode(train), encode(test)
  return Dataset(name, x_train, y_train, x_test, y_test, int(num_classes))


# Topic words of synthetic_text's classes (class c uses list c) and the
# filler words every class shares.
_TOPICS = (
    "goal match team season coach league score player",
    "oil price barrel crude opec energy supply refinery",
    "shares merger stake acquire company bid deal offer",
    "rain storm cloud weather wind snow forecast temperature",
    "court judge trial law appeal verdict jury lawyer",
    "gene cell protein virus cancer patient drug study",
)
_FILLER = ("the a of and in to was for on with said it that by from at "
           "this year new").split()


def synthetic_text(*, num_train: int = 200, num_test: int = 100,
                   num_classes: int = 4, words: int = 12,
                   topic_share: float = 0.3, seed: int = 0,
                   tokenizer: str = "minilm", max_length: int = 32,
                   data_dir: str | None = None,
                   download: bool = False) -> Dataset:
  """Seeded labelled sentences: each word is one of its class's topic words
  with probability `topic_share`, else a shared filler word.

  Labels are balanced (`i mod num_classes`, then shuffled); draws come from
  `fold_in(key(seed), split)`. Same arguments, same arrays.
  """
  del data_dir, download
  if not 2 <= num_classes <= len(_TOPICS):
    raise ValueError(f"synthetic_text needs 2 <= num_classes <= "
                     f"{len(_TOPICS)}, got {num_classes}")
  key = jax.random.key(seed)
  topics = [t.split() for t in _TOPICS]

  def split(stream: int, n: int):
    k = jax.random.fold_in(key, stream)
    labels = np.asarray(jax.random.permutation(
        jax.random.fold_in(k, 0), np.arange(n) % num_classes))
    topical = np.asarray(jax.random.bernoulli(jax.random.fold_in(k, 1),
                                              topic_share, (n, words)))
    pick = np.asarray(jax.random.randint(jax.random.fold_in(k, 2),
                                         (n, words), 0, 1 << 20))
    texts = [" ".join(topics[c][p % len(topics[c])] if t else
                      _FILLER[p % len(_FILLER)]
                      for t, p in zip(row_t, row_p, strict=True))
             for c, row_t, row_p in zip(labels, topical, pick, strict=True)]
    return texts, labels

  return text_dataset("synthetic_text", split(1, num_train),
                      split(2, num_test), num_classes, tokenizer=tokenizer,
                      max_length=max_length)


def _reuters_article(path: str) -> str:
  """Title and body of one Reuters-21578 XML file, entities decoded."""
  with open(path, encoding="utf-8", errors="replace") as f:
    raw = f.read()
  parts = [re.search(rf"<{tag}>(.*?)</{tag}>", raw, re.S)
           for tag in ("TITLE", "BODY")]
  text = ". ".join(m.group(1) for m in parts if m)
  return " ".join(html.unescape(text).split())


def reuters_tm(*, tokenizer: str = "minilm", max_length: int = 128,
               data_dir: str | None = None,
               download: bool = False) -> Dataset:
  """The 70 real Reuters-21578 articles of classes acq (50) and crude (20)
  from the Debian package r-cran-tm (`texts/acq`, `texts/crude`), or the
  same folders under `data_dir`.

  Text = title + body. Split deterministically: every second article of
  each class is a test article (35 train, 35 test).
  """
  del download  # Offline by nature: Debian ships it.
  roots = [d for d in (data_dir, DEBIAN_TM_TEXTS) if d]
  root = next((d for d in roots if all(os.path.isdir(os.path.join(d, c))
                                       for c in REUTERS_CLASSES)), None)
  if root is None:
    raise DatasetNotFoundError(
        f"dataset 'reuters_tm' not found (searched {', '.join(roots)} for "
        f"acq/ and crude/); get it by: apt-get install r-cran-tm")
  texts, labels = [], []
  for c, name in enumerate(REUTERS_CLASSES):
    for path in sorted(glob.glob(os.path.join(root, name, "*.xml"))):
      texts.append(_reuters_article(path))
      labels.append(c)
  labels = np.asarray(labels)
  test = np.zeros(len(labels), bool)
  for c in range(len(REUTERS_CLASSES)):
    test[np.flatnonzero(labels == c)[1::2]] = True
  texts = np.asarray(texts, object)
  return text_dataset(
      "reuters_tm", (list(texts[~test]), labels[~test]),
      (list(texts[test]), labels[test]), len(REUTERS_CLASSES),
      tokenizer=tokenizer, max_length=max_length)


@contextlib.contextmanager
def _hub_offline():
  """`datasets` and `huggingface_hub` in offline mode for a cached read
  (else they ask the hub for updates first, retrying without network)."""
  import datasets
  import huggingface_hub.constants as hub_constants
  before = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
  datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
  try:
    yield
  finally:
    datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = before


class HFText:
  """How one Hugging Face dataset becomes a text classification task.

  Attributes:
    name: jaxdal's name.
    repo: hub repository; `config`: its configuration (or None).
    fields: the text field, or the two fields of a sentence pair.
    num_classes: C.
    test_split: the labelled split used as test ("test", or "validation"
      where the test labels are hidden, as GLUE's).
  """

  def __init__(self, name: str, repo: str, config: str | None,
               fields: tuple[str, ...], num_classes: int,
               test_split: str = "test"):
    self.name, self.repo, self.config = name, repo, config
    self.fields, self.num_classes = fields, num_classes
    self.test_split = test_split

  def cache_dirs(self) -> list[str]:
    """Where the datasets cache would hold this dataset (no import)."""
    cache = os.environ.get("HF_DATASETS_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache", "huggingface"), "datasets")
    short = self.repo.split("/")[-1]
    return [os.path.join(cache, self.repo.replace("/", "___")),
            os.path.join(cache, short)]

  def how_to_get(self, data_dir: str | None) -> str:
    searched = ", ".join(([os.path.join(data_dir, self.name)] if data_dir
                          else []) + self.cache_dirs())
    args = f"'{self.repo}'" + (f", '{self.config}'" if self.config else "")
    return (f"dataset {self.name!r} not found (searched {searched}); get "
            f"it once with network: --download, or python -c \"import "
            f"datasets; datasets.load_dataset({args})\" (pip install "
            f"'jaxdal[text]')")

  def splits(self, data_dir: str | None, download: bool):
    """`(train, test)` Hugging Face datasets; a one-line
    DatasetNotFoundError at once when missing and `download` is off."""
    saved = os.path.join(data_dir, self.name) if data_dir else None
    cached = any(os.path.isdir(d) for d in self.cache_dirs())
    if not (saved and os.path.isdir(saved)) and not cached and not download:
      raise DatasetNotFoundError(self.how_to_get(data_dir))
    try:
      import datasets
    except ImportError:
      raise DatasetNotFoundError(
          f"dataset {self.name!r} needs Hugging Face datasets: pip install "
          f"'jaxdal[text]'") from None
    if saved and os.path.isdir(saved):
      d = datasets.load_from_disk(saved)
    else:
      with contextlib.nullcontext() if download else _hub_offline():
        d = datasets.load_dataset(self.repo, self.config)
    return d["train"], d[self.test_split]

  def __call__(self, *, tokenizer: str = "minilm", max_length: int = 128,
               data_dir: str | None = None,
               download: bool = False) -> Dataset:
    train, test = self.splits(data_dir, download)

    def columns(split):
      out = [list(split[f]) for f in self.fields[:1]]
      out.append(np.asarray(split["label"]))
      out += [list(split[f]) for f in self.fields[1:]]
      return tuple(out)

    return text_dataset(self.name, columns(train), columns(test),
                        self.num_classes, tokenizer=tokenizer,
                        max_length=max_length)


HF_SOURCES = (
    HFText("ag_news", "fancyzhx/ag_news", None, ("text",), 4),
    HFText("banking77", "PolyAI/banking77", None, ("text",), 77),
    HFText("dbpedia_14", "fancyzhx/dbpedia_14", None, ("content",), 14),
    HFText("qnli", "nyu-mll/glue", "qnli", ("question", "sentence"), 2,
           test_split="validation"),
)
