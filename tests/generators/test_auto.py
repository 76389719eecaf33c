"""The auto generator measures its candidates and keeps the evidence of its choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import get_generator, infer_schema, load_generator


@pytest.fixture(scope="module")
def fitted():
    frame = make_mixed_frame(300)
    return get_generator(
        "auto", candidates=("gaussian_copula", "bayesian_network"), selection_rows=300
    ).fit(frame)


def test_choice_is_recorded_with_scores(fitted):
    choice = fitted.choice_
    assert choice["chosen"] in ("gaussian_copula", "bayesian_network")
    assert choice["repeats"] == 3  # small table: three folds, every row validates once
    scores = {s["generator"]: s for s in choice["scores"]}
    assert set(scores) == {"gaussian_copula", "bayesian_network"}
    for s in scores.values():
        assert 0 <= s["detection_auc"] <= 1 and 0 <= s["dcr_share"] <= 1
    bound = 0.55 + 0.5 / np.sqrt(300)  # the bound plus one standard error (300 rows validate)
    eligible = [s for s in scores.values() if s["dcr_share"] <= bound] or list(scores.values())
    for s in scores.values():  # the loss: detection above 0.5 plus utility lost
        lost = 1 - s["utility_ratio"] if s.get("utility_ratio", 1) < 1 else 0.0
        expected = abs(s["detection_auc"] - 0.5) + lost
        assert s["loss"] == pytest.approx(expected, abs=3e-4)
    plain_best = min(eligible, key=lambda s: (s["loss"], s["dcr_share"]))
    chosen = scores[choice["chosen"]]
    if chosen is not plain_best:
        # a simpler candidate (tried first) that the lowest loss beats by less than the noise,
        # or a runner-up that refinement made better
        gain = np.subtract(chosen["split_losses"], plain_best["split_losses"])
        within_noise = (chosen["generator"] == "gaussian_copula"
                        and gain.mean() <= gain.std(ddof=1) / np.sqrt(3)
                        and "simplest candidate within the noise" in choice["reason"])
        refined_better = choice["refined"] and (
            choice["refinement"][choice["chosen"]]["loss"] < plain_best["loss"])
        assert within_noise or refined_better
    assert type(fitted.inner_).name == choice["chosen"]


def test_time_budget_skips_slow_candidates():
    frame = make_mixed_frame(200)
    gen = get_generator("auto", time_budget_s=0.001,
                        candidates=("gaussian_copula", "neural_ar")).fit(frame)
    skipped = [s for s in gen.choice_["scores"] if "skipped" in s]
    assert [s["generator"] for s in skipped] == ["neural_ar"]
    assert "time budget" in skipped[0]["skipped"]
    assert gen.choice_["chosen"] == "gaussian_copula"


def test_save_load_keeps_the_choice(fitted, tmp_path):
    loaded = load_generator(fitted.save(tmp_path / "m"))
    assert loaded.choice_ == fitted.choice_
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=1),
                                  fitted.sample(50, random_state=1))


def test_large_table_is_fitted_on_a_stratified_sample():
    frame = make_mixed_frame(400)
    schema = infer_schema(frame, target="died")
    gen = get_generator("auto", candidates=["gaussian_copula"], selection_rows=200,
                        max_fit_rows=150).fit(frame, schema=schema)
    choice = gen.choice_
    assert (choice["fit_rows"], choice["train_rows"]) == (150, 400)
    assert "fitted on 150 of 400 training rows" in choice["reason"]
    assert "stratified on 'died'" in choice["reason"]
    # nothing that runs a classifier on every drawn row: such a table is sampled by the million
    assert not choice["refined"] and not choice["target_redrawn"]
    assert "target not redrawn on a table larger than max_fit_rows=150" in choice["reason"]
    # the exact-copy check covers every training row, not only the fitted sample
    assert gen.n_train_rows_ == 400
    assert gen.copies_of_training(frame[gen.schema_.names]).all()


def test_small_table_is_fitted_on_every_row(fitted):
    assert fitted.choice_["fit_rows"] == fitted.choice_["train_rows"] == 300
    assert "fitted on" not in fitted.choice_["reason"]


def test_fit_sample_keeps_each_target_share():
    from synthmed.generators.tabular.auto import _fit_sample

    frame = pd.DataFrame({"y": [True] * 100 + [False] * 850 + [None] * 50, "x": range(1000)})
    part = _fit_sample(frame, 200, "y", np.random.default_rng(0))
    assert len(part) == 200 and part["x"].is_unique
    assert part["y"].value_counts(dropna=False).to_dict() == {False: 170, True: 20, None: 10}
    assert _fit_sample(frame, 1000, "y", np.random.default_rng(0)) is frame


def test_large_table_leaves_out_slow_samplers():
    gen = get_generator("auto", time_budget_s=0.001, selection_rows=100,
                        max_fit_rows=100).fit(make_mixed_frame(300))
    skipped = {s["generator"]: s["skipped"] for s in gen.choice_["scores"] if "skipped" in s}
    assert "too slow to sample a large table" in skipped["neural_ar"]
    assert gen.choice_["chosen"] == "gaussian_copula"


def test_a_table_of_one_repeated_row_is_fitted_not_refused():
    # every candidate draws the one row; scoring it must not fail them all (it did: the
    # detection folds of one group of identical rows were empty)
    frame = pd.DataFrame({"a": [1] * 60, "b": ["x"] * 60})
    gen = get_generator("auto", candidates=["gaussian_copula", "arf"]).fit(frame)
    out = gen.sample(20, random_state=0)
    assert (out["a"] == 1).all() and (out["b"] == "x").all()
    assert gen.choice_["chosen"] in ("gaussian_copula", "arf")


def test_utility_counts_in_the_choice():
    from synthmed.generators.tabular._auto_scoring import selection_loss

    # a candidate that looks real but loses the outcome's signal loses to one that keeps it
    realistic = {"detection_auc": 0.55, "dcr_share": 0.5, "utility_ratio": 0.70}
    useful = {"detection_auc": 0.62, "dcr_share": 0.5, "utility_ratio": 0.99}
    assert selection_loss(useful) < selection_loss(realistic)
    # an AUC below 0.5 (synthetic rows next to the training rows) counts like one above it
    assert selection_loss({"detection_auc": 0.45, "dcr_share": 0.5}) == pytest.approx(0.05)


def test_a_utility_figure_some_splits_lack_still_counts():
    from synthmed.generators.tabular.auto import _mean_scores

    # a rare outcome: one validation split had too few rows of it to score utility
    runs = [{"detection_auc": 0.45, "dcr_share": 0.5, "utility_ratio": 0.43},
            {"detection_auc": 0.44, "dcr_share": 0.5, "utility_ratio": 0.64},
            {"detection_auc": 0.45, "dcr_share": 0.5}]
    assert _mean_scores(runs)["utility_ratio"] == pytest.approx(0.535)
    # one split of three is too little to stand for the others
    assert "utility_ratio" not in _mean_scores([runs[1], runs[2], runs[2]])


def test_utility_ratio_is_scored_on_a_table_with_a_target(pbc_split):
    import numpy as np

    from synthmed.generators.tabular._auto_scoring import score_candidate

    train, holdout, schema = pbc_split
    schema = get_generator("gaussian_copula").fit(train, schema=schema).schema_
    train, holdout = train[schema.names], holdout[schema.names].reset_index(drop=True)
    rng = np.random.default_rng(0)
    itself = score_candidate(train, holdout, train, schema, rng)
    shuffled = train.copy()
    shuffled[schema.target] = rng.permutation(shuffled[schema.target].to_numpy())
    noise = score_candidate(train, holdout, shuffled, schema, rng)
    # the training rows themselves keep the outcome's signal; a shuffled outcome has none
    assert itself["utility_ratio"] > 0.95
    assert noise["utility_ratio"] < itself["utility_ratio"] - 0.15


def test_dcr_bound_is_lifted_only_when_every_private_candidate_is_detectable():
    from synthmed.generators.tabular.auto import _bound_lifted

    copula = {"generator": "gaussian_copula", "detection_auc": 0.47, "dcr_share": 0.59}
    neural = {"generator": "neural_ar", "detection_auc": 0.89, "dcr_share": 0.57}
    forest = {"generator": "arf", "detection_auc": 0.62, "dcr_share": 0.56}
    assert _bound_lifted([neural], [copula, neural])
    assert not _bound_lifted([neural, forest], [copula, neural, forest])
    assert not _bound_lifted([neural], [neural, {**copula, "detection_auc": 0.8}])


def test_dcr_bound_bars_only_a_candidate_measurably_less_private_than_another():
    from synthmed.generators.tabular.auto import _dcr_cut

    def shares(*values: float) -> list[dict[str, float]]:
        return [{"dcr_share": v} for v in values]

    # bound 0.60, noise of a difference 0.1 * sqrt 2 = 0.14: 0.604 is within it of 0.555,
    # 0.75 is not
    cut = _dcr_cut(shares(0.604, 0.556, 0.555, 0.75), bound=0.60, noise=0.1)
    assert cut is not None and 0.604 <= cut < 0.75
    # a candidate within the bound is never barred, whatever the others' shares
    assert _dcr_cut(shares(0.40, 0.60), bound=0.60, noise=0.01) == 0.60
    # nothing within the bound: no cut (the caller falls back to every candidate)
    assert _dcr_cut(shares(0.61, 0.62), bound=0.60, noise=0.1) is None


def test_a_variant_is_kept_only_when_it_wins_beyond_the_noise():
    from synthmed.generators.tabular.auto import _beats, _judge_variant

    # three splits: a gain that one split reverses is within one standard error
    assert not _beats([0.10, 0.12, 0.08], [0.02, 0.13, 0.09])
    assert _beats([0.10, 0.12, 0.08], [0.06, 0.09, 0.05])
    assert not _beats([0.10, 0.12, 0.08], [0.11, 0.13, 0.09])
    # one split (a larger table): any gain counts
    assert _beats([0.10], [0.09]) and not _beats([0.10], [0.10])
    base = {"loss": 0.10, "dcr_share": 0.52, "split_losses": [0.10, 0.12, 0.08]}
    runs = [{"detection_auc": 0.5 + d, "dcr_share": 0.52} for d in (0.02, 0.13, 0.09)]
    scores, kept, verdict = _judge_variant(runs, base, 0.58, "auto")
    assert scores["loss"] < base["loss"] and not kept  # lower on average, but noise
    assert verdict.endswith("within the noise between validation splits")
    assert scores["split_losses"] == pytest.approx([0.02, 0.13, 0.09])
    assert _judge_variant(runs, base, 0.58, "always")[1]
    steady = [{"detection_auc": 0.5 + d, "dcr_share": 0.52} for d in (0.06, 0.09, 0.05)]
    assert _judge_variant(steady, base, 0.58, "auto")[1]
    assert not _judge_variant([{**r, "dcr_share": 0.65} for r in steady], base, 0.58, "auto")[1]
    leaky = _judge_variant([{**r, "dcr_share": 0.65} for r in steady], base, 0.58, "auto")
    assert leaky[2] == "not kept: DCR share above the bound"
    assert _judge_variant(steady, base, 0.58, "auto")[2] == "kept"
    # the target redraw counts any gain, still within the DCR bound
    assert _judge_variant(runs, base, 0.58, "auto", beyond_noise=False)[1]
    worse = [{"detection_auc": 0.5 + d, "dcr_share": 0.52} for d in (0.11, 0.13, 0.09)]
    assert not _judge_variant(worse, base, 0.58, "auto", beyond_noise=False)[1]
    assert not _judge_variant([{**r, "dcr_share": 0.65} for r in runs], base, 0.58, "auto",
                              beyond_noise=False)[1]


def test_tiny_tables_and_sparse_columns_still_fit():
    """medicaldata::scurvy (6 training rows) and laryngoscope (a third attempt recorded for 3
    of 99 patients) ended in "No candidate generator could be fitted": every candidate
    failed on a fitting part too small, or one where the sparse column was empty."""
    rng = np.random.default_rng(0)
    tiny = pd.DataFrame({"arm": list("abcabc"), "cured": [1, 0, 1, 1, 0, 0]})
    gen = get_generator("auto").fit(tiny, schema=infer_schema(tiny), random_state=0)
    assert "too few to fit candidates" in gen.choice_["reason"]
    assert len(gen.sample(10, random_state=0)) == 10
    n = 60
    sparse = pd.DataFrame({"age": rng.integers(20, 80, n), "ok": rng.random(n) < 0.8,
                           "third_try_s": np.where(np.arange(n) == 0, 31.0, np.nan)})
    gen = get_generator("auto").fit(sparse, schema=infer_schema(sparse, target="ok"),
                                    random_state=0)
    assert gen.choice_["repeats"] >= 1 and len(gen.choice_["scores"]) >= 1


@pytest.mark.slow
def test_no_clock_same_seed_same_output_on_any_machine():
    """With a time budget the choice depends on the machine's speed (neural_ar's training
    stops on the clock; slow candidates are skipped). time_budget_s=None reads no clock."""
    frame = make_mixed_frame(200)
    schema = infer_schema(frame, target="died")
    fits = [get_generator("auto", time_budget_s=None).fit(frame, schema=schema, random_state=5)
            for _ in range(2)]
    assert all("skipped" not in s for s in fits[0].choice_["scores"])
    assert len(fits[0].choice_["scores"]) == 4
    pd.testing.assert_frame_equal(fits[0].sample(100, random_state=1),
                                  fits[1].sample(100, random_state=1))
    assert [s["detection_auc"] for s in fits[0].choice_["scores"]] == \
        [s["detection_auc"] for s in fits[1].choice_["scores"]]


def test_only_the_simplest_candidate_is_preferred_within_the_noise():
    """pbc's CLI split: the copula was above the DCR bound, and the network, next in line,
    was kept over the forest's lower loss 'within the noise' (utility ratio 0.69 against
    0.82). The preference is the copula's alone."""
    from synthmed.generators.tabular.auto import _preferred

    network = {"generator": "bayesian_network", "split_losses": [0.321, 0.430, 0.241]}
    forest = {"generator": "arf", "split_losses": [0.095, 0.173, 0.411]}
    neural = {"generator": "neural_ar", "split_losses": [0.136, 0.360, 0.273]}
    assert _preferred([network, forest, neural], forest, "gaussian_copula") is forest
    copula = {"generator": "gaussian_copula", "split_losses": [0.244, 0.184, 0.231]}
    assert _preferred([copula, network, forest], forest, "gaussian_copula") is copula
    beaten = {"generator": "gaussian_copula", "split_losses": [0.40, 0.45, 0.50]}
    assert _preferred([beaten, forest], forest, "gaussian_copula") is forest
