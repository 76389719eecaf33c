"""Format benchmark: real tables written as a hospital's spreadsheet export writes them.

Issue 6 asks that synthetic values keep the source's units and formats. This script takes
bundled real tables and writes each as a European spreadsheet export would: ";"-separated,
"," as the decimal mark, cp1252 text, labs with a unit ("1,4 mg/dL"), one lab reported
"<L" below its 10th percentile (a detection limit) and the follow-up time as a day-first date
("31.08.2019" = 1 January 2000 + time). It then runs `synthmed generate` (default `auto`, the
CLI's split and evaluation) on each file, once per source tree given (`--trees`, e.g. an older
checkout next to this one), and records, per run:

* whether each rewritten column was modelled as a number or a date (``kinds``);
* the share of synthetic values written in the source's own pattern (``format_share``: the
  unit, the "<L" token or a number at or above L, the date pattern) and in the source's
  dialect (header split by ";");
* the evaluation's detection AUC and fidelity beside the holdout's.

One long record is written the same way with its blood pressure as a flowsheet exports it:
clif_vitals' hourly systolic and diastolic pressures as one "118/72" column (``LONG_TABLES``).
Beside the pattern's share it records how often the synthetic systolic part exceeds the
diastolic one and the systolic part's lag-1 correlation within stays, against the source.
And one table is written as merged from two sites (``TWO_SITES``): pbc's cholesterol in
mg/dL on half the rows and in mmol/L on the other half; recorded: the share of synthetic
values of each unit inside that unit's source range (a mg/dL number labelled mmol/L is not).

    .venv/bin/python benchmarks/bench_formats.py --out benchmarks/results/formats.json
    .venv/bin/python benchmarks/bench_formats.py --trees /tmp/old/src src --out F
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

#: (dataset, columns written with a unit: unit, the column censored at its 10th percentile,
#: the follow-up column written as a date)
TABLES = [
    ("pbc", {"bili": "mg/dL", "albumin": "g/dL", "protime": "s"}, "copper", "time"),
    ("gbsg2", {"tsize": "mm"}, "progrec", "time"),
    ("whas500", {"bmi": "kg/m2", "hr": "bpm"}, "los", "lenfol"),
]
#: (dataset, a lab reported in two units by two sites: column, unit of the half of the rows
#: left as they are, the other site's unit, its factor and decimals)
TWO_SITES = [("pbc", "chol", "mg/dL", "mmol/L", 1 / 38.67, 2)]
#: (long dataset, the two measures written as one "A/B" column, its name)
LONG_TABLES = [("clif_vitals", ("sbp", "dbp"), "bp")]
PAIR_PATTERN = r"\d+/\d+"
DATE_PATTERN = "%d.%m.%Y"
ORIGIN = pd.Timestamp("2000-01-01")


def messy_export(name: str, units: dict[str, str], censored: str,
                 dated: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The bundled table as text cells a spreadsheet would write, and how to check them."""
    from synthmed import load_dataset

    data = load_dataset(name)
    frame = data.frame[data.schema.modelled_columns].copy()
    checks: dict[str, Any] = {}
    for col, unit in units.items():
        decimals = data.schema.column(col).decimals or 0
        frame[col] = [None if pd.isna(v) else f"{v:.{decimals}f}".replace(".", ",") + f" {unit}"
                      for v in frame[col]]
        checks[col] = ("unit", unit)
    limit = float(np.nanpercentile(frame[censored].astype(float), 10))
    token = f"<{limit:g}".replace(".", ",")
    frame[censored] = [None if pd.isna(v) else (token if v < limit else f"{v:g}".replace(".", ","))
                       for v in frame[censored].astype(float)]
    checks[censored] = ("limit", token, limit)
    days = pd.to_timedelta(frame[dated].astype(float), unit="D")
    frame[dated] = (ORIGIN + days).dt.strftime(DATE_PATTERN)
    checks[dated] = ("date", DATE_PATTERN)
    return frame, checks


def messy_long_export(name: str, parts: tuple[str, str], joined: str,
                      ) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The bundled long table with two measures as one "A/B" column of whole numbers (where
    both are recorded), its checks and the CLI arguments that name its entity and time."""
    from synthmed import load_dataset

    data = load_dataset(name)
    frame = data.frame.copy()
    first, second = (frame[p].round() for p in parts)
    both = first.notna() & second.notna()
    text = first.astype("Int64").astype(str) + "/" + second.astype("Int64").astype(str)
    frame.insert(frame.columns.get_loc(parts[0]), joined, text.where(both).astype(object))
    frame = frame.drop(columns=list(parts))
    args = ["--entity", data.info.entity, "--time", data.schema.with_role("time_index")[0]]
    return frame, {joined: ("pair", data.info.entity)}, args


def two_site_export(name: str, column: str, unit: str, other: str, factor: float,
                    decimals: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The bundled table with ``column`` written with its unit, in ``other`` (times
    ``factor``) on a random half of the rows, as a table merged from two sites."""
    from synthmed import load_dataset

    data = load_dataset(name)
    frame = data.frame[data.schema.modelled_columns].copy()
    second = np.random.default_rng(0).random(len(frame)) < 0.5
    values = frame[column].astype(float)
    frame[column] = [None if pd.isna(v) else (
        f"{v * factor:.{decimals}f}".replace(".", ",") + f" {other}" if s else f"{v:.0f} {unit}")
                     for v, s in zip(values, second, strict=True)]
    ranges = {u: (round(float(values[m].min() * f), d), round(float(values[m].max() * f), d))
              for u, m, f, d in ((unit, ~second, 1.0, 0), (other, second, factor, decimals))}
    return frame, {column: ("units", ranges)}


def unit_figures(series: pd.Series, ranges: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Per unit: share of the synthetic values written "<number> <unit>" with that unit that
    lie inside the source's range for it."""
    parts = series.dropna().astype(str).str.extract(r"^([\d.,]+) (\S+)$")
    numbers = pd.to_numeric(parts[0].str.replace(",", "."), errors="coerce")
    return {u: round(float(numbers[parts[1] == u].between(lo, hi).mean()), 4)
            for u, (lo, hi) in ranges.items()}


def pair_figures(frame: pd.DataFrame, column: str, entity: str) -> dict[str, float]:
    """Share of "A/B" values with A above B, and A's lag-1 correlation within entities."""
    parts = frame[column].str.extract(r"^(\d+)/(\d+)$").astype(float)
    ok = parts.notna().all(axis=1)
    first = parts[0].where(ok)
    previous = first.groupby(frame[entity]).shift()
    both = first.notna() & previous.notna()
    return {"first_above_second": round(float((parts[0] > parts[1])[ok].mean()), 4),
            "lag1_correlation": round(float(np.corrcoef(first[both], previous[both])[0, 1]), 4)}


def format_share(series: pd.Series, check: tuple[Any, ...]) -> float | None:
    """Share of the present synthetic values written in the source's pattern."""
    values = series.dropna().astype(str)
    if values.empty:
        return None
    if check[0] == "pair":
        ok = values.str.fullmatch(PAIR_PATTERN)
    elif check[0] == "units":
        ok = values.str.fullmatch(r"\d+(,\d+)? (" + "|".join(map(re.escape, check[1])) + ")")
    elif check[0] == "unit":
        ok = values.str.fullmatch(r"-?\d+(,\d+)? " + re.escape(check[1]))
    elif check[0] == "limit":
        numbers = pd.to_numeric(values.str.replace(",", "."), errors="coerce")
        ok = (values == check[1]) | (numbers >= check[2])
    else:
        ok = pd.to_datetime(values, format=check[1], errors="coerce").notna()
    return round(float(ok.mean()), 4)


def run(tree: str, name: str, path: Path, checks: dict[str, Any], work: Path,
        extra: list[str] | None = None) -> dict[str, Any]:
    out = work / f"out-{abs(hash(tree))}-{name}"
    env_path = str(Path(tree).resolve())
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from synthmed.cli import main; sys.exit(main(sys.argv[2:]))", env_path,
         "generate", str(path), "-o", str(out), "-q", *(extra or [])],
        capture_output=True, text=True, check=False)
    row: dict[str, Any] = {"tree": tree, "table": name, "exit_code": proc.returncode,
                           "wall_s": round(time.perf_counter() - start, 1)}
    if proc.returncode != 0:
        row["error"] = proc.stderr.strip().splitlines()[-1:] or ""
        return row
    schema = json.loads((out / "schema.json").read_text())
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    # a pair read as two number columns is modelled as NAME_1 and NAME_2
    row["kinds"] = {c: kinds.get(c) or "/".join(str(kinds.get(f"{c}_{i}")) for i in (1, 2))
                    for c in checks}
    raw = (out / "synthetic.csv").read_bytes()
    row["dialect_kept"] = b";" in raw.splitlines()[0]
    try:
        synth = pd.read_csv(out / "synthetic.csv", sep=";", dtype=str, encoding="cp1252")
    except (UnicodeDecodeError, pd.errors.ParserError):
        synth = pd.read_csv(out / "synthetic.csv", dtype=str)
    row["format_share"] = {c: format_share(synth[c], ch) if c in synth else None
                           for c, ch in checks.items()}
    for c, ch in checks.items():
        if ch[0] == "pair" and row["format_share"][c]:
            row["pairs"] = pair_figures(synth, c, ch[1])
        if ch[0] == "units":
            row["in_unit_range"] = unit_figures(synth[c], ch[1])
    metrics = json.loads((out / "metrics.json").read_text())
    for section, metric in (("fidelity", "detection_auc"), ("fidelity", "column_similarity"),
                            ("fidelity", "patient_detection_auc"),
                            ("utility", "forecast_nmae")):
        found = [m for m in metrics[section]["metrics"] if m["name"] == metric]
        if found:
            row[metric] = found[0]["value"]
            row[f"holdout_{metric}"] = found[0]["holdout_value"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", nargs="+", default=["src"],
                        help="source folders holding the synthmed package to run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/formats.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="formats-") as tmp:
        work = Path(tmp)
        for name, units, censored, dated in TABLES:
            frame, checks = messy_export(name, units, censored, dated)
            path = work / f"{name}.csv"
            frame.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
            for tree in args.trees:
                row = run(tree, name, path, checks, work)
                rows.append(row)
                print(json.dumps(row), flush=True)
        for name, column, unit, other, factor, decimals in TWO_SITES:
            frame, checks = two_site_export(name, column, unit, other, factor, decimals)
            path = work / f"{name}-two-sites.csv"
            frame.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
            for tree in args.trees:
                row = run(tree, f"{name} (two sites)", path, checks, work)
                rows.append(row)
                print(json.dumps(row), flush=True)
        for name, parts, joined in LONG_TABLES:
            frame, checks, extra = messy_long_export(name, parts, joined)
            path = work / f"{name}.csv"
            frame.to_csv(path, sep=";", decimal=",", index=False, encoding="cp1252")
            source = pd.read_csv(path, sep=";", dtype=str, encoding="cp1252")
            rows.append({"tree": "source", "table": name, "pairs": pair_figures(
                source, joined, checks[joined][1])})
            for tree in args.trees:
                row = run(tree, name, path, checks, work, extra)
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1)
                        + "\n")


if __name__ == "__main__":
    main()
