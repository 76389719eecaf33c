"""Provenance of released rows, and writing a release atomically.

Every row of a release is ``real`` (a source row, kept as it is), ``partial`` (a source row
whose sensitive columns were replaced by sampled values) or ``synthetic`` (sampled). The label
travels in a column whose name the user chooses, or in a sidecar file
(``release_provenance.csv``: row number and provenance) so that the released table itself
does not say which rows are real.

Example
-------
>>> import pandas as pd
>>> from synthmed.modes import Release, with_provenance
>>> release = Release(data=pd.DataFrame({"x": [1, 2]}),
...                   provenance=pd.Series(["real", "synthetic"]), mode="mix")
>>> with_provenance(release)["provenance"].tolist()
['real', 'synthetic']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from synthmed._outputs import write_atomically
from synthmed.datasets.io import CsvFormat
from synthmed.exceptions import ParameterError

__all__ = [
    "PROVENANCE_LABELS",
    "Release",
    "with_provenance",
    "write_release",
]

Provenance = Literal["real", "partial", "synthetic"]
PROVENANCE_LABELS: tuple[str, ...] = ("real", "partial", "synthetic")
DEFAULT_COLUMN = "provenance"


@dataclass(frozen=True)
class Release:
    """A released table with the provenance of each row.

    Parameters
    ----------
    data : DataFrame
        The released rows (no provenance column), index ``0..n-1``.
    provenance : Series
        ``real``, ``partial`` or ``synthetic`` per row, aligned with ``data``.
    mode : str
        ``full``, ``partial``, ``mix`` or ``augment``.
    source_index : ndarray of int, optional
        For each row, its position in the real table it came from (``real`` and ``partial``
        rows), ``-1`` for synthetic rows. Lets the privacy evaluation find the released real
        records; never written to the release files.
    stats : mapping
        What the mode did, JSON-able: counts per provenance, filter cost, groups balanced...
    unfiltered : DataFrame, optional
        Full mode with a privacy filter: the first draw before filtering, so that the report
        can show what the filter cost in fidelity.
    """

    data: pd.DataFrame
    provenance: pd.Series
    mode: str
    source_index: np.ndarray | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)
    unfiltered: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if len(self.provenance) != len(self.data):
            raise ValueError("`provenance` must have one label per row of `data`.")

    def __len__(self) -> int:
        return len(self.data)

    def counts(self) -> dict[str, int]:
        """Rows per provenance label (every label present, zero where absent)."""
        found = self.provenance.value_counts()
        return {label: int(found.get(label, 0)) for label in PROVENANCE_LABELS}


def make_provenance(labels: np.ndarray | list[str]) -> pd.Series:
    """Provenance labels as a categorical Series with the three fixed levels."""
    return pd.Series(pd.Categorical(np.asarray(labels, dtype=object),
                                    categories=list(PROVENANCE_LABELS)), name=DEFAULT_COLUMN)


def _check_column(column: str, data: pd.DataFrame) -> None:
    if not isinstance(column, str) or not column.strip():
        raise ParameterError(
            f"The provenance column name must be a non-empty string, got {column!r}."
        )
    if column in data.columns:
        raise ParameterError(
            f"The provenance column {column!r} would overwrite a data column of the same name. "
            "Choose another name or write provenance to a sidecar file."
        )


def with_provenance(release: Release, column: str = DEFAULT_COLUMN) -> pd.DataFrame:
    """The released table with its provenance as a last column named ``column``.

    Parameters
    ----------
    release : Release
    column : str
        Name of the provenance column (default ``"provenance"``); must not be a data column.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> import pandas as pd
    >>> r = Release(pd.DataFrame({"x": [1]}), pd.Series(["real"]), mode="mix")
    >>> list(with_provenance(r, "origin").columns)
    ['x', 'origin']
    """
    _check_column(column, release.data)
    out = release.data.copy()
    out[column] = release.provenance.astype(str).to_numpy()
    return out


def write_release(release: Release, folder: str | Path, *,
                  provenance: Literal["column", "sidecar"] = "column",
                  column: str = DEFAULT_COLUMN, name: str = "release",
                  csv_format: CsvFormat | None = None) -> dict[str, Path]:
    """Write the release into ``folder`` atomically: all files appear, or none changes.

    Files are written into a temporary sibling folder, then moved into place.

    Parameters
    ----------
    release : Release
    folder : str or Path
        Output folder (created when missing; files of the same names are replaced).
    provenance : {"column", "sidecar"}
        ``column``: one file ``NAME.csv`` with a provenance column; ``sidecar``: ``NAME.csv``
        without it and ``NAME_provenance.csv`` with columns ``row`` (0-based row number in
        ``NAME.csv``) and ``provenance``.
    column : str
        Name of the provenance column (in the release or in the sidecar).
    name : str
        Base file name (default ``"release"``).
    csv_format : CsvFormat, optional
        Separator, decimal mark and encoding of the files (default: comma-separated UTF-8;
        the pipelines pass the source file's own, :func:`synthmed.datasets.io.sniff_csv`).

    Returns
    -------
    dict of str to Path
        File name -> written path.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> r = Release(pd.DataFrame({"x": [1]}), pd.Series(["real"]), mode="mix")
    >>> sorted(write_release(r, tempfile.mkdtemp(), provenance="sidecar"))
    ['release.csv', 'release_provenance.csv']
    """
    if provenance not in ("column", "sidecar"):
        raise ParameterError(f"`provenance` must be 'column' or 'sidecar', got {provenance!r}.")
    if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
        raise ParameterError(f"`name` must be a plain file name, got {name!r}.")
    out_dir = Path(folder)
    if out_dir.exists() and not out_dir.is_dir():
        raise ParameterError(f"Output {str(out_dir)!r} exists and is not a folder.")
    fmt = csv_format or CsvFormat()
    if fmt.tall is not None:  # a row per measurement: each carries its patient's provenance
        release = _laid_out(release, fmt)
        fmt = fmt.cells_only
    if provenance == "column":
        tables = {f"{name}.csv": with_provenance(release, column)}
    else:
        if not isinstance(column, str) or not column.strip() or column == "row":
            raise ParameterError(
                f"The sidecar's provenance column name must be a non-empty string other than "
                f"'row', got {column!r}."
            )
        side = pd.DataFrame({"row": np.arange(len(release)),
                             column: release.provenance.astype(str).to_numpy()})
        tables = {f"{name}.csv": release.data, f"{name}_provenance.csv": side}
    def write(staging: Path) -> None:
        for file_name, table in tables.items():
            fmt.write(table, staging / file_name)

    files = write_atomically(out_dir, write)
    if provenance == "column":  # a stale sidecar from an earlier run would contradict
        (out_dir / f"{name}_provenance.csv").unlink(missing_ok=True)
    return files


def _laid_out(release: Release, fmt: CsvFormat) -> Release:
    """``release`` in ``fmt``'s layout (a row per measurement, :mod:`synthmed.datasets.tall`),
    each row's provenance that of its patient-time row."""
    key = "__provenance"
    wide = release.data.copy()
    wide[key] = release.provenance.astype(str).to_numpy()
    tall = fmt.laid_out(wide)
    return replace(release, data=tall.drop(columns=key), provenance=make_provenance(tall[key]),
                   source_index=None)

