"""The longitudinal generator: lengths, time order, outcome link, conditions, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import long_schema, make_long_frame
from synthmed import ParameterError
from synthmed.generators import get_generator, load_generator


@pytest.fixture(scope="module")
def fitted():
    frame = make_long_frame(200, seed=1)
    schema = long_schema(frame)
    return frame, get_generator("longitudinal").fit(frame, schema=schema, random_state=0)


def test_sequences_have_real_lengths_and_ordered_times(fitted):
    frame, gen = fitted
    synth = gen.sample(300, random_state=0)
    lengths = synth.groupby("stay_id").size()
    real = frame.groupby("stay_id").size()
    assert len(lengths) == 300 and lengths.min() >= 1 and lengths.max() <= real.max()
    assert abs(lengths.mean() - real.mean()) < 0.25 * real.mean()
    assert synth.groupby("stay_id")["t"].apply(lambda t: t.is_monotonic_increasing
                                                and t.is_unique).all()
    assert synth["stay_id"].str.startswith("syn-").all()
    per_stay = synth.groupby("stay_id")[["age", "sex", "died"]].nunique()
    assert (per_stay == 1).all().all()  # static columns stay constant within an entity
    assert gen.copy_rule_["redrawn"] == (
        "trajectories shared by fewer than 10 training trajectories")  # said as in the report


def test_outcome_link_dying_patients_look_like_it(fitted):
    _, gen = fitted
    died = gen.sample(200, conditions={"died": True}, random_state=1)
    lived = gen.sample(200, conditions={"died": False}, random_state=1)
    assert died["died"].all() and not lived["died"].any()

    def late_hr(data: pd.DataFrame) -> float:
        frac = data.groupby("stay_id")["t"].transform(lambda t: (t - t.min())
                                                      / max(t.max() - t.min(), 1))
        return float(data.loc[frac > 0.6, "hr"].mean())

    assert late_hr(died) - late_hr(lived) > 5  # real gap: 15 bpm at the end of a stay


def test_conditions_only_on_static_columns(fitted):
    _, gen = fitted
    with pytest.raises(ParameterError, match="does not know"):
        gen.sample(5, conditions={"bili": 1.0})


def test_save_load_and_missingness(fitted, tmp_path):
    frame, gen = fitted
    loaded = load_generator(gen.save(tmp_path / "m"))
    a = gen.sample(50, random_state=3)
    pd.testing.assert_frame_equal(a, loaded.sample(50, random_state=3))
    big = gen.sample(400, random_state=4)
    assert abs(big["bili"].isna().mean() - frame["bili"].isna().mean()) < 0.05
    assert np.isfinite(big["hr"]).all()


def test_a_static_code_and_its_label_stay_together_after_loading(tmp_path):
    """The patient-level model writes a code from its label (generators/_twins); its written
    columns were not saved, so a loaded model drew the two apart."""
    from synthmed.datasets.longitudinal import longitudinal_schema

    frame = make_long_frame(120, seed=2)
    frame["sex_code"] = frame["sex"].map({"f": 2, "m": 1})
    static = ["patient_id", "age", "sex", "sex_code", "stage", "died", "visits", "admitted",
              "ward", "site"]
    schema = longitudinal_schema(frame, entity="stay_id", time="t", static=static,
                                 target="died")
    gen = get_generator("longitudinal").fit(frame, schema=schema, random_state=0)
    loaded = load_generator(gen.save(tmp_path / "m"))
    assert loaded.static_model_.twins_ == gen.static_model_.twins_ != []
    synth = loaded.sample(200, random_state=0)
    assert ((synth["sex"] == "f") == (synth["sex_code"] == 2)).all()


def test_coarse_visits_keep_labels_integer_times_and_run(tmp_path):
    """MASS::bacteria / geepack::ohio shape: a yes/no measure written "y"/"n", whole-week
    visit times, a handful of visits per child. Labels and integers come back as they were
    ("n" once read as float(bool("n")) == 1: every value "True"); trajectories that many
    children share are no copies, so sampling finishes; the patient-level evaluation does not
    mistake summaries that coincide by chance for a leaked holdout."""
    from synthmed.longitudinal_pipeline import generate_longitudinal

    rng = np.random.default_rng(0)
    rows = []
    for child in range(300):
        smoker = rng.random() < 0.3
        for week in (0, 2, 4, 6):
            wheeze = rng.random() < (0.35 if smoker else 0.15)
            rows.append({"child": f"c{child:03d}", "week": week, "smoke": int(smoker),
                         "wheeze": "y" if wheeze else "n"})
    path = tmp_path / "visits.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    run = generate_longitudinal(path, tmp_path / "out", entity="child", time="week")
    synth = pd.read_csv(tmp_path / "out" / "synthetic.csv")
    assert pd.api.types.is_integer_dtype(synth["week"])
    assert set(synth["week"]) <= {0, 2, 4, 6}  # the visit schedule, not drawn gaps
    assert set(synth["wheeze"]) == {"y", "n"}
    assert 0.1 < (synth["wheeze"] == "y").mean() < 0.35
    assert run.generator.copy_rule_["redrawn"] == "none"
    # real and synthetic children mixed: synthetic trajectories equal to real ones are no
    # copies here either (geepack::ohio's mix failed after 25 redraw rounds)
    from synthmed.pipeline import ReleaseOptions

    mixed = generate_longitudinal(path, tmp_path / "mix", entity="child", time="week",
                                  release=ReleaseOptions(mode="hybrid", hybrid="mix",
                                                         real_fraction=0.5))
    assert mixed.release.counts()["synthetic"] > 0


def test_drawn_times_move_onto_the_visit_schedule_in_order():
    from synthmed.generators.longitudinal._records import on_schedule, visit_schedule

    grid = np.array([1.0, 8, 15, 22, 29])
    times = np.array([1, 9, 10, 23, 0, 28, 40.0])
    pos = np.array([0, 0, 0, 0, 1, 1, 1])
    out = on_schedule(times, pos, grid)
    assert out[:4].tolist() == [1, 8, 15, 22]  # 10 -> 8 taken -> next visit
    assert out[4:6].tolist() == [1, 29] and np.isnan(out[6])  # nothing after the last visit
    assert visit_schedule(np.tile(grid, 5)).tolist() == grid.tolist()
    assert visit_schedule(np.random.default_rng(0).uniform(0, 100, 500)) is None



def test_rows_that_record_nothing_are_drawn_where_training_has_them():
    """A weekly visit whose only lab was not drawn ("." in a SAS export) is a row with no
    measure: the sampler used to make every row record something (none of the synthetic
    glucose values missing, against 18%); the schema's missing code is written back."""
    from synthmed.datasets.longitudinal import longitudinal_schema

    rng = np.random.default_rng(0)
    rows = []
    for pid in range(80):
        level = rng.normal(100, 10)
        for t in range(int(rng.integers(3, 9))):
            glucose = "." if rng.random() < 0.2 else f"{level + rng.normal(0, 3):.1f}"
            rows.append({"pid": pid, "day": 7 * t, "glucose": glucose, "died": pid % 5 == 0})
    frame = pd.DataFrame(rows)
    schema = longitudinal_schema(frame, entity="pid", time="day", static=["died"])
    assert schema.column("glucose").missing_codes == (".",)
    synth = get_generator("longitudinal").fit(frame, schema=schema, random_state=0).sample(
        300, random_state=0)
    real_gaps = (frame["glucose"] == ".").mean()
    assert abs((synth["glucose"] == ".").mean() - real_gaps) < 0.06
    # a coded category measure: "." is a gap, not a level of its own
    pain = frame.assign(pain=np.where(frame["glucose"] == ".", ".",
                                      np.where(frame.index % 3 == 0, "severe", "mild")))
    schema = longitudinal_schema(pain, entity="pid", time="day", static=["died"])
    gen = get_generator("longitudinal").fit(pain, schema=schema, random_state=0)
    assert "." not in gen._codes["pain"]
    synth = gen.sample(300, random_state=0)
    assert set(synth["pain"]) <= {"mild", "severe", "."} and (synth["pain"] == ".").any()


def test_dates_that_change_within_a_patient_are_clocks_beside_the_time(tmp_path):
    """A chart time beside the days since admission (and a result time a few hours after
    it) were read as numbers: every synthetic row had them blank. They move with the time
    column on each synthetic patient's own clock, written in the source's pattern, from
    anchors no training patient has; a save keeps them."""
    frame = make_long_frame(120, seed=3)
    rng = np.random.default_rng(0)
    start = pd.to_datetime(frame["admitted"]) + pd.to_timedelta(
        rng.integers(0, 24 * 60, frame["stay_id"].nunique()), unit="min")[
        pd.factorize(frame["stay_id"])[0]]
    charted = (start + pd.to_timedelta(frame["t"], unit="D")).dt.round("min")
    resulted = charted + pd.to_timedelta(rng.uniform(0.5, 3.0, len(frame)), unit="h")
    frame = frame.assign(charted=charted.dt.strftime("%d.%m.%Y %H:%M"),
                         resulted=resulted.dt.round("min").dt.strftime("%d.%m.%Y %H:%M"))
    frame.loc[rng.random(len(frame)) < 0.05, "resulted"] = None
    schema = long_schema(frame)
    gen = get_generator("longitudinal").fit(frame, schema=schema, random_state=0)
    synth = gen.sample(150, random_state=1)
    # missing where the patient's admission date is (as in the source), and nowhere else
    assert synth["charted"].isna().mean() < 2 * frame["charted"].isna().mean() + 0.05
    assert synth["charted"].dropna().str.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}").all()
    assert synth["resulted"].isna().mean() > synth["charted"].isna().mean()

    def anchors(df: pd.DataFrame) -> pd.Series:
        at = pd.to_datetime(df["charted"], format="%d.%m.%Y %H:%M")
        return (at - pd.to_timedelta(df["t"], unit="D")).groupby(df["stay_id"])

    own = anchors(synth)
    assert own.first().notna().mean() > 0.8
    assert ((own.max() - own.min()).dropna() <= pd.Timedelta(minutes=1)).all()  # one clock
    assert own.first().dropna().isin(set(anchors(frame).first().dropna())).mean() <= 0.05
    lag = (pd.to_datetime(synth["resulted"], format="%d.%m.%Y %H:%M")
           - pd.to_datetime(synth["charted"], format="%d.%m.%Y %H:%M")).dropna()
    # a few hours after the chart time, as in the source (0.5-3 h), not weeks apart
    assert lag.between(pd.Timedelta(minutes=29), pd.Timedelta(hours=3, minutes=1)).mean() > 0.75
    assert pd.Timedelta(hours=1.25) < lag.median() < pd.Timedelta(hours=2.25)
    loaded = load_generator(gen.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.sample(20, random_state=2),
                                  gen.sample(20, random_state=2))
    # judged by when each patient's clock starts (a date the distance gates see too)
    from synthmed.evaluation.longitudinal import evaluate_longitudinal

    half = frame["stay_id"].isin(frame["stay_id"].unique()[::2])
    result = evaluate_longitudinal(frame[half], frame[~half], synth, schema,
                                   sections=("fidelity",))
    per_column = result["fidelity"].metric("patient_column_distance").details
    assert per_column["charted__first"]["synthetic"] < 0.3



def test_an_undrawn_extent_is_borrowed_from_a_patient_of_as_many_rows():
    from synthmed.generators.longitudinal._patient import MEAN_GAP, SPAN, drawn_span

    lengths = np.array([1, 3, 3, 3, 10, 12, 4])
    spans = pd.DataFrame({SPAN: [0.0, 200.0, 0.0, np.nan, 900.0, 1_000.0, 0.0]})
    rng = np.random.default_rng(0)
    out = drawn_span(spans, SPAN, lengths, np.full(7, np.inf), rng)
    assert out[0] == 0 and out[1] == 200 and out[4] == 900 and out[5] == 1_000
    assert out[2] == out[3] == 200  # the one other three-row patient's
    assert out[6] == 200  # no other four-row patient: the nearest length, three
    gaps = pd.DataFrame({MEAN_GAP: [np.nan, 50.0, 60.0, 70.0]})
    state = rng.bit_generator.state
    out = drawn_span(gaps, MEAN_GAP, np.array([1, 3, 5, 2]), np.full(4, np.inf), rng)
    assert list(out) == [0, 100, 240, 70]
    assert rng.bit_generator.state == state  # nothing to borrow: no draw
