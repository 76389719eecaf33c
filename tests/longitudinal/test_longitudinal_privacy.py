"""The privacy fix of the longitudinal generator: synthetic patients sit no closer to the
training patients than real outsiders do (pbcseq), and the building blocks behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthmed import ParameterError, load_dataset
from synthmed.evaluation.longitudinal import _small_cohort, split_entities
from synthmed.evaluation.result import Metric, Section
from synthmed.generators import get_generator
from synthmed.generators._smoothing import KernelSmoother
from synthmed.generators.longitudinal._model import Marginal
from synthmed.schema import ColumnSchema, TableSchema


@pytest.fixture(scope="module")
def pbcseq_split():
    data = load_dataset("pbcseq")
    train, holdout = split_entities(data.frame, data.schema)
    return data, train, holdout


def _closer_to_train(values: np.ndarray, train: np.ndarray, holdout: np.ndarray) -> float:
    """Share of values nearer to a training value than to a holdout one (ties: one half)."""
    d_t = np.abs(values[:, None] - train[None]).min(1)
    d_h = np.abs(values[:, None] - holdout[None]).min(1)
    return float(((d_t < d_h) + 0.5 * (d_t == d_h)).mean())


def _age_share(synth: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame) -> float:
    """The quasi-identifier DCR share on (age, sex): nearest age among patients of that sex."""
    firsts = [f.drop_duplicates("id") for f in (synth, train, holdout)]
    found = []
    for sex in ("f", "m"):
        s, t, h = (f.loc[f["sex"] == sex, "age"].to_numpy(float) for f in firsts)
        found.append(_closer_to_train(s, t, h) * len(s))
    return sum(found) / len(firsts[0])


@pytest.mark.slow
def test_static_model_places_patients_no_closer_to_train_than_holdout(pbcseq_split):
    # 156 training patients with ages to 5 decimals: without smoothing, the copula put 55-59%
    # of synthetic patients nearer a training patient than a holdout one (the leak)
    data, train, holdout = pbcseq_split
    shares = {}
    for smooth in (True, False):
        gen = get_generator("longitudinal", smooth_static=smooth).fit(
            train, schema=data.schema, random_state=0)
        synth = gen.sample(1000, random_state=0)
        shares[smooth] = _age_share(synth, train, holdout)
        if smooth:
            ages = synth.drop_duplicates("id")["age"]
            lo, hi = train["age"].min(), train["age"].max()
            assert ages.between(lo, hi).all()
            real = train.drop_duplicates("id")["age"]
            assert abs(ages.mean() - real.mean()) < 0.1 * real.std()
            assert abs(ages.std() / real.std() - 1) < 0.1
    # the reference: patients drawn alike from train and holdout (their ages with kernel
    # noise), which a split of 156 against 156 patients may itself place off 0.5 (0.544 here)
    pooled = pd.concat([train, holdout]).drop_duplicates("id")
    rng = np.random.default_rng(0)
    fresh = pooled.sample(2000, replace=True, random_state=1).assign(
        id=np.arange(2000), age=lambda f: f["age"] + rng.normal(0, 2.0, len(f)))
    reference = _age_share(fresh, train, holdout)
    # smoothed, three splits: +0.019 / +0.039 / +0.032 since the copula estimates its
    # correlations by maximum likelihood (its age-by-sex link is no longer blurred), +0.002 to
    # +0.032 before; the patient-level DCR share over all columns stays at the holdout's
    assert shares[True] < reference + 0.05
    assert shares[False] > reference + 0.05  # the leak when smoothing is off: +0.07 to +0.15
    assert shares[True] < shares[False] - 0.02  # smoothing removes half of it or more


def test_marginal_does_not_put_values_next_to_training_values():
    rng = np.random.default_rng(0)
    train, outsiders = rng.gamma(2.0, 1.0, 300), rng.gamma(2.0, 1.0, 300)
    marginal = Marginal.fit(train)
    draws = marginal.inverse(rng.standard_normal(5000))
    assert draws.min() >= train.min() and draws.max() <= train.max()
    assert _closer_to_train(draws, train, outsiders) < 0.53
    # the old grid (a quantile at nearly every training value) leaked
    levels = np.linspace(0, 1, 256)
    leaky = Marginal(np.quantile(train, levels), levels, False)
    assert _closer_to_train(leaky.inverse(rng.standard_normal(5000)), train, outsiders) > 0.55


def test_kernel_smoother_keeps_spread_range_and_fixed_columns():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"age": rng.normal(50, 10, 400).round(2),
                          "visits": rng.integers(1, 6, 400),
                          "days": rng.integers(0, 4000, 400)})
    schema = TableSchema(columns=(ColumnSchema("age", "numeric", decimals=2),
                                  ColumnSchema("visits", "integer", decimals=0),
                                  ColumnSchema("days", "integer", decimals=0)))
    smoother = KernelSmoother.fit(frame, schema)
    assert set(smoother.columns) == {"age", "days"}  # 5 distinct visit counts: left alone
    out = smoother.transform(frame, np.random.default_rng(2), keep=frozenset({"days"}))
    assert (out["visits"] == frame["visits"]).all() and (out["days"] == frame["days"]).all()
    assert (out["age"] != frame["age"]).mean() > 0.9
    assert out["age"].between(frame["age"].min(), frame["age"].max()).all()
    assert abs(out["age"].std() / frame["age"].std() - 1) < 0.05
    assert (out["age"].round(2) == out["age"]).all()  # the recorded precision is kept
    again = KernelSmoother.from_meta(smoother.to_meta())
    pd.testing.assert_frame_equal(again.transform(frame, np.random.default_rng(2)),
                                  smoother.transform(frame, np.random.default_rng(2)))


def test_kernel_smoother_leaves_atoms_as_drawn():
    """A count such as a patient's number of rows: values shared by several patients (one
    row: 60 of 400) stay as drawn, rare large counts get the noise. Smoothed whole, nafld2's
    single-row patients fell from 7.6 % to 4.4 % of the synthetic ones."""
    rng = np.random.default_rng(3)
    rows = np.where(rng.random(400) < 0.15, 1, rng.integers(2, 80, 400))
    frame = pd.DataFrame({"n_rows": rows})
    schema = TableSchema(columns=(ColumnSchema("n_rows", "integer", decimals=0),))
    smoother = KernelSmoother.fit(frame, schema)
    out = smoother.transform(frame, np.random.default_rng(4))["n_rows"]
    atoms = set(smoother.columns["n_rows"].atoms)
    assert 1.0 in atoms
    shared = frame["n_rows"].isin(atoms)
    assert (out[shared] == frame["n_rows"][shared]).all()
    assert (out[~shared] != frame["n_rows"][~shared]).mean() > 0.5
    # a model saved before atoms were kept (six entries per column) loads without them
    legacy = {name: meta[:6] for name, meta in smoother.to_meta().items()}
    assert KernelSmoother.from_meta(legacy).columns["n_rows"].atoms == ()


def test_smooth_static_must_be_a_boolean():
    from _data import long_schema, make_long_frame

    frame = make_long_frame(40, seed=0)
    with pytest.raises(ParameterError, match="smooth_static"):
        get_generator("longitudinal", smooth_static="yes").fit(frame, schema=long_schema(frame))


def _gate(name: str, value: float, ref: float, bound: float) -> Metric:
    return Metric(name, value, ref, bound, value <= bound, "lower", gate=True)


def test_small_cohort_gates_failed_by_the_holdout_become_warnings():
    wide = Metric("inference_risk", 0.0, 0.0, 0.09, False, "lower", gate=True,
                  interval=(0.0, 0.13))  # risk 0 seen, but too few attacks to bound it
    metrics = (_gate("dcr_share", 0.60, 0.62, 0.53), _gate("membership_auc", 0.60, 0.50, 0.55),
               wide)
    out, notes = _small_cohort(metrics, 48)
    assert out[0].passed is False and not out[0].gate and "A warning" in out[0].note
    assert out[1].passed is False and out[1].gate  # the holdout passes this one: a gate
    assert not out[2].gate and "interval" in out[2].note
    assert Section("privacy", out).verdict == "fail"
    assert Section("privacy", (out[0], out[2])).verdict == "warn"  # never a silent pass
    assert "48 patients" in notes[0] and "dcr_share" in notes[0]
    same, no_notes = _small_cohort(metrics, 500)
    assert same == metrics and not no_notes
    # a copy of the training patients is far worse than the holdout: still a failed gate
    copied, _ = _small_cohort((_gate("dcr_share", 1.0, 0.62, 0.53),), 48)
    assert copied[0].gate and Section("privacy", copied).verdict == "fail"


def test_linear_head_with_more_inputs_than_rows_keeps_the_noise():
    """First values of a small cohort: 50 patients, 80 inputs, no signal. A plain ridge fit
    explains its training rows almost exactly, and its residual noise (about 0.1 here) drew
    synthetic values on top of training ones; the head now picks its penalty by generalised
    cross-validation and scales residuals to new rows."""
    from synthmed.generators.longitudinal._model import LinearHead

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 80)), rng.standard_normal((50, 2))
    head = LinearHead.fit(x, y, ridge=1.0)
    noise_sd = np.sqrt(np.diag(head.chol @ head.chol.T))
    assert (noise_sd > 0.8).all() and (noise_sd < 1.3).all()
    assert np.abs(head.coef[:-1]).max() < 0.1  # no signal: the inputs are shrunk away
