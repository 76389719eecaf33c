"""Write a large synthetic table to a file chunk by chunk, so memory does not grow with ``n``.

:meth:`BaseGenerator.sample_chunks` draws the chunks (each one as ``sample`` draws a table:
source dtypes, exact copies of training records rejected); this module writes them:
Parquet one row group per chunk with ``pyarrow.parquet.ParquetWriter``, CSV by appending.
Files are written to a temporary sibling and renamed at the end, so an error leaves nothing
half-written. Same seed and same ``chunk_rows`` give a byte-identical file.

Parquet columns get one type for the whole file, fixed before the first chunk is written:
integer columns stay integers even when a chunk has missing values (Parquet integers are
nullable; pandas reads a column that has some as float, as ``sample`` returns it), category
columns are dictionary-encoded, booleans with missing values stay booleans.

Examples
--------
>>> from synthmed import get_generator, load_dataset
>>> from synthmed.generators.streaming import sample_to_parquet
>>> data = load_dataset("pbc")
>>> gen = get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
>>> sample_to_parquet(gen, "synthetic.parquet", 1_000_000)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from synthmed._random import RandomState
from synthmed.datasets.io import CsvFormat
from synthmed.exceptions import ParameterError
from synthmed.generators.base import DEFAULT_CHUNK_ROWS, BaseGenerator
from synthmed.schema import NUMERIC_KINDS

if TYPE_CHECKING:
    import pyarrow as pa

    from synthmed.schema import TableSchema

__all__ = ["missing_as_null", "sample_to_csv", "sample_to_parquet"]

Conditions: TypeAlias = Mapping[str, Any] | pd.DataFrame | None


def sample_to_parquet(generator: BaseGenerator, path: str | Path, n: int, *,
                      chunk_rows: int = DEFAULT_CHUNK_ROWS, conditions: Conditions = None,
                      random_state: RandomState = 0, allow_copies: bool = False) -> Path:
    """Sample ``n`` rows to the Parquet file ``path``, one row group per chunk.

    Parameters
    ----------
    generator : BaseGenerator
        A fitted table generator.
    path : str or Path
        Output file, ending in ``.parquet``; its folder is created if needed.
    n, chunk_rows, conditions, random_state, allow_copies
        As for :meth:`BaseGenerator.sample_chunks`.

    Returns
    -------
    Path
        ``path``, written completely (or not at all).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = _check_output(generator, path, ".parquet")
    chunks = generator.sample_chunks(n, chunk_rows=chunk_rows, conditions=conditions,
                                     random_state=random_state, allow_copies=allow_copies)
    # a chunk is encoded and written on a second thread (pyarrow releases the GIL) while the
    # next one is drawn; at most one write is pending, so memory holds about two chunks
    with _atomic(out) as tmp:
        pool = ThreadPoolExecutor(max_workers=1)
        writer, pending = None, None
        try:
            for chunk in chunks:
                chunk = missing_as_null(chunk, generator.schema_)
                if writer is None:
                    schema = arrow_schema(chunk, generator.schema_)
                    writer = pq.ParquetWriter(tmp, schema)
                table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
                if pending is not None:
                    pending.result()
                pending = pool.submit(writer.write_table, table)
            if pending is not None:
                pending.result()
        finally:
            pool.shutdown(wait=True)  # no write is running when the file is closed
            if writer is not None:
                writer.close()
    return out


def sample_to_csv(generator: BaseGenerator, path: str | Path, n: int, *,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS, conditions: Conditions = None,
                  random_state: RandomState = 0, allow_copies: bool = False,
                  csv_format: CsvFormat | None = None) -> Path:
    """Sample ``n`` rows to the CSV file ``path`` (ending in ``.csv``), chunk by chunk.

    Same arguments and guarantees as :func:`sample_to_parquet`; ``csv_format``: the dialect
    to write (default comma-separated UTF-8; ``synthmed sample`` passes the one the model's
    source file was written in).
    """
    fmt = csv_format or CsvFormat()
    out = _check_output(generator, path, ".csv")
    chunks = generator.sample_chunks(n, chunk_rows=chunk_rows, conditions=conditions,
                                     random_state=random_state, allow_copies=allow_copies)
    with _atomic(out) as tmp, open(tmp, "w", newline="", encoding=fmt.encoding) as handle:
        for i, chunk in enumerate(chunks):
            fmt.write(chunk, handle, header=i == 0)
    return out


def missing_as_null(chunk: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Cells written with a column's missing code (".", "NA"...) as nulls again: a code is
    how a CSV marks a gap, and in a number column Parquet cannot hold it beside numbers (opt's
    biomarkers: sampling to Parquet stopped on the first ".")."""
    coded = [c for c in schema.columns if c.missing_codes and c.name in chunk.columns]
    if not coded:
        return chunk
    chunk = chunk.copy()
    for col in coded:
        values = chunk[col.name].mask(chunk[col.name].isin(col.missing_codes))
        if col.kind in NUMERIC_KINDS and not (col.unit or col.limits):
            values = pd.to_numeric(values)  # whole numbers stay whole, as restore_table has them
            values = values.astype("Int64") if col.decimals == 0 else values
        chunk[col.name] = values
    return chunk


def arrow_schema(first_chunk: pd.DataFrame, schema: TableSchema) -> pa.Schema:
    """One Arrow type per column for the whole file, whatever later chunks hold.

    Starts from the first chunk's types and fixes those a chunk could change: an integer
    column is float in a chunk with missing values, a boolean one is object, a category's
    code width depends on its number of categories, an all-missing column has no type.
    """
    import pyarrow as pa

    inferred = pa.Schema.from_pandas(first_chunk, preserve_index=False)
    fields = []
    for field in inferred:
        dtype = schema.column(field.name).dtype
        kind = field.type
        if dtype.lower().startswith(("int", "uint")):
            kind = pa.from_numpy_dtype(np.dtype(dtype.lower()))
        elif dtype == "bool":
            kind = pa.bool_()
        elif isinstance(kind, pa.DictionaryType):
            kind = pa.dictionary(pa.int32(), kind.value_type)
        elif pa.types.is_null(kind):
            kind = pa.string()
        fields.append(field.with_type(kind))
    return pa.schema(fields, metadata=inferred.metadata)


def _check_output(generator: BaseGenerator, path: str | Path, suffix: str) -> Path:
    if not isinstance(generator, BaseGenerator) or generator.tags.modality != "table":
        raise ParameterError(
            f"`generator` must be a fitted table generator, got {type(generator).__name__}; "
            "chunked sampling writes one row per record."
        )
    out = Path(path)
    if out.suffix.lower() != suffix:
        raise ParameterError(f"The output file must end in {suffix}, got {out.name!r}.")
    return out


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file next to ``path``, renamed to ``path`` only if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.touch()
    except OSError as exc:
        raise ParameterError(
            f"Cannot write to {str(path)!r}: {exc.strerror or type(exc).__name__}. "
            "Choose a folder you can write to."
        ) from None
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
