"""Bundled real datasets and readers for the user's own files."""

from synthmed.datasets.io import read_table
from synthmed.datasets.registry import (
    DEFAULT_DATASET,
    Dataset,
    DatasetInfo,
    dataset_info,
    event_indicator,
    list_datasets,
    load_dataset,
)

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "DatasetInfo",
    "dataset_info",
    "event_indicator",
    "list_datasets",
    "load_dataset",
    "read_table",
]
