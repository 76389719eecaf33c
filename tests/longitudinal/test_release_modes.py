"""Hybrid (mix) and augment releases of longitudinal data: provenance per patient."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _data import long_schema, make_long_frame
from synthmed.datasets.longitudinal import LongitudinalData
from synthmed.exceptions import ParameterError
from synthmed.generators import get_generator
from synthmed.modes import release_longitudinal_augment, release_longitudinal_mix

ENT = "stay_id"


@pytest.fixture(scope="module")
def fitted():
    frame = make_long_frame(60, seed=3)
    data = LongitudinalData.from_frame(frame, schema=long_schema(frame))
    gen = get_generator("longitudinal").fit(data.frame, schema=data.schema, random_state=0)
    return gen, data.frame, data.schema


def _check_provenance(release, real: pd.DataFrame) -> None:
    data, prov, src = release.data, release.provenance.astype(str), release.source_index
    # one label per patient
    assert prov.groupby(data[ENT].to_numpy()).nunique().max() == 1
    is_real = (prov == "real").to_numpy()
    assert ((src >= 0) == is_real).all()
    # real rows are their source rows, column for column, except the patient id
    cols = [c for c in data.columns if c != ENT]
    pd.testing.assert_frame_equal(data[is_real][cols].reset_index(drop=True),
                                  real.iloc[src[is_real]][cols].reset_index(drop=True),
                                  check_dtype=False)
    # every released id is new, so neither a real id nor provenance shows in the ids
    assert not set(data[ENT]) & set(real[ENT])
    assert data[ENT].str.match(r"patient-\d+$").all()
    # each real patient keeps one new id
    new_by_source = data[is_real].groupby(real[ENT].to_numpy()[src[is_real]])[ENT].nunique()
    assert (new_by_source == 1).all()
    # a patient's rows stay together
    runs = (data[ENT] != data[ENT].shift()).sum()
    assert runs == data[ENT].nunique()


def test_mix_provenance_exact(fitted):
    gen, real, schema = fitted
    release = release_longitudinal_mix(gen, real, schema, real_fraction=0.4, n_entities=50,
                                       random_state=1)
    _check_provenance(release, real)
    st = release.stats
    assert (st["patients"], st["real_patients"], st["synthetic_patients"]) == (50, 20, 30)
    prov = release.provenance.astype(str)
    per_patient = prov.groupby(release.data[ENT].to_numpy()).first().value_counts()
    assert per_patient.to_dict() == {"synthetic": 30, "real": 20}
    assert st["real_rows"] == int((prov == "real").sum())
    again = release_longitudinal_mix(gen, real, schema, real_fraction=0.4, n_entities=50,
                                     random_state=1)
    pd.testing.assert_frame_equal(release.data, again.data)


def test_mix_integer_ids_do_not_collide(fitted):
    gen, real, schema = fitted
    codes = real[ENT].str[1:].astype(int)  # S0007 -> 7: the ids the generator will also use
    real_int = real.assign(**{ENT: codes})
    release = release_longitudinal_mix(gen, real_int, schema, real_fraction=0.5,
                                       random_state=0)
    _check_provenance(release, real_int)


def test_mix_extremes(fitted):
    gen, real, schema = fitted
    only_real = release_longitudinal_mix(gen, real, schema, real_fraction=1.0, random_state=0)
    assert only_real.counts()["synthetic"] == 0 and len(only_real) == len(real)
    only_syn = release_longitudinal_mix(gen, real, schema, real_fraction=0.0, n_entities=10,
                                        random_state=0)
    assert only_syn.counts()["real"] == 0 and only_syn.data[ENT].nunique() == 10


def test_augment_reaches_planned_counts(fitted):
    gen, real, schema = fitted
    release = release_longitudinal_augment(gen, real, schema, balance=["sex", "target"],
                                           random_state=0)
    _check_provenance(release, real)
    cells = release.stats["cells"]
    top = max(c["real"] for c in cells)
    assert all(c["target"] == top for c in cells)
    assert release.stats["synthetic_patients"] == sum(c["added"] for c in cells) > 0
    patients = release.data.drop_duplicates(ENT)
    reached = patients.groupby(["sex", "died"]).size()
    for cell in cells:
        assert reached[(cell["group"]["sex"], cell["group"]["died"])] == top
    # real rows first, unchanged and complete
    n_real = len(real)
    assert (release.provenance.astype(str)[:n_real] == "real").all()
    assert release.stats["real_patients"] == real[ENT].nunique()


def test_augment_one_column(fitted):
    gen, real, schema = fitted
    release = release_longitudinal_augment(gen, real, schema, balance="died", random_state=2)
    counts = release.data.drop_duplicates(ENT)["died"].value_counts()
    assert counts.nunique() == 1


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True, "half"])
def test_mix_bad_fraction(fitted, fraction):
    gen, real, schema = fitted
    with pytest.raises(ParameterError, match="real_fraction"):
        release_longitudinal_mix(gen, real, schema, real_fraction=fraction, random_state=0)


def test_mix_too_many_real(fitted):
    gen, real, schema = fitted
    with pytest.raises(ParameterError, match="real patients"):
        release_longitudinal_mix(gen, real, schema, real_fraction=1.0, n_entities=500,
                                 random_state=0)


@pytest.mark.parametrize("balance, words", [
    (["hr"], "not static"),
    (["age"], "kind"),
    (["nope"], "not a modelled column"),
    ([], "at least one"),
])
def test_augment_bad_balance(fitted, balance, words):
    gen, real, schema = fitted
    with pytest.raises(ParameterError, match=words):
        release_longitudinal_augment(gen, real, schema, balance=balance, random_state=0)


def test_augment_empty_cell_names_no_value(fitted):
    gen, real, schema = fitted
    rare = real[ENT].isin(real.loc[real["sex"] == "m", ENT].unique()) & real["died"]
    thin = real[~rare]  # no man who died: an empty cell
    with pytest.raises(ParameterError, match="no records") as info:
        release_longitudinal_augment(gen, thin, schema, balance=["sex", "target"],
                                     random_state=0)
    message = str(info.value)
    assert "'m'" not in message and "True" not in message


@pytest.mark.parametrize("balance, words", [(("age",), "kind 'numeric'"),
                                             (("sex", "target"), "no records")])
def test_pipeline_refuses_an_augment_it_cannot_do_before_fitting(tmp_path, balance, words):
    from synthmed.longitudinal_pipeline import generate_longitudinal
    from synthmed.pipeline import ReleaseOptions

    frame = make_long_frame(60, seed=4)
    dead_men = frame["sex"].eq("m") & frame["died"]
    said: list[str] = []
    with pytest.raises(ParameterError, match=words):
        generate_longitudinal(frame[~dead_men], tmp_path / "out", entity=ENT, time="t",
                              static=["age", "sex", "died"], target="died", seed=0,
                              release=ReleaseOptions(mode="augment", balance=balance),
                              progress=said.append)
    assert not any("fitting" in line for line in said) and not (tmp_path / "out").exists()


def test_pipeline_modes(tmp_path):
    from synthmed.longitudinal_pipeline import generate_longitudinal
    from synthmed.pipeline import ReleaseOptions

    frame = make_long_frame(36, seed=4)
    kw = dict(entity=ENT, time="t", static=["patient_id", "age", "sex", "stage", "died",
                                               "visits", "admitted", "ward", "site"],
              target="died", sensitive=["sex"], seed=0)
    mix = generate_longitudinal(frame, tmp_path / "mix", **kw, release=ReleaseOptions(
        mode="hybrid", hybrid="mix", real_fraction=0.5, provenance_column="origin"))
    released = pd.read_csv(tmp_path / "mix" / "release.csv")
    assert set(released["origin"]) == {"real", "synthetic"}
    assert released.groupby(ENT)["origin"].nunique().max() == 1
    assert not (tmp_path / "mix" / "synthetic.csv").exists()
    metrics = json.loads((tmp_path / "mix" / "metrics.json").read_text())
    assert metrics["provenance"]["release_mode"] == "hybrid-mix"
    assert mix.release is not None and mix.release.mode == "mix"

    aug = generate_longitudinal(frame, tmp_path / "aug", **kw, release=ReleaseOptions(
        mode="augment", balance=("target",), provenance_sidecar=True))
    side = pd.read_csv(tmp_path / "aug" / "release_provenance.csv")
    released = pd.read_csv(tmp_path / "aug" / "release.csv")
    assert len(side) == len(released) and "provenance" not in released.columns
    assert aug.release is not None
    assert released.drop_duplicates(ENT)["died"].value_counts().nunique() == 1

    for bad in (ReleaseOptions(mode="hybrid", hybrid="partial", synthesize=("hr",)),
                ReleaseOptions(mode="augment", balance=("sex",), fair=True),
                ReleaseOptions(mode="augment", factor=2.0)):
        with pytest.raises(ParameterError, match="longitudinal"):
            generate_longitudinal(frame, tmp_path / "bad", **kw, release=bad)
    assert not (tmp_path / "bad").exists()
    np.testing.assert_array_equal(sorted(mix.release.provenance.astype(str).unique()),
                                  ["real", "synthetic"])
