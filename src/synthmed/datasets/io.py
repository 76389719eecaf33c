"""Readers for the user's own tables (CSV, Parquet, .xlsx), with errors that say what to fix.

CSV files are read in the dialect they were written in (:func:`sniff_csv`): a spreadsheet
export from a European locale separates fields with ";" and writes "1,5" for 1.5, and a
Windows export is often cp1252, not UTF-8. Read with pandas' defaults, such a file is one
column of text. The pipelines write ``synthetic.csv`` back in the same dialect
(:meth:`CsvFormat.write`), so the file opens in the tool the source came from.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, replace
import gzip
import io
import json
from pathlib import Path
import re
from typing import Any, TextIO
import zipfile

import numpy as np
import pandas as pd

from synthmed.datasets.pairs import PairedColumn, join_pairs
from synthmed.datasets.tall import TallLayout
from synthmed.exceptions import DataError
from synthmed.schema import written_decimals_of

__all__ = ["CSV_FORMAT_FILE", "CsvFormat", "read_table", "sniff_csv", "source_format"]

_CSV = {".csv", ".tsv", ".txt", ".gz"}
_PARQUET = {".parquet", ".pq"}
_EXCEL = {".xlsx", ".xlsm"}
#: written into a model folder (by `fit`, and by `generate` into OUT/model) when the source had
#: its own dialect or layout: `synthmed sample` writes the same way
CSV_FORMAT_FILE = "csv_format.json"
#: bytes read to tell the dialect; lines read of them
_SNIFF_BYTES = 65_536
_SNIFF_LINES = 50
_SEPARATORS = (",", ";", "\t", "|")
#: tokens pandas reads as missing by default (and the empty cell), in order of preference
_MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "#N/A", "None", "-NaN",
                   "<NA>")


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file was written: field separator, decimal mark, text encoding, the token of
    an empty cell and of yes/no values, and the columns that hold two values per cell ("A/B",
    a number in one of several units: :mod:`synthmed.datasets.pairs`)."""

    sep: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    missing: str = ""  # how an empty cell is written ("NA" in R's exports)
    true: str = "True"  # how yes/no values are written ("TRUE" in Excel's exports)
    false: str = "False"
    pairs: tuple[PairedColumn, ...] = ()
    #: columns whose numbers are written with thousands separators ("1,234.5"; "1.234,5")
    grouped: tuple[str, ...] = ()
    #: columns whose negative numbers are written with the Unicode minus ("−1.5", U+2212)
    minus: tuple[str, ...] = ()
    #: columns with no name in the header, as pandas names them ("Unnamed: 2"), written back
    #: without one
    blank: tuple[str, ...] = ()
    #: a tall long table (a row per measurement) read as a column per measure: written back
    #: a row per measurement (:mod:`synthmed.datasets.tall`)
    tall: TallLayout | None = None
    #: columns whose numbers are written to a fixed number of decimals, trailing zeros kept
    #: ("3.80", "140.0"), and that number; pandas alone would write "3.8" and, for whole
    #: numbers with gaps, "140"
    padded: tuple[tuple[str, int], ...] = ()

    @property
    def is_default(self) -> bool:
        return self in (CsvFormat(), CsvFormat(encoding="utf-8-sig"))

    def with_pairs(self, pairs: tuple[PairedColumn, ...]) -> CsvFormat:
        """This dialect, writing ``pairs`` back as one column each."""
        return replace(self, pairs=tuple(pairs))

    def with_tall(self, layout: TallLayout | None) -> CsvFormat:
        """This dialect, writing a column per measure back as a row per measurement."""
        return replace(self, tall=layout)

    def laid_out(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` in the source's layout: each pair joined into one cell, then, for a tall
        source, a row per measurement (columns other than the measures carried on each)."""
        frame = join_pairs(frame, self.pairs, self.decimal)
        return frame if self.tall is None else self.tall.melt(frame)

    def written_rows(self, frame: pd.DataFrame) -> int:
        """How many rows :meth:`write` writes for ``frame`` (without laying it out)."""
        if self.tall is None:
            return len(frame)
        return self.tall.count(join_pairs(frame, self.pairs, self.decimal))

    @property
    def cells_only(self) -> CsvFormat:
        """This dialect for a frame already :meth:`laid_out`: cell marks only."""
        return replace(self, pairs=(), tall=None)

    def describe(self) -> str:
        sep = "tab" if self.sep == "\t" else repr(self.sep)
        missing = f", missing values written {self.missing!r}" if self.missing else ""
        yes_no = (f", yes/no written {self.true!r}/{self.false!r}"
                  if (self.true, self.false) != ("True", "False") else "")
        grouped = (f", thousands separated by {self.thousands!r} in "
                   f"{', '.join(self.grouped)}" if self.grouped else "")
        minus = (f", negative numbers written with '\u2212' in {', '.join(self.minus)}"
                 if self.minus else "")
        return (f"{sep}-separated, {self.decimal!r} decimal mark, {self.encoding} text"
                f"{missing}{yes_no}{grouped}{minus}")

    @property
    def thousands(self) -> str:
        """The thousands separator of this dialect's grouped numbers."""
        return "." if self.decimal == "," else ","

    def note(self) -> str | None:
        """What a run says about the dialect it read (None for comma-separated UTF-8)."""
        if replace(self, pairs=(), blank=(), tall=None, padded=()).is_default:
            return None
        return f"read as {self.describe()}; synthetic.csv is written the same way"

    def pairs_note(self) -> str | None:
        """What a run says about the columns it read as two (None if none)."""
        if not self.pairs:
            return None
        what = {"pair": "'A/B'", "unit": "numbers in several units"}
        read = "; ".join(f"{p.name} ({what.get(p.kind, p.kind)}) as {p.parts[0]} and "
                         f"{p.parts[1]}" for p in self.pairs)
        return (f"two values per cell read as two columns: {read}; synthetic.csv writes "
                "each back as one column")

    def write(self, frame: pd.DataFrame, target: str | Path | TextIO, *,
              header: bool = True) -> None:
        """Write ``frame`` (no index) in this dialect, to a path or to a text handle opened
        with :attr:`encoding` (chunks appended one after another: ``header`` on the first)."""
        frame = self.laid_out(frame)
        if self.padded:
            frame = _padded_numbers(frame, self.padded)
        if self.decimal != ".":
            frame = _text_numbers(frame, _DOT_NUMBER, rf"\1{self.decimal}\2")
        if (self.true, self.false) != ("True", "False"):
            frame = _yes_no(frame, self.true, self.false)
        if self.grouped or self.minus:
            frame = _written_numbers(frame, self)
        if self.blank:
            frame = frame.rename(columns={name: "" for name in self.blank})
        encoding = None if hasattr(target, "write") else self.encoding
        frame.to_csv(target, index=False, sep=self.sep, decimal=self.decimal,
                     encoding=encoding, na_rep=self.missing, header=header)

    def save_beside(self, model: str | Path) -> None:
        """Keep this dialect in a saved model's folder (when not the default), so that
        `synthmed sample MODEL` writes what the run that saved it wrote."""
        if not self.is_default:
            (Path(model) / CSV_FORMAT_FILE).write_text(json.dumps(self.to_meta()) + "\n")

    def to_meta(self) -> dict[str, Any]:
        return {"sep": self.sep, "decimal": self.decimal, "encoding": self.encoding,
                "missing": self.missing, "true": self.true, "false": self.false,
                "pairs": [p.to_meta() for p in self.pairs], "grouped": list(self.grouped),
                "minus": list(self.minus), "blank": list(self.blank),
                "padded": [list(p) for p in self.padded],
                **({"tall": self.tall.to_meta()} if self.tall is not None else {})}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CsvFormat:
        fields = {k: str(meta[k]) for k in ("sep", "decimal", "encoding", "missing", "true",
                                            "false") if k in meta}
        pairs = tuple(PairedColumn.from_meta(p) for p in meta.get("pairs") or [])
        return cls(**fields, pairs=pairs, grouped=tuple(map(str, meta.get("grouped") or [])),
                   minus=tuple(map(str, meta.get("minus") or [])),
                   blank=tuple(map(str, meta.get("blank") or [])),
                   padded=tuple((str(n), int(d)) for n, d in meta.get("padded") or []),
                   tall=TallLayout.from_meta(meta["tall"]) if meta.get("tall") else None)

    def read_text_numbers(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numbers inside text cells ("1,4 mg/dL", "<0,5") with a "." decimal mark, as the
        schema reads them, and columns of numbers with thousands separators ("1,234.5") or a
        Unicode minus ("−1.5") as numbers; :meth:`write` puts this dialect's marks back."""
        frame = _grouped_numbers(frame, self.thousands, self.decimal)
        if self.decimal == ".":
            return frame
        return _text_numbers(frame, _COMMA_NUMBER, r"\1.\2")


#: a number at the start of a text cell, followed by a unit, a space or nothing (never by
#: another "." or ",": "31.08.2019" is a date)
_COMMA_NUMBER = re.compile(r"^(\s*[<>]?=?\s*[+-]?\d+),(\d+)(?=\s|[A-Za-z%°µ]|$)")
_DOT_NUMBER = re.compile(r"^(\s*[<>]?=?\s*[+-]?\d+)\.(\d+)(?=\s|[A-Za-z%°µ]|$)")


def _yes_no(frame: pd.DataFrame, true: str, false: str) -> pd.DataFrame:
    """Yes/no columns written with the source's tokens (pandas reads "TRUE" as True and
    would write "True")."""
    out = frame.copy()
    for name in out.columns:
        values = out[name].dropna()
        if len(values) and (pd.api.types.is_bool_dtype(out[name]) or values.map(
                lambda v: isinstance(v, bool | np.bool_)).all()):
            out[name] = out[name].map({True: true, False: false}).astype(object)
    return out


def _text_numbers(frame: pd.DataFrame, pattern: re.Pattern[str], repl: str) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            text = out[name].where(out[name].map(lambda v: isinstance(v, str)))
            changed = text.str.replace(pattern, repl, regex=True)
            out[name] = changed.where(changed.notna(), out[name])
    return out


def _padded_numbers(frame: pd.DataFrame, padded: tuple[tuple[str, int], ...]) -> pd.DataFrame:
    """Number columns written to the source's fixed decimals ("3.80"); a value that needs
    more decimals than that keeps them (padding never rounds)."""
    out = frame.copy()
    for name, places in padded:
        if name not in out.columns or not pd.api.types.is_numeric_dtype(out[name]) or \
                pd.api.types.is_bool_dtype(out[name]):
            continue
        values = pd.to_numeric(out[name], errors="coerce").astype(float).to_numpy()
        scaled = values * 10.0**places
        fits = np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, np.abs(scaled))
        text = [None if not np.isfinite(v) else f"{v:.{places}f}" if fit
                else np.format_float_positional(v, trim="-")
                for v, fit in zip(values, fits, strict=True)]
        out[name] = pd.Series(text, index=out.index, dtype=object)
    return out


def _fixed_places(values: pd.Series, decimal: str) -> int | None:
    """The decimals every number of a sampled text column is written with, when at least
    one of them ends in a zero that pandas would drop ("3.80", "140.0"); else None."""
    text = values.dropna().astype(str).str.strip().str.replace(decimal, ".", regex=False)
    places = written_decimals_of(text) if len(text) >= 3 else None
    return places if places and text.str.endswith("0").any() else None


def _grouping_patterns(thousands: str, decimal: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A number with thousands separators ("1,234.5"), and any number of this dialect."""
    t, d = re.escape(thousands), re.escape(decimal)
    return (re.compile(rf"^[+-]?\d{{1,3}}(?:{t}\d{{3}})+(?:{d}\d+)?$"),
            re.compile(rf"^[+-]?(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d+)?$"))


#: the Unicode minus sign (U+2212) some lab systems and typeset tables write
MINUS = "\u2212"


def _number_marks(values: pd.Series, thousands: str, decimal: str) -> set[str]:
    """The marks pandas cannot read that a column of numbers of this dialect carries:
    "grouped" (thousands separators) and/or "minus" (a Unicode minus); empty when some value
    is not such a number or none has either mark."""
    grouped, number = _grouping_patterns(thousands, decimal)
    head = values.iloc[:2_000].dropna()  # a column of labels is passed over without a scan
    if not len(head) or not head.map(lambda v: isinstance(v, str)).all() or not head.astype(
            str).str.strip().str.replace(MINUS, "-", regex=False).str.fullmatch(number).all():
        return set()
    text = pd.Series(values.dropna().unique())
    if not text.map(lambda v: isinstance(v, str)).all():
        return set()
    text = text.str.strip()
    plain = text.str.replace(MINUS, "-", regex=False)
    if not plain.str.fullmatch(number).all():
        return set()
    return ({"grouped"} if plain.str.fullmatch(grouped).any() else set()) | (
        {"minus"} if text.str.startswith(MINUS).any() else set())


def _grouped_numbers(frame: pd.DataFrame, thousands: str, decimal: str) -> pd.DataFrame:
    """Text columns of numbers written with thousands separators or a Unicode minus, as
    numbers."""
    out = None
    for name in frame.columns:
        if frame[name].dtype == object and _number_marks(frame[name], thousands, decimal):
            text = frame[name].str.strip().str.replace(MINUS, "-", regex=False)
            text = text.str.replace(thousands, "", regex=False)
            out = frame.copy() if out is None else out
            out[name] = pd.to_numeric(text.str.replace(decimal, ".", regex=False))
    return frame if out is None else out


def _written_numbers(frame: pd.DataFrame, fmt: CsvFormat) -> pd.DataFrame:
    """Numbers of the source's grouped columns written with thousands separators, and of
    its minus columns with the Unicode minus, as the source wrote them."""
    thousands, decimal = fmt.thousands, fmt.decimal
    out = frame.copy()
    for name in dict.fromkeys([*fmt.grouped, *fmt.minus]):
        if name not in out.columns or not pd.api.types.is_numeric_dtype(out[name]):
            continue
        group, sign = name in fmt.grouped, MINUS if name in fmt.minus else "-"
        values = pd.to_numeric(out[name], errors="coerce").astype(float).to_numpy()
        text = []
        for v in values:
            if not np.isfinite(v):
                text.append(None)
                continue
            whole, _, part = np.format_float_positional(abs(v), trim="-").partition(".")
            if group:
                whole = f"{int(whole):,}".replace(",", thousands)
            text.append((sign if v < 0 else "") + whole + (decimal + part if part else ""))
        out[name] = pd.Series(text, index=out.index, dtype=object)
    return out


def sniff_csv(path: str | Path) -> CsvFormat:
    """The dialect of a CSV file, read from its first lines.

    Encoding: UTF-8 (with or without a byte-order mark) if the bytes decode as UTF-8, else
    cp1252 (Windows' Western European), else Latin-1. Separator: among ",", ";", tab and "|",
    the one that splits the header into the most fields with the same count on (nearly) every
    line; "," when none does. Decimal mark: "," when the separator is not "," and numbers are
    written like "1,5" more often than like "1.5".
    """
    path = Path(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read(_SNIFF_BYTES)
    encoding, text = _decode(raw)
    lines = text.splitlines()
    if len(raw) == _SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines[:_SNIFF_LINES] if line.strip()]
    sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else _separator(lines)
    if sep == "," and lines and len(next(csv.reader([lines[0]]))) == 1 and any(
            len(row) > 1 for row in csv.reader(lines[1:])):
        sep = ";"  # one column whose numbers hold a decimal comma ("-0,245"): no separator
    fields = [f.strip() for row in csv.reader(io.StringIO("\n".join(lines[1:])),
                                              delimiter=sep) for f in row]
    decimal = "."
    if sep != ",":
        comma = sum(bool(_COMMA_NUMBER.match(f)) for f in fields)
        if comma and comma >= sum(bool(_DOT_NUMBER.match(f)) for f in fields):
            decimal = ","
    true, false = next(((t, f) for t, f in (("TRUE", "FALSE"), ("true", "false"))
                        if t in fields or f in fields), ("True", "False"))
    found = CsvFormat(sep, decimal, encoding, _missing_token(fields), true, false)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
    header = rows[0] if rows else []
    blank = [i for i, raw in enumerate(header) if not raw.strip()]
    # pandas names a column without a header "Unnamed: <position>"
    names = [f"Unnamed: {i}" if i in blank else raw for i, raw in enumerate(header)]
    found = replace(found, blank=tuple(names[i] for i in blank))
    if len(rows) > 1:
        sample = pd.DataFrame([r for r in rows[1:] if len(r) == len(rows[0])],
                              dtype=object).replace("", None)
        marks = [(name, _number_marks(sample[i], found.thousands, decimal))
                 for i, name in enumerate(names) if i in sample.columns]
        found = replace(found, grouped=tuple(n for n, m in marks if "grouped" in m),
                        minus=tuple(n for n, m in marks if "minus" in m))
        fixed = [(name, _fixed_places(sample[i].mask(sample[i].isin(_MISSING_TOKENS)), decimal))
                 for i, name in enumerate(names)
                 if i in sample.columns and name not in (*found.grouped, *found.minus)]
        found = replace(found, padded=tuple((n, d) for n, d in fixed if d))
    return found


def source_format(data: object) -> CsvFormat | None:
    """The dialect of ``data`` when it is a path to an existing CSV file, else None."""
    if not isinstance(data, str | Path):
        return None
    path = Path(data)
    if not path.is_file() or path.suffix.lower() not in _CSV:
        return None
    try:
        return sniff_csv(path)
    except OSError:
        return None


def _read_excel(path: Path) -> pd.DataFrame:
    """The workbook's one sheet holding data (openpyxl). Several such sheets are an error
    that names them: which one is the table is the user's call."""
    sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    filled = {name: frame for name, frame in sheets.items() if frame.shape != (0, 0)}
    if len(filled) > 1:
        raise DataError(f"Workbook {str(path)!r} has {len(filled)} sheets with data "
                        f"({', '.join(map(repr, filled))}); save the table to use as its own "
                        ".xlsx or .csv file.")
    return next(iter(filled.values()), pd.DataFrame())


def _decode(raw: bytes) -> tuple[str, str]:
    encoding = "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    try:  # an incremental decoder tolerates a character cut at the end of the sample
        return encoding, codecs.getincrementaldecoder(encoding)().decode(raw, final=False)
    except UnicodeDecodeError:
        pass
    try:
        return "cp1252", raw.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined
        return "latin-1", raw.decode("latin-1")


def _missing_token(fields: list[str]) -> str:
    """The commonest of pandas' missing-value tokens among ``fields`` ("" when empty cells are
    as common): pandas reads them all as missing, so the release writes back the source's."""
    counts = {t: 0 for t in _MISSING_TOKENS}
    for f in fields:
        if f in counts:
            counts[f] += 1
    token = max(counts, key=lambda t: (counts[t], t == ""))
    return token if counts[token] else ""


def _separator(lines: list[str]) -> str:
    best, best_fields = ",", 1
    for sep in _SEPARATORS:
        counts = [len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)]
        if not counts or counts[0] < 2:
            continue
        steady = sum(c == counts[0] for c in counts) >= 0.9 * len(counts)
        if steady and counts[0] > best_fields:
            best, best_fields = sep, counts[0]
    return best


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
        raise DataError(f"{str(path)!r} is not a file: give a table file (CSV, Parquet, "
                        "Excel...), or a folder of signal records (.hea, .edf, .dcm, .npy; "
                        "CSV with --fs).")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            frame = pd.read_parquet(path)
        elif suffix in _EXCEL:
            frame = _read_excel(path)
        elif suffix in _CSV:
            fmt = sniff_csv(path)
            frame = fmt.read_text_numbers(pd.read_csv(
                path, sep=fmt.sep, decimal=fmt.decimal, encoding=fmt.encoding,
                low_memory=False))
        else:
            raise DataError(
                f"Cannot read {str(path)!r}: unknown format {suffix or '(no extension)'!r}. "
                "Give a .csv, .tsv, .xlsx or .parquet file"
                + (" (save an .xls workbook as .xlsx)." if suffix == ".xls" else ".")
            )
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"File {str(path)!r} is empty: it has no header and no rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, KeyError,
            zipfile.BadZipFile) as exc:
        kind = ("Parquet" if suffix in _PARQUET else "Excel (.xlsx)" if suffix in _EXCEL
                else "CSV")
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
