"""Model-specific tests of the Gaussian copula (the shared conformance suite covers the rest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from synthmed.exceptions import ParameterError
from synthmed.generators.base import load_generator
from synthmed.generators.tabular._copula_marginals import QuantileMarginal
from synthmed.generators.tabular.gaussian_copula import GaussianCopula


@pytest.fixture(scope="module")
def fitted(pbc_split):
    train, _, schema = pbc_split
    gen = GaussianCopula().fit(train, schema=schema, random_state=0)
    return gen, gen.sample(3000, random_state=1)


def _numeric(gen: GaussianCopula) -> list[str]:
    return [c.name for c in gen.schema_.columns if c.kind in ("numeric", "integer")]


def test_marginals_as_close_as_holdout(pbc_split, fitted):
    train, holdout, _ = pbc_split
    gen, synth = fitted
    for col in _numeric(gen):
        ks_synth = ks_2samp(synth[col].dropna(), train[col].dropna()).statistic
        ks_holdout = ks_2samp(holdout[col].dropna(), train[col].dropna()).statistic
        assert ks_synth < max(ks_holdout, 0.08), col


def test_rank_correlations_preserved(pbc_split, fitted):
    train, _, _ = pbc_split
    gen, synth = fitted
    cols = _numeric(gen)
    diff = (train[cols].corr("spearman") - synth[cols].corr("spearman")).abs().to_numpy()
    assert np.nanmean(diff[np.triu_indices(len(cols), 1)]) < 0.07
    # the strongest real association keeps its sign and most of its size
    assert synth[["bili", "copper"]].corr("spearman").iloc[0, 1] > 0.3


def test_missing_rates_and_co_missingness(pbc_split, fitted):
    train, _, _ = pbc_split
    _, synth = fitted
    assert (train.isna().mean()[synth.columns] - synth.isna().mean()).abs().max() < 0.05
    # pbc_split's non-trial patients miss every trial measure together; the model keeps that
    both_missing = (synth["trt"].isna() == synth["ascites"].isna()).mean()
    assert both_missing > 0.97


def test_observed_values_within_training_bounds(pbc_split, fitted):
    train, _, _ = pbc_split
    gen, synth = fitted
    for col in _numeric(gen):
        assert synth[col].min() >= train[col].min(), col
        assert synth[col].max() <= train[col].max(), col
    assert set(synth["status"].unique()) <= set(train["status"].unique())
    assert synth["status"].dtype == train["status"].dtype


def test_conditioning_honoured_and_shifts_outcomes(fitted):
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
    # trial measures are missing together: no trt, (almost) no ascites
    assert out["ascites"].iloc[: n // 2].isna().mean() > 0.9
    low, high = out["albumin"].iloc[: n // 2], out["albumin"].iloc[n // 2:]
    assert low.median() > high.median()  # albumin falls as bilirubin rises


def test_unknown_condition_category_rejected(fitted):
    gen, _ = fitted
    with pytest.raises(ParameterError, match="status"):
        gen.sample(5, conditions={"status": 9})
    with pytest.raises(ParameterError, match="sex"):
        gen.sample(5, conditions={"sex": np.nan})  # sex is never missing


def test_datetime_round_trip_and_constant_column():
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2020-01-01").value
    days = rng.integers(0, 365, 200)
    frame = pd.DataFrame({
        "admitted": pd.to_datetime(start + days * 86_400_000_000_000),
        "stay": days / 10 + rng.normal(0, 1, 200).round(1),
        "site": "A",
    })
    frame.loc[rng.random(200) < 0.2, "admitted"] = pd.NaT
    gen = GaussianCopula().fit(frame, random_state=0)
    out = gen.sample(1000, random_state=0)
    admitted = out["admitted"]
    assert admitted.dtype == "datetime64[ns]"
    assert admitted.min() >= frame["admitted"].min() and admitted.max() <= frame["admitted"].max()
    assert (admitted.dropna() == admitted.dropna().dt.normalize()).all()
    assert abs(admitted.isna().mean() - 0.2) < 0.05
    seen = out.dropna()
    assert np.corrcoef(seen["admitted"].astype("int64"), seen["stay"])[0, 1] > 0.8
    assert (out["site"] == "A").all()
    cond = gen.sample(50, conditions={"admitted": pd.Timestamp("2020-12-01")}, random_state=0)
    assert cond["stay"].median() > frame["stay"].median()


def test_high_cardinality_column():
    rng = np.random.default_rng(0)
    n = 20_000
    codes = rng.zipf(1.3, n) % 2000
    frame = pd.DataFrame({"code": [f"c{c:04d}" for c in codes],
                          "value": codes / 100 + rng.normal(0, 1, n)})
    gen = GaussianCopula().fit(frame, random_state=0)
    out = gen.sample(20_000, random_state=0)
    top = frame["code"].value_counts(normalize=True).head(5)
    assert np.allclose(out["code"].value_counts(normalize=True)[top.index], top, atol=0.02)
    assert set(out["code"]) <= set(frame["code"])


def test_save_load_reproduces_samples(tmp_path, fitted):
    gen, _ = fitted
    gen.save(tmp_path / "model")
    loaded = load_generator(tmp_path / "model")
    assert isinstance(loaded, GaussianCopula)
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=3),
                                  gen.sample(500, random_state=3))
    pd.testing.assert_frame_equal(
        loaded.sample(100, conditions={"status": 1}, random_state=3),
        gen.sample(100, conditions={"status": 1}, random_state=3),
    )


def test_mcar_option_breaks_missingness_link(pbc_split):
    train, _, schema = pbc_split
    gen = GaussianCopula(model_missing=False).fit(train, schema=schema)
    synth = gen.sample(3000, random_state=0)
    linked = synth["chol"].isna() & synth["trig"].isna()
    # independent indicators: joint missing rate close to the product of the rates
    assert linked.mean() < 0.5 * min(synth["chol"].isna().mean(), synth["trig"].isna().mean())


def _latent_table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Columns cut from correlated normal latents: a number, a rare outcome (7.5%), a binary
    independent of the outcome, a five-level grade and a number that is zero 60% of the time."""
    truth = np.array([[1.0, 0.6, 0.0, 0.3, 0.5],
                      [0.6, 1.0, 0.0, 0.2, 0.4],
                      [0.0, 0.0, 1.0, 0.4, -0.3],
                      [0.3, 0.2, 0.4, 1.0, 0.0],
                      [0.5, 0.4, -0.3, 0.0, 1.0]])
    z = np.random.default_rng(seed).multivariate_normal(np.zeros(5), truth, size=n)
    frame = pd.DataFrame({
        "age": np.round(55 + 15 * z[:, 0]),
        "died": z[:, 1] > 1.44,
        "sex": np.where(z[:, 2] > 0.1, "m", "f"),
        "grade": np.digitize(z[:, 3], [-0.8, -0.2, 0.5, 1.2]),
        "dose": np.where(z[:, 4] > 0.25, np.exp(z[:, 4]).round(2), 0.0),
    })
    return frame, truth


def test_latent_correlation_recovered_for_every_kind_of_pair():
    from synthmed.generators.tabular._latent_correlation import latent_correlation

    frame, truth = _latent_table(20_000, seed=0)
    gen = GaussianCopula(shrinkage=0.0).fit(frame, random_state=0)
    order = [gen._names_.index(c) for c in frame.columns]
    estimate = gen.corr_[np.ix_(order, order)]
    # polychoric (died x sex, grade), polyserial (age x died), scores (age x dose), with the
    # zero-inflated dose known only up to its interval of zeros; 20,000 rows: SE < 0.03
    assert np.abs(estimate - truth).max() < 0.08, np.round(estimate, 2)
    # one rare binary, one balanced: the pair a stochastic EM left anywhere in -0.03..0.57
    low = np.c_[np.where(frame["died"], 0.925, 0.0), np.where(frame["sex"] == "m", 0.46, 0.0)]
    high = np.c_[np.where(frame["died"], 1.0, 0.925), np.where(frame["sex"] == "m", 1.0, 0.46)]
    pair = latent_correlation(low, high, np.ones_like(low, dtype=bool))
    assert abs(pair[0, 1]) < 0.08 and pair[0, 0] == pair[1, 1] == 1.0


def test_distinct_values_on_few_rows_are_scores_not_intervals():
    from synthmed.generators.tabular._latent_correlation import latent_correlation

    # 17 rows of distinct values: each value's rank interval is 1/17 wide, yet nothing ties,
    # so the pair is the correlation of normal scores (a polychoric likelihood for every
    # pair of a 17-row, 400-column table took minutes)
    rng = np.random.default_rng(0)
    n = 17
    ranks = np.column_stack([rng.permutation(n), rng.permutation(n)])
    low, high = ranks / n, (ranks + 1) / n
    pair = latent_correlation(low, high, np.ones_like(low, dtype=bool))
    from scipy import special

    scores = special.ndtri((low + high) / 2)
    assert pair[0, 1] == pytest.approx(np.corrcoef(scores.T)[0, 1], abs=1e-9)


def test_rare_outcome_keeps_its_link_whatever_the_seed():
    frame, _ = _latent_table(1500, seed=1)
    fits = [GaussianCopula().fit(frame, random_state=seed) for seed in (0, 1, 2)]
    # the estimate has no random part: the seed changes only what is sampled
    assert all(np.array_equal(fits[0].corr_, f.corr_) for f in fits[1:])
    synth = fits[0].sample(20_000, random_state=0)

    def death_rate_ratio(table: pd.DataFrame) -> float:
        old = table["age"] >= 70
        return table.loc[old, "died"].mean() / table.loc[~old, "died"].mean()

    # P(died | 70 or older) / P(died | younger): about 5 in the data
    assert death_rate_ratio(synth) == pytest.approx(death_rate_ratio(frame), rel=0.3)
    assert abs(synth.groupby("sex")["died"].mean().diff().iloc[-1]) < 0.02


def test_latent_correlation_same_in_batches_and_alone(monkeypatch):
    import synthmed.generators.tabular._latent_correlation as lc

    frame, _ = _latent_table(3000, seed=2)
    frame["level"] = np.digitize(frame["age"], np.percentile(frame["age"], np.arange(3, 100, 3)))
    frame["level"] = frame["level"].astype(str)  # 34 labels: merged into at most 16 groups
    batched = GaussianCopula().fit(frame, random_state=0).corr_
    monkeypatch.setattr(lc, "CHUNK_ELEMENTS", 1)  # every wide pair in a chunk of its own
    alone = GaussianCopula().fit(frame, random_state=0).corr_
    np.testing.assert_allclose(batched, alone, atol=1e-12)


def _closer_to_train(synth: np.ndarray, train: np.ndarray, outside: np.ndarray) -> float:
    """Share of synthetic values nearer to a training value than to any outsider's (ties half)."""
    def gap(ref: np.ndarray) -> np.ndarray:
        ref = np.sort(ref)
        i = np.clip(np.searchsorted(ref, synth), 1, len(ref) - 1)
        return np.minimum(np.abs(synth - ref[i - 1]), np.abs(ref[i] - synth))
    d_train, d_out = gap(train), gap(outside)
    return float(np.mean(d_train < d_out) + 0.5 * np.mean(d_train == d_out))


def _skewed_lab(n: int, rng: np.random.Generator) -> pd.DataFrame:
    x = np.round(rng.lognormal(3.0, 0.8, n), 2)
    x[rng.random(n) < 0.3] = 0.0
    return pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], n)})


@pytest.mark.parametrize("smoothing", [0.5, 0.0])
def test_smoothing_hides_training_values_and_keeps_atoms(smoothing):
    # a skewed lab value with 30% exact zeros: without smoothing the synthetic values sit
    # between neighbouring training values, nearer to them than to outsiders (0.56-0.61 over
    # these seeds); smoothing brings that to about 0.5 and leaves the zeros (an atom) alone
    shares = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        train, outside = _skewed_lab(200, rng), _skewed_lab(200, rng)
        synth = GaussianCopula(smoothing=smoothing).fit(train, random_state=seed).sample(
            4000, random_state=seed)
        x = synth["x"].to_numpy()
        assert abs((x == 0).mean() - (train["x"] == 0).mean()) < 0.05
        assert x.min() >= 0 and x.max() <= train["x"].max()
        shares.append(_closer_to_train(x[x > 0], train["x"][train["x"] > 0].to_numpy(),
                                       outside["x"][outside["x"] > 0].to_numpy()))
    if smoothing:
        assert np.mean(shares) < 0.54
    else:
        assert np.mean(shares) > 0.55


def _visits(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A group of 6 sets the way in (not in the groups' frequency order), the way in and age
    the ward, and the ward is blank for the walk-in group."""
    rng = np.random.default_rng(seed)
    groups = np.array(["patient", "staff", "client", "visitor", "student", "walk-in"])
    group = groups[rng.choice(6, n, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])]
    drive = np.where(np.isin(group, ["staff", "visitor"]), "drive-through", "clinic")
    age = rng.normal(40, 15, n).round(1)
    ward = np.where(drive == "drive-through", "outpatient",
                    np.where(age > 40, "inpatient", "emergency")).astype(object)
    ward[group == "walk-in"] = None
    return pd.DataFrame({"group": group, "way_in": drive, "age": age, "ward": ward})


def test_label_columns_follow_each_other_and_the_numbers():
    # one latent per label column holds an order, not "this group, that way in": without
    # the chain the walk-in group's wards and the staff's way in came out near the average
    frame = _visits()
    synth = GaussianCopula().fit(frame, random_state=0).sample(3000, random_state=1)
    drive = np.where(synth["group"].isin(["staff", "visitor"]), "drive-through", "clinic")
    assert (synth["way_in"] == drive).mean() > 0.95
    walk_in = synth["group"] == "walk-in"
    assert synth.loc[walk_in, "ward"].isna().mean() > 0.9
    assert synth.loc[~walk_in, "ward"].notna().mean() > 0.95
    seen = ~walk_in & (synth["way_in"] == "clinic")
    expected = np.where(synth.loc[seen, "age"] > 40, "inpatient", "emergency")
    assert (synth.loc[seen, "ward"] == expected).mean() > 0.8
    # a condition on a label column is kept and the others follow it
    staff = GaussianCopula().fit(frame, random_state=0).sample(
        200, conditions={"group": "staff"}, random_state=2)
    assert (staff["group"] == "staff").all()
    assert (staff["way_in"] == "drive-through").mean() > 0.95
    # a condition on the chain's last label: the links before it keep the copula's draw
    # given it, and it stays as given
    ward = GaussianCopula().fit(frame, random_state=0).sample(
        100, conditions={"ward": "outpatient"}, random_state=3)
    assert (ward["ward"] == "outpatient").all() and ward["group"].notna().all()


def test_a_column_whose_values_repeat_keeps_its_heaps():
    """Weights in whole pounds heaped on round numbers (openintro's yrbss): between 100
    quantiles the copula spread the heaps' mass over the pounds in between (38 % of its rows
    on multiples of ten, 46 % of the real ones) and the weight alone told its rows from real
    ones. A column of at least 20 rows a value gets 4 quantile points a value."""
    rng = np.random.default_rng(0)
    n = 6000
    pounds = np.where(rng.random(n) < 0.4, rng.integers(9, 27, n) * 10,
                      rng.integers(90, 261, n))
    frame = pd.DataFrame({"pounds": pounds, "score": rng.normal(50, 10, n).round(3)})
    gen = GaussianCopula().fit(frame, random_state=0)
    assert [len(m.grid) for m in gen._marginals_] == [4 * 171, 100]  # the score: distinct
    synth = gen.sample(n, random_state=0)
    real_share = (frame["pounds"] % 10 == 0).mean()
    assert abs((synth["pounds"] % 10 == 0).mean() - real_share) < 0.02


def test_quantile_intervals_of_new_values():
    """A value's CDF interval through the grid: the interpolated point between grid points,
    the whole run where it equals a run of equal quantiles, the ends outside the range."""
    grid = np.array([0.0, 1.0, 1.0, 1.0, 2.0, 4.0])  # probabilities 0, 0.2, ..., 1
    marginal = QuantileMarginal(grid)
    low, high = marginal.intervals(np.array([-3.0, 0.0, 0.5, 1.0, 1.5, 3.0, 4.0, 9.0]))
    np.testing.assert_allclose(low, [0.0, 0.0, 0.1, 0.2, 0.7, 0.9, 1.0, 1.0])
    np.testing.assert_allclose(high, [0.0, 0.0, 0.1, 0.6, 0.7, 0.9, 1.0, 1.0])
    constant = QuantileMarginal(np.array([5.0, 5.0, 5.0]))
    low, high = constant.intervals(np.array([4.0, 5.0, 6.0]))
    np.testing.assert_allclose(low, [0.0, 0.0, 1.0])
    np.testing.assert_allclose(high, [0.0, 1.0, 1.0])


def _ages_and_roles(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """3,000 ages and a role held in a band of them: patients under 18, parents 25-45, the
    rest "other"."""
    age = np.concatenate([rng.uniform(0, 18, 1500), rng.uniform(18, 80, 1500)]).round(1)
    role = np.where(age < 18, "patient", np.where((age >= 25) & (age <= 45), "parent",
                                                   "other"))
    return age, role


def test_a_label_may_hold_a_band_of_a_number(tmp_path):
    """A label column was a line in each number's normal score, so a category could hold an
    end of a number's range, not a band in the middle with another category on both sides
    (the parents of a children's hospital between its patients and the older staff)."""
    rng = np.random.default_rng(0)
    age, role = _ages_and_roles(rng)
    frame = pd.DataFrame({"age": age, "role": role, "visits": rng.poisson(3, 3000)})
    gen = GaussianCopula().fit(frame, random_state=0)
    gen.save(tmp_path / "model")
    synth = load_generator(tmp_path / "model").sample(3000, random_state=1)
    pd.testing.assert_frame_equal(synth, gen.sample(3000, random_state=1))
    middle = synth["age"].between(28, 42)
    older = synth["age"].between(50, 80)
    assert (synth.loc[middle, "role"] == "parent").mean() > 0.85
    assert (synth.loc[older, "role"] == "other").mean() > 0.85
    assert (synth.loc[synth["age"] < 16, "role"] == "patient").mean() > 0.9


@pytest.mark.parametrize("flag", [np.array([0, 1]), np.array([False, True]),
                                  np.array(["no", "yes"])])
def test_a_yes_no_column_may_hold_a_band_of_a_number(tmp_path, flag):
    """A yes/no column had one latent correlation with each number, a line: a flag set for
    the middle of a number's range and clear at both ends (a hospital's drive-through, used
    by its staff of working age but neither by its patients nor by its older clients) came
    out at one middling share at every age (0.39 of rows aged 30-55)."""
    rng = np.random.default_rng(0)
    age = rng.uniform(0, 90, 3000).round(1)
    working = (age >= 25) & (age <= 60)
    drive = np.where(rng.uniform(size=3000) < np.where(working, 0.95, 0.03), flag[1], flag[0])
    frame = pd.DataFrame({"age": age, "drive_through": drive, "visits": rng.poisson(3, 3000)})
    gen = GaussianCopula().fit(frame, random_state=0)
    gen.save(tmp_path / "model")
    synth = load_generator(tmp_path / "model").sample(3000, random_state=1)
    pd.testing.assert_frame_equal(synth, gen.sample(3000, random_state=1))
    assert synth["drive_through"].dtype == frame["drive_through"].dtype
    used = synth["drive_through"] == flag[1]
    assert used[synth["age"].between(30, 55)].mean() > 0.85
    assert used[synth["age"] < 20].mean() < 0.12
    assert used[synth["age"] > 65].mean() < 0.12


def test_conditioning_on_a_yes_no_column_keeps_the_other_labels_chained():
    """A condition on a chained column keeps the links before it as the copula drew them (a
    link cannot see a later one), so a yes/no column asked for by an augmentation (a rare
    outcome, a group) must not come after the labels it would leave unchained."""
    rng = np.random.default_rng(0)
    age, role = _ages_and_roles(rng)
    flag = rng.uniform(size=3000) < 0.2
    frame = pd.DataFrame({"age": age, "role": role, "flag": flag})
    synth = GaussianCopula().fit(frame, random_state=0).sample(
        3000, conditions={"flag": True}, random_state=1)
    assert synth["flag"].all()
    middle = synth["age"].between(28, 42)
    assert (synth.loc[middle, "role"] == "parent").mean() > 0.85
