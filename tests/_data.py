"""Tiny tables built in code for tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def make_mixed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small clinical-looking table with every column kind and missing values."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 12, n).round(1)
    sex = rng.choice(["f", "m"], n)
    bili = np.exp(rng.normal(0.3 + 0.01 * (age - 60), 0.8, n)).round(2)
    bili[rng.random(n) < 0.1] = np.nan
    stage = rng.choice([1, 2, 3, 4], n, p=[0.1, 0.3, 0.4, 0.2])
    died = (rng.random(n) < 0.2 + 0.1 * (stage >= 3)).astype(bool)
    visits = rng.poisson(4, n)
    admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    admitted = pd.Series(admitted).where(rng.random(n) > 0.05)
    ward = rng.choice([f"w{i:03d}" for i in range(40)], n)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:05d}" for i in range(n)],
            "age": age,
            "sex": sex,
            "bili": bili,
            "stage": stage,
            "died": died,
            "visits": visits,
            "admitted": admitted,
            "ward": ward,
            "site": "north",  # constant
        }
    )


def make_long_frame(n_entities: int = 80, seed: int = 0) -> pd.DataFrame:
    """A small longitudinal table: stays with irregular times, two measures, static columns.

    Same static column names as :func:`make_mixed_frame` (``patient_id`` is a direct
    identifier, constant per stay); ``stay_id`` is the entity, ``t`` the time in days. Patients
    who die have a rising ``bili`` and faster heart rate late in their stay.
    """
    rng = np.random.default_rng(seed)
    static = make_mixed_frame(n_entities, seed).drop(columns=["bili"])
    rows = []
    for i, row in static.iterrows():
        n_steps = int(rng.integers(1, 12))
        times = np.cumsum(np.r_[0.0, rng.exponential(3.0, n_steps - 1)]).round(1)
        times = np.unique(times)
        frac = times / max(times[-1], 1.0)
        slope = 1.5 if row["died"] else -0.2
        bili = np.exp(0.3 + slope * frac + rng.normal(0, 0.3, len(times))).round(2)
        bili[rng.random(len(times)) < 0.1] = np.nan
        hr = (80 + 15 * frac * row["died"] + rng.normal(0, 6, len(times))).round(0)
        for t, b, h in zip(times, bili, hr, strict=True):
            rows.append({"stay_id": f"S{i:04d}", "t": t, **row.to_dict(), "bili": b, "hr": h})
    return pd.DataFrame(rows)


def long_schema(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    """The schema of :func:`make_long_frame` (static columns listed, target ``died``)."""
    from synthmed.datasets.longitudinal import longitudinal_schema

    static = ["patient_id", "age", "sex", "stage", "died", "visits", "admitted", "ward", "site"]
    return longitudinal_schema(frame, entity="stay_id", time="t", static=static,
                               target="died", sensitive=["sex"])


def detection_auc(real: pd.DataFrame, synth: pd.DataFrame, schema: Any, seed: int = 0) -> float:
    """Out-of-fold (5-fold) AUROC of gradient boosting telling synthetic rows from real ones."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    both = pd.concat([real[synth.columns], synth], ignore_index=True)
    for col in both.columns:
        if schema.column(col).kind not in ("numeric", "integer"):
            both[col] = both[col].astype(str).where(both[col].notna()).astype("category")
    y = np.r_[np.zeros(len(real)), np.ones(len(synth))]
    proba = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(both, y):
        model = HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.15, max_leaf_nodes=15, early_stopping=False,
            categorical_features="from_dtype", random_state=seed)
        model.fit(both.iloc[train], y[train])
        proba[test] = model.predict_proba(both.iloc[test])[:, 1]
    return float(roc_auc_score(y, proba))


#: sampling rate of the ECG built by :func:`ecg_with_wide_beats`
ECG_FS = 360.0


def _wave(t: np.ndarray, at: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-0.5 * ((t - at) / width) ** 2)


def ecg_with_wide_beats(seconds: float = 60.0, every: int = 4, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Narrow QRS complexes with T waves at 0.6 s, every ``every``-th beat a wide ectopic one
    (a slow biphasic complex as tall as a QRS, early, then a pause). Returns the signal, the
    beat times (s) and which beats are ectopic."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * ECG_FS)) / ECG_FS
    x = 0.02 * rng.standard_normal(len(t))
    times, odd, now, i = [], [], 0.5, 0
    while now < seconds - 1.0:
        wide = i % every == every - 1
        if wide:
            x += _wave(t, now, 0.035, 1.4) - _wave(t, now + 0.09, 0.045, 0.9)
        else:
            x += _wave(t, now, 0.008, 1.5) - _wave(t, now + 0.02, 0.006, 0.3)
            x += _wave(t, now + 0.27, 0.045, 0.35)  # the T wave
        times.append(now)
        odd.append(wide)
        now += 0.5 if (i + 1) % every == every - 1 else (0.75 if wide else 0.6)
        i += 1
    return x, np.array(times), np.array(odd)
