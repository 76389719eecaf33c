"""Model-specific tests of adversarial random forests (the conformance suite covers the rest)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from _data import detection_auc
import synthmed
from synthmed.exceptions import ParameterError
from synthmed.generators.base import load_generator
from synthmed.generators.tabular.arf import AdversarialRandomForest


@pytest.fixture(scope="module")
def fitted(pbc_split):
    train, _, schema = pbc_split
    gen = AdversarialRandomForest().fit(train, schema=schema, random_state=0)
    return gen, gen.sample(3000, random_state=1)


def _numeric(gen: AdversarialRandomForest) -> list[str]:
    return [c.name for c in gen.schema_.columns if c.kind in ("numeric", "integer")]


def test_marginals_as_close_as_holdout(pbc_split, fitted):
    train, holdout, _ = pbc_split
    gen, synth = fitted
    for col in _numeric(gen):
        ks_synth = ks_2samp(synth[col].dropna(), train[col].dropna()).statistic
        ks_holdout = ks_2samp(holdout[col].dropna(), train[col].dropna()).statistic
        assert ks_synth < max(ks_holdout, 0.08), col
    for col in ("status", "sex", "edema", "stage"):
        real = train[col].value_counts(normalize=True, dropna=False)
        fake = synth[col].value_counts(normalize=True, dropna=False)
        assert (real - fake.reindex(real.index, fill_value=0)).abs().max() < 0.05, col
    assert (train.isna().mean()[synth.columns] - synth.isna().mean()).abs().max() < 0.05


def test_rank_correlations_preserved(pbc_split, fitted):
    train, _, _ = pbc_split
    gen, synth = fitted
    cols = _numeric(gen)
    diff = (train[cols].corr("spearman") - synth[cols].corr("spearman")).abs().to_numpy()
    # leaves of >= 10 of 300 rows attenuate associations a little (measured 0.093)
    assert np.nanmean(diff[np.triu_indices(len(cols), 1)]) < 0.11
    assert synth[["bili", "copper"]].corr("spearman").iloc[0, 1] > 0.3


def test_values_stay_on_the_reporting_grid(pbc_split, fitted):
    train, _, _ = pbc_split
    _, synth = fitted
    # bilirubin is reported to 0.1 on few distinct values: synthetic values are among them
    assert set(synth["bili"].dropna()) <= set(train["bili"].dropna())
    assert synth["bili"].between(train["bili"].min(), train["bili"].max()).all()


def test_conditioning_shifts_outcomes(fitted):
    gen, _ = fitted
    dead = gen.sample(2000, conditions={"status": 2}, random_state=0)
    censored = gen.sample(2000, conditions={"status": 0}, random_state=0)
    assert (dead["status"] == 2).all() and (censored["status"] == 0).all()
    # in the real data, patients who died had higher bilirubin and shorter follow-up
    assert dead["bili"].median() > 1.3 * censored["bili"].median()
    assert dead["time"].median() < censored["time"].median()


def test_row_wise_conditions_with_numbers_and_missing(fitted):
    gen, _ = fitted
    n = 400
    cond = pd.DataFrame({"bili": np.r_[np.full(n // 2, 0.5), np.full(n // 2, 15.0)],
                         "trt": np.r_[np.full(n // 2, np.nan), np.full(n // 2, 1.0)]})
    out = gen.sample(n, conditions=cond, random_state=0)
    assert np.array_equal(out["bili"].to_numpy(), cond["bili"].to_numpy())
    assert out["trt"].iloc[: n // 2].isna().all() and (out["trt"].iloc[n // 2:] == 1.0).all()
    # trial measures are missing together; within a leaf columns are independent, so the
    # link is weaker than the copula's (measured 0.70 where the real rate is ~1)
    assert out["ascites"].iloc[: n // 2].isna().mean() > 0.6
    assert out["ascites"].iloc[n // 2:].isna().mean() < 0.2
    low, high = out.iloc[: n // 2], out.iloc[n // 2:]
    assert low["albumin"].median() > high["albumin"].median()  # albumin falls as bili rises
    assert (high["status"] == 2).mean() > (low["status"] == 2).mean() + 0.3


def test_unknown_condition_values_rejected(fitted):
    gen, _ = fitted
    with pytest.raises(ParameterError, match="status"):
        gen.sample(5, conditions={"status": 9})
    with pytest.raises(ParameterError, match="sex"):
        gen.sample(5, conditions={"sex": np.nan})  # sex is never missing
    with pytest.raises(ParameterError, match="age"):
        gen.sample(5, conditions={"age": np.nan})  # nor age


@pytest.mark.slow
def test_harder_to_detect_than_an_sdv_style_copula():
    data = synthmed.load_dataset("pbc")
    frame = data.frame
    aucs: dict[str, list[float]] = {"arf": [], "copula": []}
    # the copula as SDV fits it: latents drawn independently inside their intervals
    params = {"arf": ("arf", {}),
              "copula": ("gaussian_copula", {"correlation": "gibbs", "gibbs_sweeps": 0})}
    for seed in (0, 1):
        for key, (name, kw) in params.items():
            gen = synthmed.get_generator(name, **kw).fit(frame, schema=data.schema,
                                                         random_state=seed)
            aucs[key].append(detection_auc(frame, gen.sample(len(frame), random_state=seed),
                                           data.schema))
    # measured on all 418 rows, seeds 0 / 1: arf 0.638 / 0.577, copula 0.654 / 0.740
    # (0.5 = indistinguishable; synthmed's own copula, by maximum likelihood: 0.541 / 0.544)
    assert np.mean(aucs["arf"]) < np.mean(aucs["copula"]), aucs


def test_save_load_round_trip_stores_only_leaves(fitted, tmp_path):
    gen, _ = fitted
    folder = gen.save(tmp_path / "model")
    doc = json.loads((folder / "model.json").read_text())
    assert doc["generator"] == "arf" and len(doc["state"]["columns"]) == len(gen.schema_.names)
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)
        assert len(npz["coverage"]) == gen.n_leaves_
    assert sum(p.stat().st_size for p in folder.iterdir()) < 2_000_000
    loaded = load_generator(folder)
    assert isinstance(loaded, AdversarialRandomForest) and loaded.n_leaves_ == gen.n_leaves_
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=3),
                                  gen.sample(500, random_state=3))
    cond = {"status": 2, "bili": 3.0}
    pd.testing.assert_frame_equal(loaded.sample(100, conditions=cond, random_state=3),
                                  gen.sample(100, conditions=cond, random_state=3))


def test_datetimes_and_rare_categories():
    rng = np.random.default_rng(0)
    n = 400
    days = rng.integers(0, 365, n)
    frame = pd.DataFrame({
        "admitted": pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"),
        "stay": (days / 10 + rng.normal(0, 1, n)).round(1),
        "code": [f"c{c:03d}" for c in rng.zipf(1.5, n) % 200],
    })
    frame.loc[rng.random(n) < 0.2, "admitted"] = pd.NaT
    gen = AdversarialRandomForest(max_categories=8).fit(frame, random_state=0)
    out = gen.sample(2000, random_state=0)
    admitted = out["admitted"]
    assert admitted.dtype == "datetime64[ns]"
    assert admitted.min() >= frame["admitted"].min() and admitted.max() <= frame["admitted"].max()
    assert (admitted.dropna() == admitted.dropna().dt.normalize()).all()
    assert abs(admitted.isna().mean() - 0.2) < 0.05
    seen = out.dropna()
    assert np.corrcoef(seen["admitted"].astype("int64"), seen["stay"])[0, 1] > 0.8
    assert set(out["code"]) <= set(frame["code"]) and out["code"].nunique() > 8
    late = gen.sample(200, conditions={"admitted": pd.Timestamp("2020-12-01")}, random_state=0)
    assert late["stay"].median() > frame["stay"].median()


def test_a_block_of_columns_missing_together_stays_together(pbc_split):
    # pbc's trial block (a category and three yes/no items) is missing for the same
    # patients; drawn one column at a time, 58 of 210 synthetic rows had part of it missing
    train, _, schema = pbc_split
    block = ["trt", "ascites", "hepato", "spiders"]
    assert set(train[block].isna().sum(axis=1)) == {0, 4}
    gen = AdversarialRandomForest().fit(train, schema=schema, random_state=0)
    synth = gen.sample(2000, random_state=1)
    assert set(synth[block].isna().sum(axis=1)) == {0, 4}
    assert abs(synth["trt"].isna().mean() - train["trt"].isna().mean()) < 0.1
