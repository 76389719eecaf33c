"""Readers for the user's own tables (CSV, Parquet), with errors that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synthmed.exceptions import DataError

__all__ = ["read_table"]

_CSV = {".csv", ".tsv", ".txt", ".gz"}
_PARQUET = {".parquet", ".pq"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV or Parquet file into a DataFrame.

    Raises
    ------
    DataError
        The file is missing, of an unknown format, unreadable, or holds no rows or columns.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"File {str(path)!r} does not exist.")
    if not path.is_file():
        raise DataError(f"{str(path)!r} is not a file.")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            frame = pd.read_parquet(path)
        elif suffix in _CSV:
            sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
            frame = pd.read_csv(path, sep=sep, low_memory=False)
        else:
            raise DataError(
                f"Cannot read {str(path)!r}: unknown format {suffix or '(no extension)'!r}. "
                "Give a .csv, .tsv or .parquet file."
            )
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"File {str(path)!r} is empty: it has no header and no rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        kind = "Parquet" if suffix in _PARQUET else "CSV"
        raise DataError(
            f"Cannot read {str(path)!r} as {kind} ({type(exc).__name__}); check that the file is "
            f"a valid {kind} file."
        ) from None
    if frame.shape[1] == 0:
        raise DataError(f"File {str(path)!r} has no columns.")
    if len(frame) == 0:
        raise DataError(f"File {str(path)!r} has a header but no rows.")
    # "."-style missing markers stay as written: the schema reads them as missing
    # (`ColumnSchema.missing_codes`) and the release writes them back
    return frame
