"""Formatting helpers of the report: numbers in words people read, JSON-able data as tables.

Everything here turns values into strings; nothing is computed. Tables are plain
:class:`Table` objects that the Jinja template escapes when it prints them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import json
import math
from typing import Any

__all__ = ["Table", "fmt", "fmt_interval", "humanise", "records_table", "tables_from"]

#: rows shown per table before "... and N more"
MAX_ROWS = 200
#: list items shown in one cell
MAX_ITEMS = 20
#: nesting followed before a value is shown as compact JSON
MAX_DEPTH = 3


@dataclass(frozen=True)
class Table:
    """A small table of strings: a caption, a header and rows (the first cell names the row)."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    hidden_rows: int = 0


def fmt(value: Any) -> str:
    """A value as a short, readable string (3 significant digits; ``—`` for missing)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float) or _is_number(value):
        x = float(value)
        if not math.isfinite(x):
            return "—"
        if x == 0:
            return "0"
        if x.is_integer() and abs(x) < 1e15:
            return f"{int(x):,}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        if abs(x) < 0.001:
            return f"{x:.2e}"
        return f"{x:.3g}"
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        if not value:
            return "none"
        items = [fmt(v) if _is_scalar(v) else _json(v) for v in list(value)[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return ", ".join(items) + (f", … ({more} more)" if more > 0 else "")
    return _json(value)


def fmt_interval(interval: Any) -> str:
    """``(lo, hi)`` as ``lo – hi``; ``—`` when absent or malformed."""
    if not isinstance(interval, Sequence) or isinstance(interval, str) or len(interval) != 2:
        return "—"
    lo, hi = interval
    if not (_is_number(lo) and _is_number(hi)):
        return "—"
    return f"{fmt(lo)} – {fmt(hi)}"


#: abbreviations written in capitals wherever a key holds them ("ar_order" -> "AR order")
_ACRONYMS = frozenset(("ar", "auc", "dcr", "hr", "rr", "nn", "qi", "id", "psd", "ecg", "ppg",
                       "hrv", "sdnn", "rmssd", "nndr", "tpr", "fpr", "mae", "nmae", "sha"))


def humanise(key: Any) -> str:
    """``"evaluation_seed"`` -> ``"Evaluation seed"``; ``"ar_order"`` -> ``"AR order"``."""
    words = [w.upper() if w.lower() in _ACRONYMS else w
             for w in str(key).replace("_", " ").strip().split(" ")]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else str(key)


def records_table(title: str, records: Sequence[Any]) -> Table | None:
    """A list of flat dicts as a table with the union of their keys as header (first-seen order)."""
    rows = [r for r in records if isinstance(r, Mapping)]
    if not rows:
        return None
    keys: list[str] = []
    for r in rows:
        for k in r:
            if str(k) not in keys:
                keys.append(str(k))
    body = tuple(tuple(_cell(_get(r, k)) for k in keys) for r in rows[:MAX_ROWS])
    return Table(title, tuple(humanise(k) for k in keys), body, max(0, len(rows) - MAX_ROWS))


def tables_from(details: Any, title: str = "", depth: int = 0) -> list[Table]:
    """Compact tables for a metric's JSON-able ``details``.

    * ``{key: scalar}`` → a two-column table;
    * ``{row: {col: scalar}}`` (per column, per group) → one row per key;
    * a list of flat dicts → one row per dict;
    * mixed mappings → a table of the scalars, then one table per nested entry;
    * anything deeper than ``MAX_DEPTH`` levels → compact JSON in a cell.
    """
    if isinstance(details, Mapping):
        if not details:
            return []
        items = [(str(k), v) for k, v in details.items()]
        if all(_is_leaf(v) for _, v in items):
            return [_kv_table(title, items)]
        if all(_is_flat_mapping(v) for _, v in items):
            return [_row_table(title, items)]
        leaves = [(k, v) for k, v in items if _is_leaf(v) or depth >= MAX_DEPTH]
        out = [_kv_table(title, leaves)] if leaves else []
        for k, v in items:
            if not (_is_leaf(v) or depth >= MAX_DEPTH):
                sub = f"{title} — {k}" if title else k
                out.extend(tables_from(v, sub, depth + 1))
        return out
    if isinstance(details, Sequence) and not isinstance(details, str):
        if details and all(_is_flat_mapping(v) for v in details):
            table = records_table(title, details)
            return [table] if table is not None else []
        return [_kv_table(title, [(title or "value", details)])]
    return [_kv_table(title, [(title or "value", details)])]


def _kv_table(title: str, items: list[tuple[str, Any]]) -> Table:
    rows = tuple((k, _cell(v)) for k, v in items[:MAX_ROWS])
    return Table(title, ("", "value"), rows, max(0, len(items) - MAX_ROWS))


def _row_table(title: str, items: list[tuple[str, Any]]) -> Table:
    cols: list[str] = []
    for _, v in items:
        for c in v:
            if str(c) not in cols:
                cols.append(str(c))
    if len(cols) > 8 and len(items) < len(cols):  # wide and short: transpose
        transposed = [(c, {k: _get(v, c) for k, v in items}) for c in cols]
        return _row_table(title, transposed)
    rows = tuple((k, *(_cell(_get(v, c)) for c in cols)) for k, v in items[:MAX_ROWS])
    return Table(title, ("", *cols), rows, max(0, len(items) - MAX_ROWS))


def _get(mapping: Mapping[Any, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    for k, v in mapping.items():
        if str(k) == key:
            return v
    return None


def _cell(value: Any) -> str:
    return fmt(value) if _is_leaf(value) else _json(value)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str | bytes)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float) or _is_number(value)


def _is_leaf(value: Any) -> bool:
    """A scalar, or a list of scalars (shown in one cell)."""
    if _is_scalar(value):
        return True
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(_is_scalar(v) for v in value)
    )


def _is_flat_mapping(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(_is_leaf(v) for v in value.values())


def _json(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, default=str, allow_nan=True)
    except (TypeError, ValueError):
        text = str(type(value).__name__)
    return text if len(text) <= limit else text[: limit - 1] + "…"
