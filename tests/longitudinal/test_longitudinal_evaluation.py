"""Longitudinal evaluation: the leak canary, fidelity figures, and the whole run."""

from __future__ import annotations

import json

import pytest

from _data import long_schema, make_long_frame
from synthmed import DataError
from synthmed.evaluation.longitudinal import evaluate_longitudinal, split_entities


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
    dcr = ok.metric("privacy", "dcr_share")  # fresh patients sit where the holdout does
    assert dcr.value < 0.6 and abs(dcr.value - dcr.holdout_value) < 0.08
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
    forecast = [m for m in doc["utility"]["metrics"] if m["name"] == "forecast_nmae"]
    assert forecast and forecast[0]["holdout_value"] > 0 and "forecast_nmae" in html
