"""Schema: what each column is and what role it plays, inferred and user-correctable.

A :class:`TableSchema` is a frozen, JSON-serialisable description of a table: per column its
*kind* (how values behave) and its *roles* (what the column means for privacy and analysis).
Direct identifiers and free text are never modelled: generators drop them.

Example
-------
>>> import pandas as pd
>>> from synthmed import infer_schema
>>> df = pd.DataFrame({"age": [40.5 + i for i in range(30)], "sex": ["f", "m"] * 15})
>>> schema = infer_schema(df, target="sex")
>>> schema.column("age").kind, schema.target
('numeric', 'sex')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import json
from pathlib import Path
import re
from typing import Any, Literal, Self, get_args
import warnings

import numpy as np
import pandas as pd

from synthmed.exceptions import DataError, SchemaError

__all__ = [
    "SCHEMA_SPEC_VERSION",
    "ColumnKind",
    "ColumnSchema",
    "Role",
    "TableSchema",
    "coerce_table",
    "date_format_of",
    "formats_note",
    "incompatible_values",
    "infer_schema",
    "missing_codes_note",
    "read_dates",
    "read_notes",
    "without_codes",
]

SCHEMA_SPEC_VERSION = "1.0"

ColumnKind = Literal[
    "numeric", "integer", "categorical", "boolean", "datetime", "identifier", "text"
]
Role = Literal[
    "target",
    "sensitive",
    "quasi_identifier",
    "direct_identifier",
    "entity_id",
    "time_index",
    "static",
    "survival_time",
    "event",
    "post_outcome",
]
KINDS: tuple[str, ...] = get_args(ColumnKind)
ROLES: tuple[str, ...] = get_args(Role)
NUMERIC_KINDS = frozenset({"numeric", "integer"})
UNMODELLED_KINDS = frozenset({"identifier", "text"})

# A numeric column with at most this many distinct values is treated as categorical
# (stage 1-4, ECOG 0-3, edema 0/0.5/1): its values are codes, not measurements.
MAX_CODES_FOR_CATEGORICAL = 10
MAX_DECIMALS = 6
#: share of a number column's values its decimals must write exactly (the rest are rounded)
DECIMALS_SHARE = 0.995
#: whole values that must lie above every value with decimals for a column to be read as
#: whole from there on (:func:`infer_whole_from`)
MIN_WHOLE_ABOVE = 20
#: distinct values that must show a grid for a column to be read as on it
#: (:func:`infer_step`); fewer are codes or chance
MIN_STEP_VALUES = 5
#: a grid read from values written at fewer decimals than it has is trusted where values off
#: any grid would all lie so close to it less often than this by chance
GRID_CHANCE = 1e-6
#: and where its smallest value is at most this many times its range from zero, in steps
MAX_GRID_OFFSET = 10
# Text that stands for "no value" in exported tables (SAS and Stata write ".", fixed-width
# exports pad blanks), once surrounding blanks are stripped. Such tokens are read as missing,
# so that missingness is modelled as missingness, and written back in the source's own token.
# pandas already reads NA, N/A, NULL, NaN and empty cells as missing.
_MISSING_TOKENS = frozenset({"", ".", "?"})
# ...and these only among numbers: "-" or "*" beside text may be a result ("+" / "-")
_MISSING_NUMBER_TOKENS = frozenset({"-", "--", "*"})

# seqn: a survey respondent's sequence number (NHANES' SEQN, NHEFS's seqn): a forest that
# modelled NHEFS's was told apart by it alone at AUC 0.63
_ID_NAME = re.compile(
    r"(^|[_.\s-])(id|ids|mrn|ssn|nhs|uuid|guid|record|rownames|row_?id|patient_?id|"
    r"subject_?id|encounter_?id|accession|seqn|seq_?no)($|[_.\s-])|(^|[a-z])id$",
    re.IGNORECASE,
)
_PERSON_NAME = re.compile(
    r"(first|last|given|family|full|sur|middle|patient|maiden)[_.\s-]?name|^name$|"
    r"address|street|e-?mail|phone|mobile|fax",
    re.IGNORECASE,
)
_QUASI_NAME = re.compile(
    r"(^|[_.\s-])(age|sex|gender|race|raceth|ethnic\w*|zip\w*|postcode|postal\w*|birth\w*|dob|"
    r"marital\w*|weight|height|nationality|country|county|language)($|[_.\s-])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+\.[\w.-]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


@dataclass(frozen=True)
class ColumnSchema:
    """One column: its kind, roles and output format.

    Parameters
    ----------
    name : str
        Column name.
    kind : {"numeric", "integer", "categorical", "boolean", "datetime", "identifier", "text"}
        How values behave. ``identifier`` and ``text`` columns are never modelled.
    roles : frozenset of str
        Any of ``target``, ``sensitive``, ``quasi_identifier``, ``direct_identifier``,
        ``entity_id``, ``time_index``, ``static`` (longitudinal data: constant within an entity),
        ``survival_time``, ``event``, ``post_outcome`` (recorded after the outcome, e.g. cause
        of death: never a predictor in utility models).
    dtype : str
        The pandas dtype of the source column, restored on output.
    decimals : int or None
        Number of decimals the source records (numeric kinds); synthetic values keep it.
    date_only : bool
        For datetimes: every source value falls at midnight, so output keeps dates only.
    unit : str or None
        For numbers written with a unit ("71.5 kg", "12%"): the text after the number,
        separator included (``" kg"``, ``"%"``). Read as numbers, written back with it.
    time_unit : {"h", "min", "s"} or None
        For datetimes that are not dates only: the coarsest clock unit every source value is
        whole in (a time recorded to the minute); synthetic times are rounded to it.
    limits : tuple of str
        For lab values with a detection limit: the source's "<L" and/or ">U" tokens (one of
        each at most). "<L" is read as L / 2 and ">U" as 1.5 U, and synthetic values below L
        or above U are written back as the token.
    date_format : str or None
        For dates read from text: the one ``strftime`` pattern every source value follows
        (``"%d.%m.%Y"``), used to read them (so "04.02.2021" is 4 February, never 2 April) and
        to write synthetic dates back the same way. None: ISO output.
    missing_codes : tuple of str
        Source tokens that mean "no value" (``"."``, blanks), most frequent first: read as
        missing, and the first is written where a synthetic value is missing.
    written_decimals : int or None
        For numbers read from text (with a unit or a detection limit): the decimals every
        source value is written with where they exceed ``decimals`` ("143.0 mmol/L": 1, its
        values being whole). Synthetic values are rounded to ``decimals`` and written with
        this many ("139.0 mmol/L").
    whole_from : float or None
        For numbers with decimals: the magnitude from which every source value is whole (a
        child's age in tenths below 1 year, in years above; a dosing schedule of 0.25, 0.5, 1,
        2, 4... hours). Synthetic values from it on are rounded to whole numbers.
    step : float or None
        For numbers: the grid every source value lies on where it is coarser than the
        decimals (a dose in steps of 0.5 mg, a weight in whole pounds converted to kg, 0.4536,
        a count in thousands). Synthetic values are rounded to its multiples.
    """

    name: str
    kind: ColumnKind
    roles: frozenset[str] = field(default_factory=frozenset)
    dtype: str = "object"
    decimals: int | None = None
    date_only: bool = False
    missing_codes: tuple[str, ...] = ()
    date_format: str | None = None
    unit: str | None = None
    limits: tuple[str, ...] = ()
    time_unit: str | None = None
    written_decimals: int | None = None
    whole_from: float | None = None
    step: float | None = None

    @property
    def modelled(self) -> bool:
        """Whether generators learn this column (identifiers and free text are never modelled)."""
        return self.kind not in UNMODELLED_KINDS and "direct_identifier" not in self.roles

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "roles": sorted(self.roles)}
        out["dtype"] = self.dtype
        if self.decimals is not None:
            out["decimals"] = self.decimals
        if self.date_only:
            out["date_only"] = True
        if self.missing_codes:
            out["missing_codes"] = list(self.missing_codes)
        if self.date_format:
            out["date_format"] = self.date_format
        if self.unit:
            out["unit"] = self.unit
        if self.limits:
            out["limits"] = list(self.limits)
        if self.time_unit:
            out["time_unit"] = self.time_unit
        if self.written_decimals is not None:
            out["written_decimals"] = self.written_decimals
        if self.whole_from is not None:
            out["whole_from"] = self.whole_from
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class TableSchema:
    """A table's columns with kinds and roles; serialisable to JSON with a spec version.

    Use :func:`infer_schema` to build one from data, :meth:`save`/:meth:`load` to keep it in a
    file that a person can correct, and :meth:`validate` to check a table against it.
    """

    columns: tuple[ColumnSchema, ...]
    spec_version: str = SCHEMA_SPEC_VERSION
    modality: str = "table"
    #: value of the ``event`` column that means the event happened (None: largest code / True)
    event_value: Any = None

    # ----------------------------------------------------------------- look-ups
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(
            f"Column {name!r} is not in the schema. Columns: {', '.join(self.names)}."
        )

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if role in c.roles]

    @property
    def target(self) -> str | None:
        found = self.with_role("target")
        return found[0] if found else None

    @property
    def sensitive(self) -> list[str]:
        return self.with_role("sensitive")

    @property
    def quasi_identifiers(self) -> list[str]:
        return self.with_role("quasi_identifier")

    @property
    def survival(self) -> tuple[str, str] | None:
        """``(time, event)`` columns when the table carries a survival outcome."""
        times, events = self.with_role("survival_time"), self.with_role("event")
        return (times[0], events[0]) if times and events else None

    @property
    def modelled_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.modelled]

    @property
    def dropped_columns(self) -> list[str]:
        """Columns never modelled (direct identifiers and free text)."""
        return [c.name for c in self.columns if not c.modelled]

    # ----------------------------------------------------------------- changes
    def set_roles(
        self,
        *,
        target: str | None = None,
        sensitive: Iterable[str] = (),
        quasi_identifiers: Iterable[str] = (),
        survival: tuple[str, str] | None = None,
        event_value: Any = None,
    ) -> Self:
        """Return a copy with the target, sensitive, quasi-identifier and survival roles given.

        A given target (or survival pair) replaces the previous one. Unknown columns raise
        :class:`SchemaError`. ``survival`` is ``(time, event)``; ``event_value`` is the event
        column's value meaning "the event happened".
        """
        sensitive, quasi = list(sensitive), list(quasi_identifiers)
        time_col, event_col = survival if survival is not None else (None, None)
        unknown = [n for n in [target, *sensitive, *quasi, time_col, event_col]
                   if n is not None and n not in self]
        if unknown:
            raise SchemaError(
                [f"Column {n!r} is not in the data. Columns: {', '.join(self.names)}."
                 for n in unknown]
            )
        cols = []
        for col in self.columns:
            roles = set(col.roles)
            if target is not None:
                roles.discard("target")
                if col.name == target:
                    roles.add("target")
            if col.name in sensitive:
                roles.update({"sensitive", "quasi_identifier"})
            if col.name in quasi:
                roles.add("quasi_identifier")
            if survival is not None:
                roles -= {"survival_time", "event"}
                if col.name == time_col:
                    roles.add("survival_time")
                if col.name == event_col:
                    roles.add("event")
            cols.append(replace(col, roles=frozenset(roles)))
        event = event_value if survival is not None else self.event_value
        return replace(self, columns=tuple(cols), event_value=event)

    def subset(self, names: Sequence[str]) -> Self:
        """Schema restricted to ``names`` (in that order)."""
        return replace(self, columns=tuple(self.column(n) for n in names))

    # ----------------------------------------------------------------- checks
    def validate(self, data: pd.DataFrame, *, allow_empty: bool = False) -> None:
        """Check ``data`` against the schema; raise one :class:`SchemaError` with all problems.

        ``allow_empty``: a column with no value is no problem (a table being judged, such as
        a synthetic one that never draws a value recorded on 3 of 99 patients).
        """
        problems = list(self._structural_problems())
        present = set(data.columns)
        for name in self.names:
            if name not in present:
                problems.append(
                    f"Column {name!r} is in the schema but not in the data; "
                    "remove it from the schema or add it to the data."
                )
        for name in data.columns:
            if name not in self:
                problems.append(
                    f"Column {name!r} is in the data but not in the schema; "
                    "add it to the schema (or drop it from the data)."
                )
        for col in self.columns:
            if col.name not in present or not col.modelled:
                continue
            series = without_codes(data[col.name], col)
            n_missing = int(series.isna().sum())
            if n_missing == len(series) and allow_empty:
                continue
            if n_missing == len(series):
                problems.append(
                    f"Column {col.name!r} has no values (all {len(series)} missing); "
                    + ("it cannot be the target: choose another target column."
                       if "target" in col.roles else
                       "drop it or mark it as kind 'identifier' so that it is not modelled."))
                continue
            # any kind: a float column of few values (one "inf" everywhere) reads as categorical
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                infinite = int(np.isinf(series.to_numpy(dtype=float)).sum())
                if infinite:
                    problems.append(
                        f"Column {col.name!r} holds {infinite} infinite value(s) (inf or -inf, "
                        "e.g. from a division by zero in the export); replace them with "
                        "numbers or leave the cells empty (missing).")
                    continue
            bad = incompatible_values(series, col.kind, col.date_format)
            if bad:
                problems.append(
                    f"Column {col.name!r} is declared {col.kind!r} but {bad} of "
                    f"{len(series) - n_missing} values are not; correct its kind in the schema."
                )
        if problems:
            raise SchemaError(problems)

    def _structural_problems(self) -> Iterable[str]:
        seen: set[str] = set()
        for col in self.columns:
            if col.name in seen:
                yield f"Column {col.name!r} appears more than once in the schema."
            seen.add(col.name)
            if col.kind not in KINDS:
                yield (f"Column {col.name!r} has unknown kind {col.kind!r}; "
                       f"use one of {', '.join(KINDS)}.")
            for role in sorted(col.roles - set(ROLES)):
                yield (f"Column {col.name!r} has unknown role {role!r}; "
                       f"use any of {', '.join(ROLES)}.")
        targets = self.with_role("target")
        if len(targets) > 1:
            yield f"Only one target column is allowed, got {len(targets)}: {', '.join(targets)}."
        for name in targets:
            if not self.column(name).modelled:
                yield f"Target column {name!r} is an identifier or free text, not a target."

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spec_version": self.spec_version, "modality": self.modality}
        if self.event_value is not None:
            out["event_value"] = _jsonable(self.event_value)
        out["columns"] = [c.to_dict() for c in self.columns]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """Build a schema from its dict form; every problem is reported at once."""
        problems: list[str] = []
        if not isinstance(raw, Mapping) or not isinstance(raw.get("columns"), list):
            raise SchemaError("A schema must be a JSON object with a 'columns' list.")
        version = str(raw.get("spec_version", SCHEMA_SPEC_VERSION))
        if version.split(".")[0] != SCHEMA_SPEC_VERSION.split(".")[0]:
            problems.append(
                f"Schema spec version {version!r} is not supported (this synthmed reads "
                f"{SCHEMA_SPEC_VERSION}); re-create it with 'synthmed' of this version."
            )
        cols = []
        for i, item in enumerate(raw["columns"]):
            if not isinstance(item, Mapping) or "name" not in item or "kind" not in item:
                problems.append(f"Schema entry {i} must be an object with 'name' and 'kind'.")
                continue
            known = {"name", "kind", "roles", "dtype", "decimals", "date_only", "missing_codes",
                     "date_format", "unit", "limits", "time_unit", "written_decimals",
                     "whole_from", "step"}
            extra = sorted(set(item) - known)
            if extra:
                problems.append(f"Column {item['name']!r} has unknown fields: {', '.join(extra)}.")
            cols.append(
                ColumnSchema(
                    name=str(item["name"]),
                    kind=item["kind"],
                    roles=frozenset(item.get("roles", ())),
                    dtype=str(item.get("dtype", "object")),
                    decimals=item.get("decimals"),
                    date_only=bool(item.get("date_only", False)),
                    missing_codes=tuple(str(c) for c in item.get("missing_codes", ())),
                    date_format=item.get("date_format"),
                    unit=item.get("unit"),
                    limits=tuple(str(t) for t in item.get("limits", ())),
                    time_unit=item.get("time_unit"),
                    written_decimals=item.get("written_decimals"),
                    whole_from=item.get("whole_from"),
                    step=item.get("step"),
                )
            )
        schema = cls(columns=tuple(cols), spec_version=SCHEMA_SPEC_VERSION,
                     modality=str(raw.get("modality", "table")),
                     event_value=raw.get("event_value"))
        problems.extend(schema._structural_problems())
        if problems:
            raise SchemaError(problems)
        return schema

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(
                f"The schema is not valid JSON (line {exc.lineno}: {exc.msg})."
            ) from None
        return cls.from_dict(raw)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        if not path.is_file():
            raise SchemaError(f"Schema file {str(path)!r} does not exist.")
        return cls.from_json(path.read_text(encoding="utf-8"))


# ===================================================================== inference
def infer_schema(
    data: pd.DataFrame,
    *,
    target: str | None = None,
    sensitive: Iterable[str] = (),
    quasi_identifiers: Iterable[str] | None = None,
    survival: tuple[str, str] | None = None,
    event_value: Any = None,
) -> TableSchema:
    """Infer each column's kind and roles from a table.

    Parameters
    ----------
    data : DataFrame
        The source table. It is not modified.
    target : str, optional
        Outcome column.
    sensitive : iterable of str
        Sensitive attributes (sex, race...). They are also quasi-identifiers.
    quasi_identifiers : iterable of str, optional
        Columns an attacker is assumed to know. By default, demographic-looking columns
        (age, sex, race, postcode, birth date...) and the sensitive attributes.
    survival : (str, str), optional
        ``(time, event)`` columns of a survival outcome.
    event_value : optional
        Value of the event column meaning the event happened (default: True or largest code).

    Returns
    -------
    TableSchema

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient_id": [f"p{i:03d}" for i in range(40)],
    ...                    "bili": [round(0.3 + 0.11 * i, 1) for i in range(40)]})
    >>> s = infer_schema(df)
    >>> s.column("patient_id").kind, s.dropped_columns
    ('identifier', ['patient_id'])
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame, got {type(data).__name__}.")
    if data.columns.duplicated().any():
        dupes = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        raise DataError(f"Column names must be unique; repeated: {', '.join(dupes)}.")
    columns = []
    for name in data.columns:
        codes = _missing_codes(data[name])
        values = _read_codes(data[name], codes)
        kind = _infer_kind(str(name), values)
        if codes and kind not in NUMERIC_KINDS:
            values = data[name].mask(data[name].isin(codes))  # categories stay as written
            kind = _infer_kind(str(name), values)
        limits = _limits_of(values) if kind in ("categorical", "identifier", "text") else ()
        measured, written = values, None
        if limits:  # "<0.5" beside numbers: a lab with a detection limit
            numbers = pd.to_numeric(_read_limits(values, limits), errors="coerce")
            limit_kind = _infer_kind(str(name), numbers)
            if limit_kind in NUMERIC_KINDS:
                written = values.mask(values.isin(limits))
                measured = pd.to_numeric(written, errors="coerce")
                values, kind = numbers, limit_kind
            else:
                limits = ()
        unit = _unit_of(values) if kind in ("categorical", "identifier", "text") else None
        if unit is not None:  # "71.5 kg": a number column when its numbers make one
            written = _strip_unit(values, unit)
            numbers = pd.to_numeric(written, errors="coerce")
            unit_kind = _infer_kind(str(name), numbers)
            if unit_kind in NUMERIC_KINDS:
                values, measured, kind = numbers, numbers, unit_kind
            else:
                unit, written = None, None
        date_format, date_only, time_unit = _dates_of(values) if kind == "datetime" else (
            None, False, None)
        decimals = infer_decimals(measured) if kind in NUMERIC_KINDS or (
            kind == "categorical" and pd.api.types.is_numeric_dtype(data[name])) else None
        shown = written_decimals_of(written) if written is not None else None
        roles: set[str] = set()
        if kind == "identifier":
            roles.add("direct_identifier")
        elif quasi_identifiers is None and _QUASI_NAME.search(str(name)):
            roles.add("quasi_identifier")
        columns.append(
            ColumnSchema(
                name=str(name),
                kind=kind,  # type: ignore[arg-type]
                roles=frozenset(roles),
                dtype=str(data[name].dtype),
                decimals=decimals,
                date_only=date_only,
                missing_codes=codes,
                date_format=date_format,
                unit=unit,
                limits=limits,
                time_unit=time_unit,
                written_decimals=shown if shown and shown > (decimals or 0) else None,
                whole_from=infer_whole_from(measured) if decimals and kind in NUMERIC_KINDS
                else None,
                step=infer_step(measured, decimals) if kind in NUMERIC_KINDS else None,
            )
        )
    schema = TableSchema(columns=tuple(columns))
    return schema.set_roles(
        target=target, sensitive=sensitive, quasi_identifiers=quasi_identifiers or (),
        survival=survival, event_value=event_value,
    )


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _missing_codes(series: pd.Series) -> tuple[str, ...]:
    """The no-value tokens of a text column, most frequent first; none where the column
    holds nothing else (a column of blanks is empty, not coded)."""
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) \
            or pd.api.types.is_datetime64_any_dtype(series):
        return ()
    cells = series.dropna().value_counts().index  # each distinct cell once, commonest first
    if len(cells) == 0:
        return ()
    text = np.array([isinstance(v, str) for v in cells], dtype=bool)
    stripped = np.array([str(v).strip() for v in cells], dtype=object)
    coded = text & np.isin(stripped, list(_MISSING_TOKENS))
    if coded.all():  # a column of blanks is empty, not coded
        return ()
    number_coded = text & np.isin(stripped, list(_MISSING_NUMBER_TOKENS))
    others = pd.Series(cells[~coded & ~number_coded], dtype=object)
    if number_coded.any() and len(others) and \
            pd.to_numeric(others, errors="coerce").notna().all():
        coded |= number_coded
    if not coded.any():
        return ()
    return tuple(str(v) for v in cells[coded])


def _read_codes(series: pd.Series, codes: tuple[str, ...]) -> pd.Series:
    """``series`` with its missing codes as missing, and as numbers where every other value
    is one (a lab column exported with "." for no value is a number column)."""
    if not codes:
        return series
    values = series.mask(series.isin(codes))
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().sum() == values.notna().sum() else values


def without_codes(series: pd.Series, col: ColumnSchema) -> pd.Series:
    """``series`` with the column's missing codes read as missing, and its unit taken off."""
    if col.missing_codes:
        series = series.mask(series.isin(col.missing_codes))
    if col.limits:
        series = _read_limits(series, col.limits)
    return _strip_unit(series, col.unit) if col.unit else series


#: a value reported at a detection limit: "<0.5", "> 100", "<=5"
_LIMIT = re.compile(r"^\s*([<>])\s*=?\s*(\d+(?:\.\d+)?)\s*$")


def _limits_of(series: pd.Series) -> tuple[str, ...]:
    """The "<L" / ">U" tokens of a text column whose other values are all numbers (at most one
    token of each side, and some numbers), or ()."""
    if not pd.api.types.is_object_dtype(series):
        return ()
    values = series.dropna().drop_duplicates()  # each distinct cell once
    if len(values) == 0:
        return ()
    text = values.astype(str)
    found = text.str.extract(_LIMIT)
    censored = found[0].notna()
    if not censored.any() or censored.all():
        return ()
    if pd.to_numeric(values[~censored.to_numpy()], errors="coerce").isna().any():
        return ()
    tokens = text[censored.to_numpy()]
    sides = found[0][censored]
    if tokens.groupby(sides.to_numpy()).nunique().max() > 1:
        return ()  # several limits on one side (assays changed): left as it is
    return tuple(sorted(tokens.unique().tolist(), key=lambda t: t.strip()[0] != "<"))


def _limit(token: str) -> tuple[str, float]:
    side, value = _LIMIT.match(token).groups()  # type: ignore[union-attr]
    return side, float(value)


def _read_limits(series: pd.Series, limits: tuple[str, ...]) -> pd.Series:
    """``series`` with "<L" read as L / 2 and ">U" as 1.5 U (inside the censored range, where
    the written token, not the number, is what the release shows)."""
    out = series.astype(object).copy()
    for token in limits:
        side, value = _limit(token)
        out[series == token] = value / 2 if side == "<" else value * 1.5
    return out


def _with_limits(series: pd.Series, limits: tuple[str, ...], decimals: int | None) -> pd.Series:
    """Numbers as text at the recorded decimals, those beyond a detection limit as the
    source's token; missing stays so."""
    out = _with_unit(series, "", decimals)
    x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    for token in limits:
        side, value = _limit(token)
        out[x < value if side == "<" else x > value] = token
    return out


#: a number followed by a unit: "71.5 kg", "12%", "5 mg/dL", "37.2°C"
_UNIT_VALUE = re.compile(r"^\s*[+-]?\d+(?:\.\d+)?(\s?[A-Za-z%°µ][A-Za-z%°µ/0-9²³.]*)\s*$")


def _unit_of(series: pd.Series) -> str | None:
    """The one unit (with its separator) that every present text value of ``series`` carries
    after a number, or None."""
    if not pd.api.types.is_object_dtype(series):
        return None
    values = series.dropna().drop_duplicates()  # each distinct cell once
    if len(values) == 0:
        return None
    found = values.astype(str).str.extract(_UNIT_VALUE, expand=False)
    if found.isna().any() or found.nunique() != 1:
        return None
    return str(found.iloc[0])


def _strip_unit(series: pd.Series, unit: str) -> pd.Series:
    text = series.astype(str).str.strip().str.removesuffix(unit.strip()).str.strip()
    return text.where(series.notna())


def _with_unit(series: pd.Series, unit: str, decimals: int | None) -> pd.Series:
    """Numbers written back with their unit (at the recorded decimals); missing stays so."""
    values = series.to_numpy(dtype=float)
    text = [None if np.isnan(v) else
            (f"{v:.{decimals}f}" if decimals is not None else f"{v:g}") + unit for v in values]
    return pd.Series(text, index=series.index, dtype=object, name=series.name)


def formats_note(schema: TableSchema) -> str | None:
    """One sentence naming the written formats kept (units, detection limits, date patterns;
    formats and assay limits, never a patient's value), or None when there are none."""
    kept = []
    for what, pick in (("units", lambda c: c.unit and repr(c.unit.strip())),
                       ("detection limits", lambda c: c.limits and "/".join(c.limits)),
                       ("date patterns", lambda c: c.date_format and repr(c.date_format))):
        found = {c.name: pick(c) for c in schema.columns if c.modelled and pick(c)}
        if found:
            kept.append(f"{what} ({', '.join(f'{k}: {v}' for k, v in found.items())})")
    if not kept:
        return None
    return ("Read as numbers and dates, and written back as the source writes them: "
            + "; ".join(kept) + ".")


def read_notes(schema: TableSchema) -> list[str]:
    """What a run says about how it read the columns: missing codes kept, then formats kept
    (the pipelines say these after loading, and the data card lists them)."""
    return [n for n in (missing_codes_note(schema), formats_note(schema)) if n]


def missing_codes_note(schema: TableSchema) -> str | None:
    """One sentence naming the tokens read as missing and how many columns hold each (no
    patient value: the tokens are placeholders), or None when there are none."""
    columns: dict[str, int] = {}
    for col in schema.columns:
        if col.modelled:
            for code in col.missing_codes:
                label = repr(code) if code.strip() else "blank"
                columns[label] = columns.get(label, 0) + 1
    if not columns:
        return None
    found = "; ".join(f"{label} in {n} column{'s' if n > 1 else ''}"
                      for label, n in columns.items())
    return (f"Read as missing, and written back where a synthetic value is missing: {found} "
            "(set a column's missing_codes in the schema to change it).")


def is_identifier(name: str, series: pd.Series) -> bool:
    """Whether schema inference reads ``series`` as an identifier: a row number, a code of a
    value per row, or an id-named column of many values (never modelled)."""
    return _infer_kind(name, series) == "identifier"


def _infer_kind(name: str, series: pd.Series) -> str:
    values = series.dropna()
    n = len(values)
    if n == 0:
        return "numeric" if pd.api.types.is_numeric_dtype(series) else "categorical"
    n_unique = values.nunique()
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "categorical"
    unique_ratio = n_unique / n
    if pd.api.types.is_numeric_dtype(series):
        finite = values.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]  # an infinity is refused by validate()
        integral = bool(np.all(np.mod(finite, 1) == 0))
        if integral and n_unique > 20 and (
            (_ID_NAME.search(name) and unique_ratio > 0.05)
            or (n_unique == n and _is_row_number(values))
        ):
            return "identifier"
        if n_unique <= 2 and set(values.unique().tolist()) <= {0, 1}:
            return "boolean"
        if n_unique <= MAX_CODES_FOR_CATEGORICAL:
            return "categorical"
        return "integer" if integral else "numeric"
    # strings / objects
    as_str = values.astype(str)
    sample = as_str.sample(min(n, 500), random_state=0) if n > 500 else as_str
    if _looks_like_datetime(sample) and _looks_like_datetime(as_str, every=True):
        return "datetime"
    if sample.str.contains(r"\d").mean() > 0.9 and date_format_of(as_str) is not None:
        return "datetime"  # a pattern with month names ("04-Feb-2021")
    if sample.str.match(_EMAIL).mean() > 0.8 or (
        sample.str.match(_PHONE).mean() > 0.8 and sample.str.contains(r"\d{3}").mean() > 0.8
        and unique_ratio > 0.5
    ):
        return "identifier"
    high_cardinality = unique_ratio > 0.2 and n_unique > 20
    if n_unique > 20 and (
        _PERSON_NAME.search(name) or (_ID_NAME.search(name) and unique_ratio > 0.05)
    ):
        return "identifier"
    if high_cardinality and sample.str.len().mean() > 30 and sample.str.contains(" ").mean() > 0.5:
        return "text"
    if high_cardinality and unique_ratio > 0.95 and n > 20:
        return "identifier"  # every value distinct: a code that identifies its row
    lowered = set(values.drop_duplicates().astype(str).str.lower().unique().tolist())
    if n_unique == 2 and lowered in ({"true", "false"}, {"yes", "no"}, {"y", "n"}):
        return "boolean"
    return "categorical"


def _is_row_number(values: pd.Series) -> bool:
    arr = np.sort(values.to_numpy(dtype=float))
    return bool(arr[-1] - arr[0] == len(arr) - 1)


def _looks_like_datetime(values: pd.Series, *, every: bool = False) -> bool:
    """Most values of a sample look like dates; with ``every``, all values parse as dates."""
    if not every and not values.str.contains(r"\d{1,4}[-/.:]\d{1,2}").mean() > 0.9:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().all() if every else parsed.notna().mean() > 0.95)


def infer_decimals(series: pd.Series) -> int | None:
    """The fewest decimal places (at most ``MAX_DECIMALS``) that write all but a few values
    of a number column exactly (:data:`DECIMALS_SHARE` of them); None beyond that or for a
    column that is not numbers. The few others are rounded to them: flchain's lambda is
    written to three decimals on 7,869 of 7,874 rows, aids' cd4 in halves on all but two (a
    mean of three counts, 23.3333): read off every value, a synthetic lambda had eight
    decimals or none and a cd4 fell in sixths."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    values = series.dropna().to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return 0
    places = _value_decimals(values, _decimals_tolerance(series))
    need = int(np.quantile(places, DECIMALS_SHARE, method="higher"))
    return need if need <= MAX_DECIMALS else None


def _decimals_tolerance(series: pd.Series) -> float:
    """How far a value's float may sit from its decimals: a double's own rounding, or a
    single's (a float32 column keeps about seven digits). Read from text, a Stata export's
    float (a tax of 1.102294921875) is a double: at the single's tolerance it read as six
    decimals, and every synthetic 1.102295 fell on the other side of a classifier's split
    from the real rows (causaldata's NHEFS, AUC 0.98)."""
    return 1e-6 if series.dtype in ("float32", "Float32") else 1e-9


def _value_decimals(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Each value's fewest decimals (``MAX_DECIMALS + 1`` where it needs more)."""
    places = np.full(len(values), MAX_DECIMALS + 1)
    for d in range(MAX_DECIMALS, -1, -1):
        scaled = values * 10.0**d
        places[np.abs(scaled - np.round(scaled)) < tolerance * np.maximum(1.0, np.abs(scaled))] = d
    return places


def infer_whole_from(series: pd.Series) -> float | None:
    """The smallest whole value above every value with decimals, where at least
    :data:`MIN_WHOLE_ABOVE` values lie at or above it and all are whole (ages: 0.1-0.9 for
    infants, 1, 2, 3... years after); None where no such run exists. Twenty whole values in a
    row would turn up by chance once in 10^20 draws of a one-decimal column."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    values = np.abs(values[np.isfinite(values)])
    fractional = np.abs(values - np.round(values)) > 1e-9 * np.maximum(1.0, values)
    if not fractional.any() or fractional.all():
        return None
    above = values[~fractional & (values > values[fractional].max())]
    return float(above.min()) if len(above) >= MIN_WHOLE_ABOVE else None


def infer_step(series: pd.Series, decimals: int | None) -> float | None:
    """The grid every value lies on (multiples of the smallest gap between two values),
    where it is coarser than ``decimals`` say and at least :data:`MIN_STEP_VALUES` distinct
    values over :data:`MIN_WHOLE_ABOVE` rows show it; None elsewhere. A continuous column's
    smallest gap is far finer than its values' spacing, so its values miss the grid."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if decimals is not None:  # the grid of the values written at the column's decimals
        values = values[_value_decimals(values, _decimals_tolerance(series)) <= decimals]
    distinct = np.unique(np.abs(values))
    distinct = distinct[distinct > 0]
    if len(values) < MIN_WHOLE_ABOVE or len(distinct) < MIN_STEP_VALUES:
        return None
    gaps = np.diff(distinct)
    step = float(gaps.min())
    finest = 10.0 ** -decimals if decimals is not None else 0.0
    if min(step, distinct[0]) < 1.5 * finest or distinct.max() > 1e6 * step:
        return None
    # a grid written at the column's decimals (whole pounds in kg to two decimals: 58.97,
    # 59.42; whole inches in m: gaps of 0.02 and 0.03) is off by up to half a last digit:
    # one step is the span over the number of steps the gaps hold
    single = gaps[gaps <= min(step + 2 * finest, 1.75 * step) + 1e-9 * step]
    step = float((distinct[-1] - distinct[0]) / np.round(gaps / single.mean()).sum())
    for _ in range(3):  # the gap, fitted over every value
        k = np.round(distinct / step)
        step = float(np.sum(distinct * k) / np.sum(k * k))
    error = np.abs(distinct - k * step)
    off = error.max()
    if off > 1e-3 * step:  # on the grid only to the written digits
        # a value off any grid lies that close to the fitted one by chance with about this
        # probability; all values (less the two that fix the grid) together, below CHANCE;
        # zero not far beyond the values' range, where a fitted step would absorb an offset
        # (a Fahrenheit temperature, 1.8 x a Celsius one + 32); and several values rounded
        # off the grid, not one odd value beside halves (aids' months of prior ZDV: 6.2 read
        # a grid of quarters)
        chance = min(1.0, 2 * (off + 1e-3 * step) / step)
        if (not finest or off > 0.5 * finest * (1 + 1e-6)
                or (len(distinct) - 2) * np.log(chance) > np.log(GRID_CHANCE)
                or k.min() > MAX_GRID_OFFSET * (k.max() - k.min())
                or (error > 0.25 * finest).sum() < MIN_STEP_VALUES):
            return None
    return _simplest_step(step, k, distinct, decimals)


def _simplest_step(step: float, k: np.ndarray, distinct: np.ndarray,
                   decimals: int | None) -> float:
    """The fitted ``step`` with the fewest significant digits that writes every value as the
    source did (0.45359237, not 0.4535925: one kg per 200 pounds off moves some values' last
    digit); the fit itself where none does."""
    for digits in range(1, 11):
        simple = float(f"{step:.{digits}g}")
        written = k * simple if decimals is None else np.round(k * simple, decimals)
        if np.abs(written - distinct).max() <= 1e-9 * max(1.0, float(distinct.max())):
            return simple
    return float(f"{step:.10g}")


def written_decimals_of(text: pd.Series) -> int | None:
    """The decimals every present number of ``text`` is written with ("143.0" and "139.5":
    1), or None when they differ or the column is not all numbers."""
    present = text.dropna().astype(str).str.strip()
    if not len(present) or not present.str.fullmatch(r"[+-]?\d+(?:\.\d+)?").all():
        return None
    places = present.str.partition(".")[2].str.len()
    return int(places.iloc[0]) if places.nunique() == 1 else None


def _dates_of(series: pd.Series) -> tuple[str | None, bool, str | None]:
    """A datetime column's written pattern (:func:`date_format_of`), whether every value is a
    date only, and else the coarsest of hour, minute and second every time is whole in (None:
    finer than a second). One reading of the values serves all three."""
    pattern = date_format_of(series)
    parsed = read_dates(series, pattern).dropna()
    if not len(parsed):
        return pattern, False, None
    if (parsed == parsed.dt.normalize()).all():
        return pattern, True, None
    unit = next((u for u in ("h", "min", "s") if (parsed == parsed.dt.floor(u)).all()), None)
    return pattern, False, unit


def read_dates(series: pd.Series, date_format: str | None = None) -> pd.Series:
    """``series`` as datetimes: with ``date_format``, read by that pattern, and a value that
    does not follow it (another tool's ISO date, judged against this source) by itself;
    without, each value by itself."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not date_format:  # as UTC wall times: one dtype, whatever offsets values carry
            return pd.to_datetime(series, errors="coerce", format="mixed",
                                  utc=True).dt.tz_convert(None)
        text = series.where(series.isna(), series.astype(str).str.strip())
        parsed = pd.to_datetime(text, errors="coerce", format=date_format)
        other = parsed.isna() & text.notna()
        if other.any():  # as UTC wall times: one dtype, whatever offsets the values carry
            parsed[other] = pd.to_datetime(text[other], errors="coerce", format="mixed",
                                           utc=True).dt.tz_convert(None)
        return parsed


def utc_wall_times(stamps: pd.Series) -> pd.Series:
    """Datetimes as naive ``datetime64[ns]``: zoned ones (a Parquet source's) as UTC wall
    times, the form every model and metric reads (:func:`restore_table` puts the zone back)."""
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    return stamps.astype("datetime64[ns]")


#: nanoseconds in an hour: datetimes are modelled as hours
HOUR_NS = 3_600e9


def hours_of(stamps: pd.Series) -> np.ndarray:
    """Datetimes as hours since 1970 (NaN where missing)."""
    stamps = pd.to_datetime(stamps, errors="coerce").astype("datetime64[ns]")
    hours = stamps.to_numpy().astype("int64").astype(float) / HOUR_NS
    return np.where(stamps.isna().to_numpy(), np.nan, hours)


#: patterns tried for dates written as text, in order; the first every value follows is the
#: column's ``date_format``. Day-first before month-first only where the separator says so
#: (dots are day-first everywhere); "01/02/2020" with no day above 12 reads month-first.
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S",
    "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%y",
    "%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%y",
    "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y",
    "%d-%m-%Y", "%m-%d-%Y", "%d-%b-%Y", "%d %b %Y", "%d-%b-%y", "%b %d, %Y", "%d %B %Y",
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%H:%M", "%H:%M:%S",
)


#: distinct values a date pattern is first tried on
DATE_SAMPLE = 200


def date_format_of(series: pd.Series) -> str | None:
    """The first of :data:`DATE_FORMATS` that reads every present value of a text column, or
    None (not text, or no one pattern fits: such dates are read one by one, written ISO)."""
    values = series.dropna().drop_duplicates()
    if len(values) == 0 or pd.api.types.is_datetime64_any_dtype(series) or not (
            pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return None
    distinct = values.astype(str).str.strip().drop_duplicates()
    # one UTC offset on every value ("2021-03-01T08:00:00+01:00"): part of the pattern, so
    # times are read and written as the source's wall-clock times with that offset
    offset = distinct.str.extract(_UTC_OFFSET, expand=False)
    suffix = str(offset.iloc[0]) if offset.notna().all() and offset.nunique() == 1 else ""
    if suffix:
        distinct = distinct.str.slice(stop=-len(suffix))
    sample = distinct.iloc[:DATE_SAMPLE]  # a pattern is tried on a few, checked on all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in DATE_FORMATS:
            if fmt.endswith("Z") and suffix:
                continue
            if (pd.to_datetime(sample, errors="coerce", format=fmt).notna().all()
                    and pd.to_datetime(distinct, errors="coerce", format=fmt).notna().all()):
                return fmt + suffix
    return None


#: a UTC offset ending a timestamp written with a time of day
_UTC_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?([+-]\d{2}:?\d{2})$")


def incompatible_values(series: pd.Series, kind: str, date_format: str | None = None) -> int:
    """How many present values of ``series`` a column of ``kind`` cannot read (text in a
    number column, a token that is not a date...); 0 for categories and yes/no columns."""
    values = series.dropna()
    if kind in NUMERIC_KINDS:
        return int(pd.to_numeric(values, errors="coerce").isna().sum())
    if kind == "datetime":
        return int(read_dates(values, date_format).isna().sum())
    return 0


def coerce_table(data: pd.DataFrame, schema: TableSchema, *, validate: bool = True,
                 allow_empty: bool = False) -> pd.DataFrame:
    """Return a copy of ``data`` with the schema's modelled columns in canonical dtypes.

    Numbers become float64, datetimes ``datetime64[ns]``, categories and booleans stay as their
    source values. Unmodelled columns are dropped. The input is not modified. ``validate=False``
    skips :meth:`TableSchema.validate` (for a few condition rows, all-missing is legitimate);
    ``allow_empty`` validates but accepts columns with no value (tables being judged).
    """
    if validate:
        schema.validate(data, allow_empty=allow_empty)
    out = {}
    for col in schema.columns:
        if not col.modelled:
            continue
        series = without_codes(data[col.name], col)
        if col.kind in NUMERIC_KINDS:
            series = pd.to_numeric(series, errors="coerce").astype(float)
        elif col.kind == "datetime":
            series = utc_wall_times(read_dates(series, col.date_format))
        elif isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        out[col.name] = series.reset_index(drop=True)
    return pd.DataFrame(out)


def _time_zone(dtype: str) -> Any:
    """The time zone of a zoned datetime dtype ("datetime64[ns, UTC]"), else None."""
    if not dtype.startswith("datetime64[") or "," not in dtype:
        return None
    try:  # a hand-edited schema may name no zone pandas knows: written without one then
        zoned = pd.api.types.pandas_dtype(dtype)
    except (TypeError, ValueError, KeyError):
        return None
    return zoned.tz if isinstance(zoned, pd.DatetimeTZDtype) else None


def holds_labels(series: pd.Series, kind: str) -> bool:
    """True when a categorical or yes/no column holds text labels ("y"/"n", "stage II"), not
    numbers or booleans: its values are coded by label, never converted as numbers."""
    if kind not in ("categorical", "boolean") or pd.api.types.is_numeric_dtype(series) \
            or pd.api.types.is_bool_dtype(series):
        return False
    return not series.dropna().map(lambda v: isinstance(v, bool | np.bool_)).all()


def recorded_numbers(values: np.ndarray, col: ColumnSchema) -> np.ndarray:
    """Numbers as the source records them: at its decimals, on its grid (``step``), whole
    from ``whole_from`` on."""
    decimals = 0 if col.kind == "integer" else col.decimals
    if decimals is not None:
        values = np.round(values, decimals)
    if col.step is not None:
        values = np.round(values / col.step) * col.step
        # a grid's multiples written as the source writes them (0.45359237 x 152 is
        # 68.94604024 to the exporter's eight decimals, not 68.946040240000006)
        values = np.round(values, decimals if decimals is not None else 10)
    if col.whole_from is not None and decimals:
        values = np.where(np.abs(values) >= col.whole_from, np.round(values), values)
    return values


def recorded_times(series: pd.Series, col: ColumnSchema) -> pd.Series:
    """Times as the source records them: dates only, or whole in its clock unit."""
    series = read_dates(series, col.date_format)
    if col.date_only:
        return series.dt.normalize()
    if col.time_unit:
        return series.dt.round(col.time_unit)
    return series


def restore_table(data: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Give generated columns the source's dtypes, precision and date format."""
    out = {}
    for name in data.columns:
        col = schema.column(name)
        series = data[name]
        decimals = None
        if col.kind in NUMERIC_KINDS:
            if series.dtype == object:  # written already (a wrapper restoring its inner draw)
                series = pd.to_numeric(without_codes(series, col), errors="coerce")
            values = recorded_numbers(series.to_numpy(dtype=float), col)
            decimals = 0 if col.kind == "integer" else col.decimals
            series = pd.Series(values, name=name)
            nullable_int = col.dtype in ("Int64", "Int32", "Int16", "Int8")
            if nullable_int or (col.dtype.startswith(("int", "uint")) and not series.isna().any()):
                series = series.astype(col.dtype)
            elif col.kind == "integer" and series.isna().any():
                # a whole-number column with gaps is read as floats: written back, "13" must
                # not become "13.0"
                series = series.astype("Int64")
        elif col.kind == "datetime":
            series = recorded_times(series, col)
            if col.date_format and not col.dtype.startswith("datetime64"):
                # dates read from text go back as text in the source's own pattern
                series = series.dt.strftime(col.date_format).astype(object)
            elif (zone := _time_zone(col.dtype)) is not None:
                # a zoned source (Parquet's UTC times) is modelled in UTC wall times (a table
                # restored already, or a release joining such a draw, may be zoned again)
                series = utc_wall_times(series).dt.tz_localize("UTC").dt.tz_convert(zone)
        elif col.dtype == "category":
            series = series.astype("category")
        elif col.dtype == "bool" and not series.isna().any():
            series = series.astype(bool)
        elif col.dtype.startswith(("int", "uint", "float")):
            # numeric codes of a categorical column (stage 1-4): back to the source dtype;
            # whole codes with gaps (read as floats) print "2", not "2.0"
            series = pd.to_numeric(series, errors="coerce")
            if not series.isna().any():
                series = series.astype(col.dtype)
            else:
                whole = bool((series.dropna() % 1 == 0).all())
                series = series.astype("Int64" if whole else float)
        shown = decimals if col.written_decimals is None else max(decimals or 0,
                                                                  col.written_decimals)
        if col.unit and col.kind in NUMERIC_KINDS:
            series = _with_unit(series, col.unit, shown)
        if col.limits and col.kind in NUMERIC_KINDS:
            series = _with_limits(series, col.limits, shown)
        if col.missing_codes and series.isna().any():
            if col.kind in NUMERIC_KINDS and decimals == 0 and not (col.unit or col.limits):
                series = series.astype("Int64")  # whole numbers print as "3", not "3.0"
            series = series.astype(object).where(series.notna(), col.missing_codes[0])
        out[name] = series.reset_index(drop=True)
    return pd.DataFrame(out)
