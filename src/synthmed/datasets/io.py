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
    return numbers_with_missing_markers(frame) if suffix in _CSV else frame


#: cells that mean "missing" in exports from SAS and Stata (".") and hand-kept sheets; pandas
#: already reads NA, N/A, NULL, NaN and empty cells as missing
MISSING_MARKERS = frozenset({".", "-", "--", "?", "*"})


def numbers_with_missing_markers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that hold numbers apart from missing-value markers, read as numbers.

    medicaldata's `opt` trial marks 3% of 16 lab columns with SAS's "."; read as text, each
    was a category of ~700 levels (or an identifier) instead of a lab value.
    """
    out = frame
    for name in frame.columns:
        series = frame[name]
        if series.dtype != object and not pd.api.types.is_string_dtype(series):
            continue
        values = series.dropna().astype(str).str.strip()
        marked = values.isin(MISSING_MARKERS)
        if not marked.any() or marked.all():
            continue
        if pd.to_numeric(values[~marked], errors="coerce").notna().all():
            if out is frame:
                out = frame.copy()
            out[name] = pd.to_numeric(series.mask(marked.reindex(series.index,
                                                                  fill_value=False)),
                                      errors="coerce")
    return out
