"""Input checks shared by the release modes (messages name columns and counts, never values)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError, NotFittedError, ParameterError, SchemaError
from synthmed.generators.base import BaseGenerator
from synthmed.schema import TableSchema, coerce_table

GROUP_KINDS = frozenset({"categorical", "boolean"})


def check_generator(generator: Any) -> BaseGenerator:
    if not isinstance(generator, BaseGenerator):
        raise ParameterError(
            f"`generator` must be a synthmed generator, got {type(generator).__name__}."
        )
    if not generator.is_fitted:
        raise NotFittedError(
            f"This {type(generator).__name__} instance is not fitted yet. Call 'fit' before "
            "releasing data."
        )
    return generator


def check_frame(frame: Any, label: str, columns: list[str]) -> pd.DataFrame:
    """A non-empty DataFrame holding ``columns``; returned with its index reset."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"`{label}` must be a pandas DataFrame, got {type(frame).__name__}.")
    if len(frame) == 0:
        raise DataError(f"The {label} table is empty; it needs at least one row.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"The {label} table lacks {len(missing)} column(s) the generator models: "
            f"{', '.join(missing)}."
        )
    return frame.reset_index(drop=True)


def check_schema(schema: Any, generator: BaseGenerator) -> TableSchema:
    """The user's schema restricted to the generator's modelled columns (or the generator's)."""
    if schema is None:
        return generator.schema_
    if not isinstance(schema, TableSchema):
        raise ParameterError(f"`schema` must be a TableSchema, got {type(schema).__name__}.")
    missing = [c for c in generator.schema_.names if c not in schema]
    if missing:
        raise SchemaError(
            f"The schema lacks {len(missing)} column(s) the generator models: {', '.join(missing)}."
        )
    return schema.subset(generator.schema_.names)


def check_positive_int(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ParameterError(f"`{label}` must be a positive integer, got {value!r}.")
    return int(value)


def canonical(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """The schema's columns of ``frame`` in canonical dtypes (for distances and models)."""
    return coerce_table(frame[schema.names], schema, validate=False)


def group_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hashable key per row over ``columns``; rows with a missing value get None."""
    parts = [frame[c].astype(object) for c in columns]
    missing = np.zeros(len(frame), dtype=bool)
    for part in parts:
        missing |= part.isna().to_numpy()
    keys = pd.Series(list(zip(*[p.to_numpy() for p in parts], strict=True)), dtype=object)
    keys[missing] = None
    return keys
