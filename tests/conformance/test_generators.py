"""The one conformance suite: every registered generator, with each of its test parameters.

A new generator is covered by registering it; no test file is copied. A generator that cannot
meet a check declares it in ``EXPECTED_FAILURES`` with the reason.

The data comes from the generator's ``tags.modality``: a table (``make_mixed_frame``) or a long
frame of stays over time (``make_long_frame``, same static column names) where a *record* is an
entity's whole trajectory: ``n`` counts entities, conditions apply per entity, copies are
whole trajectories.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _data import long_schema, make_long_frame, make_mixed_frame
from synthmed import (
    DataError,
    NotFittedError,
    ParameterError,
    SchemaError,
    infer_schema,
)
from synthmed.exceptions import ModelFileError
from synthmed.generators import generator_class, list_generators, load_generator

#: (generator, check) -> reason it is expected to fail
EXPECTED_FAILURES: dict[tuple[str, str], str] = {}

CASES = [
    pytest.param(name, params, id=f"{name}-{i}")
    for name in list_generators()
    for i, params in enumerate(generator_class(name).get_test_params())
]


def _check(name: str, check: str) -> None:
    reason = EXPECTED_FAILURES.get((name, check))
    if reason:
        pytest.xfail(reason)


def _modality(name: str) -> str:
    return generator_class(name)._tags.modality


@pytest.fixture(scope="module")
def datasets():
    """Test data per modality: (frame, schema)."""
    table = make_mixed_frame(300)
    long = make_long_frame(80)
    return {"table": (table, infer_schema(table, target="died", sensitive=["sex"])),
            "longitudinal": (long, long_schema(long))}


def _data(datasets, name):
    modality = _modality(name)
    if modality not in datasets:
        pytest.skip(f"no conformance data for modality {modality!r}")
    return datasets[modality]


@pytest.fixture
def frame(name, datasets) -> pd.DataFrame:
    return _data(datasets, name)[0]


@pytest.fixture
def schema(name, datasets):
    return _data(datasets, name)[1]


@pytest.fixture(scope="module")
def fitted(datasets):
    """One fitted instance per case, shared by the read-only checks."""
    cache = {}

    def get(name, params):
        key = (name, json.dumps(params, sort_keys=True))
        if key not in cache:
            frame, schema = _data(datasets, name)
            cache[key] = generator_class(name)(**params).fit(frame, schema=schema)
        return cache[key]

    return get


@pytest.fixture
def real(name, pbc):
    """Bundled real data of the generator's modality."""
    from synthmed import load_dataset

    if _modality(name) not in ("table", "longitudinal"):
        pytest.skip(f"no tabular real data for modality {_modality(name)!r}")
    return pbc if _modality(name) == "table" else load_dataset("pbcseq")


def _entity(schema) -> str | None:
    found = schema.with_role("entity_id")
    return found[0] if found else None


def _output_columns(schema) -> list[str]:
    """What a generator returns: the modelled columns, and the (fresh) entity id if any."""
    return [c.name for c in schema.columns if c.modelled or "entity_id" in c.roles]


def _records(frame: pd.DataFrame, schema) -> pd.DataFrame:
    """One row per record: the rows of a table, each entity's first row of a long frame."""
    entity = _entity(schema)
    return frame if entity is None else frame.drop_duplicates(entity).reset_index(drop=True)


def _record_strings(frame: pd.DataFrame, schema, columns) -> pd.Series:
    """Each record as one string (a trajectory's rows joined; the entity id left out)."""
    entity = _entity(schema)
    columns = [c for c in columns if c != entity]
    rows = frame[columns].astype(str).agg("|".join, axis=1)
    if entity is None:
        return rows
    return rows.groupby(frame[entity].astype(str).to_numpy(), sort=False).agg("#".join)


@pytest.mark.parametrize(("name", "params"), CASES)
class TestConformance:
    def test_constructor_only_stores_params(self, name, params):
        gen = generator_class(name)(**params)
        assert gen.get_params() == {**gen.get_params(), **params}
        assert not gen.is_fitted
        assert not [k for k in vars(gen) if k.endswith("_") and not k.startswith("__")]

    def test_fit_returns_self(self, name, params, frame, schema):
        gen = generator_class(name)(**params)
        assert gen.fit(frame, schema=schema) is gen
        assert gen.is_fitted and gen.schema_.names == _output_columns(schema)

    def test_sample_before_fit_fails_clearly(self, name, params, tmp_path):
        gen = generator_class(name)(**params)
        with pytest.raises(NotFittedError, match=r"not fitted yet\. Call 'fit' before 'sample'"):
            gen.sample(5)
        with pytest.raises(NotFittedError):
            gen.save(tmp_path / "m")

    def test_schema_respected(self, name, params, fitted, frame, schema):
        _check(name, "schema")
        synth = fitted(name, params).sample(400, random_state=1)
        assert list(synth.columns) == _output_columns(schema)
        assert "patient_id" not in synth.columns  # direct identifier never modelled
        assert len(_records(synth, schema)) == 400
        for col in synth.columns:
            if col == _entity(schema):
                assert not set(synth[col]) & set(frame[col])  # fresh entity ids
                continue
            kind = schema.column(col).kind
            real = frame[col]
            if kind in ("numeric", "integer"):
                values = synth[col].dropna()
                assert values.between(real.min(), real.max()).all(), col
                decimals = schema.column(col).decimals
                assert np.allclose(values, values.round(decimals)), col
            elif kind == "datetime":
                assert pd.api.types.is_datetime64_any_dtype(synth[col])
                values = synth[col].dropna()
                assert values.between(real.min(), real.max()).all()
                assert (values == values.dt.normalize()).all()  # dates stay dates
            else:
                assert set(synth[col].dropna().unique()) <= set(real.dropna().unique()), col
        assert synth["visits"].dtype == frame["visits"].dtype  # int stays int
        assert synth["died"].dtype == bool
        assert (synth["site"] == "north").all()  # constant column

    def test_missingness_is_modelled(self, name, params, fitted, frame):
        _check(name, "missingness")
        synth = fitted(name, params).sample(2000, random_state=2)
        for col in ("bili", "admitted"):
            assert abs(synth[col].isna().mean() - frame[col].isna().mean()) < 0.05, col

    def test_same_seed_same_output(self, name, params, fitted):
        gen = fitted(name, params)
        a = gen.sample(200, random_state=7)
        pd.testing.assert_frame_equal(a, gen.sample(200, random_state=7))
        assert not a.equals(gen.sample(200, random_state=8))

    def test_samples_in_chunks_like_a_table(self, name, params, fitted, tmp_path):
        from synthmed.generators.streaming import sample_to_parquet

        if _modality(name) != "table":
            pytest.skip("chunked sampling is for tables (a row per record)")
        gen = fitted(name, params)
        (one,) = gen.sample_chunks(120, chunk_rows=500, random_state=5)
        pd.testing.assert_frame_equal(one, gen.sample(120, random_state=5))
        chunks = list(gen.sample_chunks(120, chunk_rows=50, random_state=5))
        assert [len(c) for c in chunks] == [50, 50, 20]
        back = pd.read_parquet(sample_to_parquet(gen, tmp_path / "s.parquet", 120,
                                                 chunk_rows=50, random_state=5))
        joined = pd.concat(chunks, ignore_index=True)
        assert list(back.columns) == list(joined.columns) and len(back) == 120
        for col in joined.columns:  # same cells (a category's order may differ)
            missing = joined[col].isna().to_numpy()
            assert (back[col].isna().to_numpy() == missing).all(), col
            assert (back[col].astype(object)[~missing] == joined[col].astype(object)[~missing]
                    ).all(), col

    def test_chunks_drawn_on_threads_equal_chunks_drawn_in_turn(self, name, params, fitted,
                                                                 monkeypatch):
        """Two chunks drawn at once share nothing but the fitted model: no draw moves
        another's random stream or the model's state."""
        if _modality(name) != "table":
            pytest.skip("chunked sampling is for tables (a row per record)")
        gen = fitted(name, params)
        threaded = list(gen.sample_chunks(300, chunk_rows=60, random_state=3))
        monkeypatch.setattr(type(gen), "draws_in_threads", property(lambda self: False))
        in_turn = list(gen.sample_chunks(300, chunk_rows=60, random_state=3))
        for a, b in zip(threaded, in_turn, strict=True):
            pd.testing.assert_frame_equal(a, b)
        assert not threaded[0].equals(threaded[1].reset_index(drop=True))

    def test_fit_is_deterministic(self, name, params, frame, schema):
        a = generator_class(name)(**params).fit(frame, schema=schema, random_state=3)
        b = generator_class(name)(**params).fit(frame, schema=schema, random_state=3)
        pd.testing.assert_frame_equal(a.sample(100, random_state=0), b.sample(100, random_state=0))

    def test_save_load_reproduces_samples(self, name, params, fitted, tmp_path):
        gen = fitted(name, params)
        gen.save(tmp_path / "model")
        files = sorted(p.name for p in (tmp_path / "model").iterdir())
        assert files == ["arrays.npz", "model.json"]
        with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as npz:
            assert all(npz[k].dtype != object for k in npz.files)
        loaded = load_generator(tmp_path / "model")
        assert type(loaded) is type(gen) and loaded.get_params() == gen.get_params()
        pd.testing.assert_frame_equal(loaded.sample(150, random_state=4),
                                      gen.sample(150, random_state=4))

    def test_no_training_record_is_copied(self, name, params, real):
        gen = generator_class(name)(**params).fit(real.frame, schema=real.schema)
        synth = gen.sample(2000, random_state=0)
        assert not gen.copies_of_training(synth).any()
        known = set(_record_strings(real.frame, real.schema, synth.columns))
        assert not _record_strings(synth, real.schema, synth.columns).isin(known).any()

    def test_records_many_patients_share_are_not_copies(self, name, params):
        """A record shared by >= 10 training rows identifies nobody: it is not a copy, while
        rarer records still are. On a table of few categorical columns, where fresh patients
        equal training records all the time, nothing is redrawn, so the commonest
        combinations keep their share (redrawing emptied them)."""
        if _modality(name) != "table":
            pytest.skip("whole trajectories are the records of this modality")
        rng = np.random.default_rng(0)
        n = 600
        grade = rng.choice(["low", "high"], n, p=[0.7, 0.3])
        stage = rng.choice(["T1", "T2", "T3", "T4"], n, p=[0.5, 0.3, 0.15, 0.05])
        coarse = pd.DataFrame({"grade": grade, "stage": stage,
                               "died": rng.random(n) < np.where(grade == "high", 0.6, 0.2)})
        gen = generator_class(name)(**params).fit(
            coarse, schema=infer_schema(coarse, target="died"), random_state=0)
        assert gen.copy_rule_["redrawn"] == "none"
        synth = gen.sample(1000, random_state=0)
        keys = lambda f: f.astype(str).agg("|".join, axis=1)  # noqa: E731
        counts = keys(coarse).value_counts()
        assert (keys(synth[coarse.columns]) == counts.index[0]).mean() > 0.5 * counts.iloc[0] / n

        fine = coarse.assign(weight=rng.normal(75, 12, n).round(2))
        fine.iloc[:60] = ["low", "T1", False, 75.0]  # one record 60 patients share
        fine["died"] = fine["died"].astype(bool)
        gen = generator_class(name)(**params).fit(
            fine, schema=infer_schema(fine, target="died"), random_state=0)
        counts = keys(fine).value_counts()
        assert counts.iloc[0] >= 60 and gen.copy_rule_["redrawn"] != "none"
        assert not gen.copies_of_training(fine.iloc[:1]).any()
        rare = keys(fine).map(counts) < 10
        assert gen.copies_of_training(fine[rare.to_numpy()]).all()
        synth = gen.sample(1000, random_state=0)
        assert not keys(synth[fine.columns]).isin(counts.index[counts < 10]).any()

    def test_missing_codes_kept_and_missing_together(self, name, params):
        """A SAS-style export writes "." where no blood sample was taken, so both of its labs
        are "." on the same rows: the synthetic table writes "." too, on the same rows (opt's
        31 biomarkers, coded so, drove its detection AUC to 0.81 while read as categories)."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(0)
        n = 300
        drawn = rng.random(n) < 0.6
        crp = rng.lognormal(1.0, 0.6, n)
        frame = pd.DataFrame({
            "age": rng.integers(20, 90, n),
            "crp": np.where(drawn, np.char.mod("%.2f", crp), "."),
            "il6": np.where(drawn, np.char.mod("%.1f", crp * 3 + rng.normal(0, 1, n) + 10), "."),
            "ok": rng.random(n) < 0.7,
        })
        schema = infer_schema(frame, target="ok")
        assert schema.column("crp").missing_codes == (".",)
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        synth = gen.sample(1000, random_state=0)
        coded = synth[["crp", "il6"]].astype(str) == "."
        assert coded.any().all()
        assert pd.to_numeric(synth["crp"][~coded["crp"]]).notna().all()
        _check(name, "missing_together")
        assert (abs(coded.mean() - (~drawn).mean()) < 0.08).all()
        together = (synth["crp"].astype(str) == ".") == (synth["il6"].astype(str) == ".")
        assert together.mean() > 0.9

    def test_numbers_with_units_and_dates_keep_their_format(self, name, params):
        """A spreadsheet writes "71.5 kg", "12%", "31.08.2019" and a lab's "<0.5": each
        generator's rows are numbers and dates again, in those formats, within the source's
        range."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(0)
        n = 300
        weight = rng.normal(75, 12, n)
        admitted = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
        frame = pd.DataFrame({
            "weight": [f"{w:.1f} kg" for w in weight],
            "spo2": [f"{v:.0f}%" for v in rng.uniform(85, 100, n) + (weight - 75) / 10],
            "admitted": admitted.strftime("%d.%m.%Y"),
            "crp": [f"{v:.1f}" if v >= 0.5 else "<0.5" for v in rng.lognormal(1, 1.2, n)],
            "died": rng.random(n) < 0.3})
        schema = infer_schema(frame, target="died")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        synth = gen.sample(400, random_state=0)
        kg = synth["weight"].str.fullmatch(r"\d+\.\d kg")
        assert kg.all(), synth["weight"][~kg].head().tolist()
        assert synth["spo2"].str.fullmatch(r"\d+%").all()
        values = pd.to_numeric(synth["weight"].str.removesuffix(" kg"))
        assert values.between(weight.min(), weight.max()).mean() > 0.98
        dates = pd.to_datetime(synth["admitted"], format="%d.%m.%Y")
        assert dates.between(admitted.min(), admitted.max()).all()
        below = synth["crp"] == "<0.5"  # the token, or a number at or above the limit
        assert synth["crp"][~below].str.fullmatch(r"\d+\.\d").all()
        assert pd.to_numeric(synth["crp"][~below]).ge(0.5).all()

    def test_a_code_beside_its_label_stays_consistent(self, name, params, tmp_path):
        """Exports carry one fact twice (a sex and its code, a stage and its number or group,
        an age group, a copied lab): modelled apart, the forest contradicted the code on 19%
        of rows, the copula on 4%. The base class models one and writes the other from it."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(0)
        n = 300
        sex = rng.choice(["F", "M"], n)
        stage = rng.choice(["I", "II", "III", "IV"], n, p=[0.4, 0.3, 0.2, 0.1])
        crp = np.where(rng.random(n) < 0.7, rng.lognormal(1.0, 0.6, n).round(2), np.nan)
        age = rng.integers(20, 90, n)
        # a state of birth coded as a number, with the state's tax and region (NHEFS)
        states = np.sort(rng.choice(np.arange(1, 57), 15, replace=False))
        state_tax = dict(zip(states, rng.uniform(0.5, 1.5, 15).round(4), strict=True))
        state_south = dict(zip(states, rng.random(15) < 0.4, strict=True))
        state = rng.choice(states, n)
        frame = pd.DataFrame({
            "sex": sex, "sex_code": np.where(sex == "F", 2, 1), "stage": stage,
            "stage_num": pd.Series(stage).map({"I": 1, "II": 2, "III": 3, "IV": 4}),
            "early": np.isin(stage, ["I", "II"]), "age": age,
            "age_group": np.where(age < 50, "<50", np.where(age < 70, "50-69", "70+")),
            "crp": crp, "crp_copy": crp, "state": state,
            "tax": [state_tax[s] for s in state], "south": [state_south[s] for s in state],
            "died": rng.random(n) < 0.3})
        schema = infer_schema(frame, target="died")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        assert {t.column: t.kind for t in gen.twins_} == {
            "sex_code": "map", "stage_num": "map", "early": "function",
            "age_group": "bands", "crp_copy": "copy", "tax": "lookup", "south": "lookup"}
        synth = gen.sample(500, random_state=0)
        assert list(synth.columns) == list(frame.columns)
        assert ((synth["sex"] == "F") == (synth["sex_code"] == 2)).all()
        numbers = synth["stage"].map({"I": 1, "II": 2, "III": 3, "IV": 4})
        assert (numbers == synth["stage_num"]).all()
        assert (synth["early"] == synth["stage"].isin(["I", "II"])).all()
        group = np.where(synth["age"] < 50, "<50", np.where(synth["age"] < 70, "50-69", "70+"))
        assert (synth["age_group"] == group).all()
        assert synth["crp"].equals(synth["crp_copy"]) and synth["crp"].isna().any()
        # every row's tax and region are its state's (a code between two seen ones: the
        # nearest's)
        nearest = states[np.abs(synth["state"].to_numpy(float)[:, None] - states).argmin(axis=1)]
        assert (synth["tax"].to_numpy(float) == [state_tax[s] for s in nearest]).all()
        assert (synth["south"].astype(bool).to_numpy() == [state_south[s] for s in nearest]).all()
        if gen.tags.supports_conditioning:
            women = gen.sample(50, conditions={"sex_code": 2}, random_state=1)
            assert (women["sex"] == "F").all() and (women["sex_code"] == 2).all()
            with pytest.raises(ParameterError, match="contradict"):
                gen.sample(5, conditions={"sex": "M", "sex_code": 2})
            # a band names several ages: the rows drawn keep an age inside it
            old = gen.sample(40, conditions={"age_group": "70+"}, random_state=2)
            assert (old["age_group"] == "70+").all() and (old["age"] >= 70).all()
            with pytest.raises(ParameterError, match="contradict"):
                gen.sample(5, conditions={"age": 30, "age_group": "70+"})
        again = load_generator(gen.save(tmp_path / "m")).sample(500, random_state=0)
        pd.testing.assert_frame_equal(again, synth)

    def test_a_target_another_column_determines_stays_determined(self, name, params):
        """An outcome recorded beside its cause (survival::mgus1: status 0 exactly where the
        event is "censor"): drawn apart, a model trained on synthetic rows scored AUROC 0.64
        on real ones, 1.0 trained on real ones. A condition on the target still holds."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(2)
        n = 300
        age = rng.integers(40, 90, n)
        event = np.where(rng.random(n) < 0.3, "censor",
                         np.where(rng.random(n) < 0.7 + (age - 65) / 200, "death", "relapse"))
        frame = pd.DataFrame({"age": age, "event": event,
                              "days": rng.exponential(900, n).round(),
                              "status": (event != "censor").astype(int)})
        schema = infer_schema(frame, target="status")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        synth = gen.sample(400, random_state=0)
        assert ((synth["status"] == 1) == (synth["event"] != "censor")).all()
        if gen.tags.supports_conditioning:
            alive = gen.sample(60, conditions={"status": 0}, random_state=1)
            assert (alive["status"] == 0).all() and (alive["event"] == "censor").all()

    def test_a_column_never_above_another_stays_so(self, name, params, tmp_path):
        """Clinical tables hold orders: a start before its stop, solid food no later than
        weaning (KMsurv's pneumon: every generator broke that on about 10 % of its rows). A
        pair that holds on every training row holds on every synthetic row; conditions win."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(5)
        n = 300
        start = rng.integers(0, 60, n).astype(float)
        weaned = rng.integers(0, 12, n)
        admitted = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
        frame = pd.DataFrame({
            "start": start, "stop": start + rng.exponential(20, n).round(1) + 0.1,
            "weaned": weaned, "solid_food": np.minimum(weaned, rng.integers(0, 12, n)),
            "admitted": admitted,
            "discharged": admitted + pd.to_timedelta(rng.integers(1, 30, n), "D"),
            "died": rng.random(n) < 0.3})
        schema = infer_schema(frame, target="died")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        assert {(o.low, o.high, o.strict) for o in gen.orders_} >= {
            ("start", "stop", True), ("solid_food", "weaned", False),
            ("admitted", "discharged", True)}
        synth = gen.sample(600, random_state=0)
        assert (synth["start"] < synth["stop"]).all()
        assert (synth["solid_food"] <= synth["weaned"]).all()
        assert (pd.to_datetime(synth["admitted"]) < pd.to_datetime(synth["discharged"])).all()
        again = load_generator(gen.save(tmp_path / "m"))
        assert again.orders_ == gen.orders_
        pd.testing.assert_frame_equal(again.sample(600, random_state=0), synth)
        if gen.tags.supports_conditioning:  # a condition is kept even against the order
            late = gen.sample(20, conditions={"solid_food": 11}, random_state=1)
            assert (late["solid_food"] == 11).all()

    def test_a_column_computed_from_others_stays_so(self, name, params, tmp_path):
        """Exports carry derived columns: a weight change beside both weights (NHEFS), a BMI
        beside weight and height, days between two dates. Modelled apart, the weight change
        alone told synthetic rows from real ones at AUC 0.60. Each is computed from its
        drawn sources, as they are written; a condition on it is kept as given."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(6)
        n = 300
        weight = rng.normal(75, 12, n).round(1)
        height = rng.normal(1.72, 0.09, n).round(2)
        later = (weight + rng.normal(1, 4, n)).round(1)
        admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
        days = rng.integers(1, 40, n)
        frame = pd.DataFrame({
            "weight": weight, "height": height, "bmi": (weight / height ** 2).round(1),
            "weight_later": later, "weight_change": (later - weight).round(1),
            "admitted": admitted, "discharged": admitted + pd.to_timedelta(days, "D"),
            "stay_days": days, "died": rng.random(n) < 0.3})
        schema = infer_schema(frame, target="died")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        # each relation is written through one of its columns (the widest term's)
        assert {frozenset((f.column, *f.sources)) for f in gen.formulas_} == {
            frozenset({"bmi", "weight", "height"}),
            frozenset({"weight_later", "weight", "weight_change"}),
            frozenset({"discharged", "admitted", "stay_days"})}
        synth = gen.sample(400, random_state=0)
        # to the written precision (a half-way 33.75 may round either way)
        bmi = synth["weight"] / synth["height"] ** 2
        assert (bmi - synth["bmi"]).abs().max() <= 0.05 + 1e-9
        change = synth["weight_later"] - synth["weight"]
        assert (change - synth["weight_change"]).abs().max() < 1e-9
        stay = (pd.to_datetime(synth["discharged"]) - pd.to_datetime(synth["admitted"])).dt.days
        assert (stay == synth["stay_days"]).all()
        again = load_generator(gen.save(tmp_path / "m"))
        assert again.formulas_ == gen.formulas_
        pd.testing.assert_frame_equal(again.sample(400, random_state=0), synth)
        if gen.tags.supports_conditioning:  # the condition wins over the formula
            heavy = gen.sample(20, conditions={"bmi": 35.0}, random_state=1)
            assert (heavy["bmi"] == 35.0).all()
            later = gen.sample(20, conditions={"weight_change": 2.5}, random_state=1)
            assert (later["weight_later"] - later["weight"] - 2.5).abs().max() < 1e-9

    def test_a_column_blank_by_design_stays_blank_exactly_there(self, name, params, tmp_path):
        """A year of death only for the dead, pregnancies only for women (NHEFS, OPT): the
        forest broke such rules on 10-18 % of its rows. Blank exactly where the category
        says; a condition on the column is kept as given."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(7)
        n = 300
        died = rng.random(n) < 0.3
        sex = rng.choice(["F", "M"], n)
        frame = pd.DataFrame({
            "age": rng.integers(20, 90, n), "sex": sex,
            "pregnancies": np.where(sex == "F", rng.integers(0, 6, n), np.nan),
            "died": died, "death_year": np.where(died, rng.integers(1983, 1993, n), np.nan),
            "bmi": rng.normal(27, 4, n).round(1)})
        schema = infer_schema(frame, target="died")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        assert {(g.column, g.source) for g in gen.gates_} == {
            ("pregnancies", "sex"), ("death_year", "died")}
        synth = gen.sample(500, random_state=0)
        assert (synth["pregnancies"].notna() == (synth["sex"] == "F")).all()
        assert (synth["death_year"].notna() == synth["died"].astype(bool)).all()
        again = load_generator(gen.save(tmp_path / "m"))
        assert again.gates_ == gen.gates_
        pd.testing.assert_frame_equal(again.sample(500, random_state=0), synth)
        if gen.tags.supports_conditioning:
            men = gen.sample(20, conditions={"sex": "M"}, random_state=1)
            assert men["pregnancies"].isna().all()

    def test_categories_never_recorded_together_stay_apart(self, name, params, tmp_path):
        """A never-smoker smokes "none" a day, a smoker never "none" (mosaicData's
        Gestation: the forest put 32 % of its rows in such an empty cell). No synthetic row
        is in one; a condition is kept as given and its partner follows."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(9)
        n = 400
        smoke = rng.choice(["never", "now", "once"], n, p=[0.45, 0.4, 0.15])
        frame = pd.DataFrame({
            "age": rng.integers(18, 45, n), "smoke": smoke,
            "per_day": np.where(smoke == "never", "none",
                                rng.choice(["1-4", "5-9", "10-19", "20+"], n)),
            "weight": rng.normal(65, 9, n).round(1), "preterm": rng.random(n) < 0.2})
        schema = infer_schema(frame, target="preterm")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        assert [(e.anchor, e.column) for e in gen.exclusions_] == [("smoke", "per_day")]
        synth = gen.sample(500, random_state=0)
        assert ((synth["smoke"] == "never") == (synth["per_day"] == "none")).all()
        again = load_generator(gen.save(tmp_path / "m"))
        pd.testing.assert_frame_equal(again.sample(500, random_state=0), synth)
        if gen.tags.supports_conditioning:
            heavy = gen.sample(30, conditions={"per_day": "20+"}, random_state=1)
            assert (heavy["per_day"] == "20+").all() and (heavy["smoke"] != "never").all()

    def test_values_people_round_heap_as_in_training(self, name, params, tmp_path):
        """Weights told to the nearest 5 or 10 pounds (Gestation: 77 % of the fathers'
        weights on multiples of 5, the forest drew 33 %). Synthetic values heap as often;
        a measured column stays unheaped; a condition is kept as given."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(11)
        n = 600
        true = rng.normal(160, 25, n)
        told = rng.choice([1, 5, 10], n, p=[0.4, 0.3, 0.3])
        frame = pd.DataFrame({
            "weight": (np.round(true / told) * told).astype(int),
            "measured": np.round(true * 0.4536 + rng.normal(0, 2, n), 1),
            "age": rng.integers(18, 45, n), "preterm": rng.random(n) < 0.2})
        schema = infer_schema(frame, target="preterm")
        gen = generator_class(name)(**params).fit(frame, schema=schema, random_state=0)
        assert [h.column for h in gen.heaps_] == ["weight"]
        synth = gen.sample(1000, random_state=0)
        for multiple in (5, 10):
            real_share = np.mean(frame["weight"] % multiple == 0)
            assert abs(np.mean(synth["weight"] % multiple == 0) - real_share) < 0.07
        assert synth["weight"].between(frame["weight"].min(), frame["weight"].max()).all()
        again = load_generator(gen.save(tmp_path / "m"))
        pd.testing.assert_frame_equal(again.sample(300, random_state=0),
                                      gen.sample(300, random_state=0))
        if gen.tags.supports_conditioning:
            odd = int(frame["weight"][frame["weight"] % 5 != 0].iloc[0])
            assert (gen.sample(20, conditions={"weight": odd}, random_state=1)["weight"]
                    == odd).all()

    @pytest.mark.parametrize("shape", ["six_rows", "one_value", "constant", "one_class"])
    def test_awkward_tables_fit_and_sample(self, name, params, shape):
        """Shapes real tables have (medicaldata::scurvy has 12 rows; laryngoscope a column
        recorded for 3 of 99 patients; a single-site cohort; an outcome no one had)."""
        if _modality(name) != "table":
            pytest.skip("table shapes")
        rng = np.random.default_rng(0)
        n = 60
        frame = {
            "six_rows": pd.DataFrame({"arm": list("abcabc"),
                                      "x": [1.2, 3.4, 2.2, 5.0, 4.1, 0.3],
                                      "ok": [True, False, True, True, False, False]}),
            "one_value": pd.DataFrame({"age": rng.integers(20, 80, n), "ok": rng.random(n) < 0.8,
                                       "rare": np.where(np.arange(n) == 0, 31.0, np.nan)}),
            "constant": pd.DataFrame({"age": rng.integers(20, 80, n), "site": ["A"] * n,
                                      "dose": [5.0] * n, "ok": rng.random(n) < 0.5}),
            "one_class": pd.DataFrame({"age": rng.integers(20, 80, n), "ok": [True] * n}),
        }[shape]
        gen = generator_class(name)(**params).fit(
            frame, schema=infer_schema(frame, target="ok"), random_state=0)
        synth = gen.sample(20, random_state=0)
        assert list(synth.columns) == list(frame.columns) and len(synth) == 20
        if shape == "constant":
            assert (synth["site"] == "A").all() and (synth["dose"] == 5.0).all()

    def test_conditioning(self, name, params, fitted, schema):
        _check(name, "conditioning")
        gen = fitted(name, params)
        if not gen.tags.supports_conditioning:
            pytest.skip("generator declares no conditioning")
        synth = gen.sample(300, conditions={"sex": "m", "stage": 4}, random_state=0)
        assert (synth["sex"] == "m").all() and (synth["stage"] == 4).all()
        per_row = pd.DataFrame({"died": [True] * 50 + [False] * 50})
        synth = gen.sample(100, conditions=per_row, random_state=0)
        assert _records(synth, schema)["died"].tolist() == per_row["died"].tolist()
        with pytest.raises(ParameterError, match="does not know"):
            gen.sample(10, conditions={"nope": 1})
        with pytest.raises(ParameterError, match="never seen"):
            gen.sample(10, conditions={"sex": "unknown-category"})

    def test_bad_n_rejected(self, name, params, fitted):
        gen = fitted(name, params)
        for bad in (0, -5, 2.5, "10", True):
            with pytest.raises(ParameterError, match="`n` must be a positive integer"):
                gen.sample(bad)

    def test_bad_params_rejected_at_fit(self, name, params, frame, schema):
        cls = generator_class(name)
        assert cls._param_checks, f"{name} declares no parameter checks"
        for param, check in cls._param_checks.items():
            bad = next(v for v in (-1, "bogus", float("nan"), None, 10**9) if check(v) is not None)
            gen = cls(**{**params, param: bad})  # constructor accepts anything...
            with pytest.raises(ParameterError, match=f"`{param}`"):
                gen.fit(frame, schema=schema)  # ...fit checks it

    def test_input_not_mutated(self, name, params, frame, schema):
        before = frame.copy(deep=True)
        generator_class(name)(**params).fit(frame, schema=schema).sample(50)
        pd.testing.assert_frame_equal(frame, before)

    def test_bad_input_to_fit(self, name, params, frame, schema):
        gen = generator_class(name)(**params)
        with pytest.raises(DataError, match="rows"):
            gen.fit(frame.iloc[:1], schema=schema)
        with pytest.raises(DataError, match="DataFrame"):
            gen.fit(frame.to_numpy())
        empty_col = frame.assign(bili=np.nan)
        with pytest.raises(SchemaError, match="'bili' has no values"):
            gen.fit(empty_col, schema=schema)
        with pytest.raises(SchemaError, match="not in the data"):
            gen.fit(frame.drop(columns=["age"]), schema=schema)

    def test_tampered_model_file_rejected(self, name, params, fitted, tmp_path):
        folder = fitted(name, params).save(tmp_path / "m")
        (folder / "arrays.npz").write_bytes(b"not a zip")
        with pytest.raises(ModelFileError):
            load_generator(folder)
        (folder / "model.json").write_text('{"format": "something else"}')
        with pytest.raises(ModelFileError, match="not a synthmed model"):
            load_generator(folder)


def test_every_generator_is_covered():
    assert {c.values[0] for c in CASES} == set(list_generators())
    assert {"gaussian_copula", "bayesian_network"} <= set(list_generators())


# --------------------------------------------------------------------------- signals
# Signal generators take a SignalSet and sample records of a length in seconds; the checks
# below are the same contract as above, on a minute of the bundled MIT-BIH ECG: as one record,
# and cut into four (a set of patients, whose per-record effects are saved too).

SIGNAL_CASES = [c for c in CASES if _modality(c.values[0]) == "signal"]


@pytest.fixture(scope="module", params=["one record", "four records"])
def signals(request):
    from synthmed import load_dataset
    from synthmed.datasets.signals import SignalSet

    ecg = load_dataset("ecg_mitbih").signals
    minute = ecg.records[0][:, : int(60 * ecg.fs)]
    records = [minute] if request.param == "one record" else np.array_split(minute, 4, axis=1)
    return SignalSet(records, ecg.fs, ecg.channels, ecg.units)


def _same_signals(a, b) -> bool:
    return a.lengths == b.lengths and all(
        np.array_equal(x, y) for x, y in zip(a.records, b.records, strict=True))


@pytest.mark.parametrize(("name", "params"), SIGNAL_CASES)
class TestSignalConformance:
    def test_fit_sample_contract(self, name, params, signals, tmp_path):
        gen = generator_class(name)(**params)
        assert not gen.is_fitted
        with pytest.raises(NotFittedError, match=r"not fitted yet\. Call 'fit' before 'sample'"):
            gen.sample(1)
        before = [r.copy() for r in signals.records]
        assert gen.fit(signals, random_state=3) is gen
        assert all(np.array_equal(a, b) for a, b in zip(before, signals.records, strict=True))
        out = gen.sample(2, length_s=7.5, random_state=7)
        assert out.n_records == 2 and out.lengths == (round(7.5 * signals.fs),) * 2
        assert out.channels == signals.channels and out.fs == signals.fs
        assert _same_signals(out, gen.sample(2, length_s=7.5, random_state=7))
        assert not _same_signals(out, gen.sample(2, length_s=7.5, random_state=8))
        again = generator_class(name)(**params).fit(signals, random_state=3)
        assert _same_signals(out, again.sample(2, length_s=7.5, random_state=7))
        gen.save(tmp_path / "model")
        assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["arrays.npz",
                                                                         "model.json"]
        with np.load(tmp_path / "model" / "arrays.npz", allow_pickle=False) as npz:
            assert all(npz[k].dtype != object for k in npz.files)
        loaded = load_generator(tmp_path / "model")
        assert type(loaded) is type(gen) and loaded.get_params() == gen.get_params()
        assert _same_signals(out, loaded.sample(2, length_s=7.5, random_state=7))
        (tmp_path / "model" / "arrays.npz").write_bytes(b"not a zip")
        with pytest.raises(ModelFileError):
            load_generator(tmp_path / "model")

    def test_bad_input_rejected(self, name, params, signals):
        cls = generator_class(name)
        assert cls._param_checks, f"{name} declares no parameter checks"
        for param, check in cls._param_checks.items():
            bad = next(v for v in (-1, "bogus", float("nan"), 10**9) if check(v) is not None)
            with pytest.raises(ParameterError, match=f"`{param}`"):
                cls(**{**params, param: bad}).fit(signals)
        with pytest.raises(DataError, match="SignalSet"):
            cls(**params).fit(signals.records[0])
        gen = cls(**params).fit(signals)
        for bad in (0, -5, 2.5, "10", True):
            with pytest.raises(ParameterError, match="`n` must be a positive integer"):
                gen.sample(bad)
        with pytest.raises(ParameterError, match="`length_s`"):
            gen.sample(1, length_s=0.1)
        with pytest.raises(ParameterError, match="does not know"):
            gen.sample(1, conditions={"nope": 1})
