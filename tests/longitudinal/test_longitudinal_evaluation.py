"""Longitudinal evaluation: the leak canary, fidelity figures, and the whole run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _data import long_schema, make_long_frame
from synthmed import DataError
from synthmed.datasets.longitudinal import longitudinal_schema
from synthmed.evaluation.longitudinal import entity_strata, evaluate_longitudinal, split_entities


@pytest.fixture(scope="module")
def split():
    frame = make_long_frame(240, seed=2)
    schema = long_schema(frame)
    train, holdout = split_entities(frame, schema, random_state=0)
    return train, holdout, schema


@pytest.mark.slow
def test_canary_train_copy_fails_fresh_patients_pass(split):
    train, holdout, schema = split
    leak = evaluate_longitudinal(train, holdout, train, schema, sections=["privacy"])
    assert leak["privacy"].verdict == "fail"
    assert leak.metric("privacy", "trajectory_copies").value == train["stay_id"].nunique()
    fresh = make_long_frame(240, seed=99).assign(stay_id=lambda f: "F" + f["stay_id"])
    ok = evaluate_longitudinal(train, holdout, fresh, schema, sections=["privacy", "fidelity"])
    for name in ("trajectory_copies", "exact_copy_rate", "membership_tpr_at_1fpr"):
        assert ok.metric("privacy", name).passed, name
    dcr = ok.metric("privacy", "dcr_share")  # fresh patients sit where the holdout does:
    n = train["stay_id"].nunique()  # within two standard errors of a difference of shares
    assert dcr.value < 0.6 and abs(dcr.value - dcr.holdout_value) < 2 * 0.5 * np.sqrt(2 / n)
    assert ok.metric("fidelity", "sequence_length_distance").passed
    assert ok.metric("fidelity", "trajectory_shape_diff").passed
    traj = ok.plots["fidelity"]["trajectories"]["measures"]
    assert set(traj) == {"bili", "hr"} and len(traj["hr"]["train"]["mean"]) > 3
    json.dumps(ok.to_dict(include_plots=True), allow_nan=False)


def test_train_and_holdout_must_be_split_by_entity(split):
    train, holdout, schema = split
    with pytest.raises(DataError, match="both train and holdout"):
        evaluate_longitudinal(train, train, holdout, schema, sections=["fidelity"])


@pytest.mark.slow
def test_generate_longitudinal_writes_every_file(tmp_path):
    from synthmed.longitudinal_pipeline import generate_longitudinal

    frame = make_long_frame(120, seed=3)
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    run = generate_longitudinal(path, tmp_path / "out", entity="stay_id", time="t",
                                static=["patient_id", "age", "sex", "stage", "died", "visits",
                                        "admitted", "ward", "site"], target="died", n=40)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["metrics.json", "model", "report.html", "schema.json", "synthetic.csv"]
    assert run.synthetic["stay_id"].nunique() == 40
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Trajectories" in html
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["provenance"]["modality"] == "longitudinal"
    assert doc["provenance"]["split_strata"][0] == "died"  # the target first
    forecast = [m for m in doc["utility"]["metrics"] if m["name"] == "forecast_nmae"]
    assert forecast and forecast[0]["holdout_value"] > 0 and "forecast_nmae" in html


def _diets(n_groups: tuple[int, ...] = (8, 4, 4)) -> pd.DataFrame:
    """Animals on diets (8 / 4 / 4 of them, like nlme::BodyWeight), a rare marker (one
    animal) and three weekly weights each; no target."""
    rows, i = [], 0
    for diet, count in enumerate(n_groups):
        for _ in range(count):
            rows += [{"id": f"R{i:02d}", "week": w, "diet": f"d{diet}",
                      "marker": "x" if i == 0 else "y", "weight": 250.0 + 100 * diet + w}
                     for w in range(3)]
            i += 1
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(5))
def test_split_keeps_static_groups_even_without_a_target(seed):
    frame = _diets()
    schema = longitudinal_schema(frame, entity="id", time="week", static=["diet", "marker"])
    # a random split of 16 animals put 6 of the 8 on diet d0 in the holdout (BodyWeight)
    assert entity_strata(frame, schema) == ["diet"]  # marker: a stratum of one animal
    train, holdout = split_entities(frame, schema, random_state=seed)
    for part in (train, holdout):
        assert part.drop_duplicates("id")["diet"].value_counts().to_dict() == {
            "d0": 4, "d1": 2, "d2": 2}


def test_a_numeric_target_splits_by_its_deciles():
    frame = make_long_frame(120, seed=3)
    schema = longitudinal_schema(frame, entity="stay_id", time="t", static=[
        "patient_id", "age", "sex", "stage", "died", "visits", "admitted", "ward", "site"],
        target="age")
    train, holdout = split_entities(frame, schema, random_state=0)
    sizes = [part["stay_id"].nunique() for part in (train, holdout)]
    # on the ages themselves every stay was a stratum of one and the holdout nearly empty
    assert abs(sizes[0] - sizes[1]) <= 10, sizes
    ages = [part.drop_duplicates("stay_id")["age"].median() for part in (train, holdout)]
    assert abs(ages[0] - ages[1]) < 0.25 * frame["age"].std()  # 1.6 against 12.5


def test_a_measure_no_training_patient_has_is_left_out_not_an_error(split):
    """A rare lab only holdout patients had (or only late in a stay) gives summaries with no
    training value: the patient-level and early-warning tables leave them out, and the
    realism classifier skips a column that is empty in its training folds."""
    train, holdout, schema = split
    from dataclasses import replace

    from synthmed.schema import ColumnSchema

    rng = np.random.default_rng(0)
    train = train.assign(esr=np.nan)
    holdout = holdout.assign(esr=np.where(rng.random(len(holdout)) < 0.05, 30.0, np.nan))
    synthetic = holdout.assign(stay_id="F" + holdout["stay_id"])
    schema = replace(schema, columns=(*schema.columns, ColumnSchema("esr", "numeric")))
    result = evaluate_longitudinal(train, holdout, synthetic, schema, random_state=0)
    assert result.verdict in {"pass", "warn", "fail"}
    assert result.metric("fidelity", "patient_detection_auc").value is not None


def test_detection_skips_a_column_empty_in_its_training_folds():
    from synthmed.evaluation._models import detection_auc

    rng = np.random.default_rng(0)
    real, other = rng.normal(size=(60, 3)), rng.normal(size=(60, 3))
    real[:, 1] = np.nan
    other[:, 1] = np.nan
    other[0, 1] = 1.0  # one value: in most folds' training rows, none
    auc = detection_auc(real, other, np.random.default_rng(1), n_splits=5)
    assert 0.0 <= auc <= 1.0
