"""Datasets, the pool state and fixed-shape batching."""

from jaxdal.data.batching import epoch_batches, padded_chunks, sample
from jaxdal.data.dataset import Dataset, DatasetNotFoundError, from_uint8
from jaxdal.data.folders import image_folder, text_table
from jaxdal.data.pool import (
    PoolState,
    acquire,
    available,
    history,
    init_pool,
    labeled_indices,
    query_candidates,
    search_split,
    test_indices,
)
from jaxdal.data.sources import (
    SOURCES,
    load,
    names,
    register,
    synthetic,
    takes_tokenizer,
)
from jaxdal.data.text import synthetic_text, tokenize
from jaxdal.data.tfds_folder import write_array_record

__all__ = [
    "SOURCES",
    "Dataset",
    "DatasetNotFoundError",
    "PoolState",
    "acquire",
    "available",
    "epoch_batches",
    "from_uint8",
    "history",
    "image_folder",
    "init_pool",
    "labeled_indices",
    "load",
    "names",
    "padded_chunks",
    "query_candidates",
    "register",
    "sample",
    "search_split",
    "synthetic",
    "synthetic_text",
    "takes_tokenizer",
    "test_indices",
    "text_table",
    "tokenize",
    "write_array_record",
]
