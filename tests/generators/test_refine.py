"""Discriminator refinement: exact tree export, and a draw that moves toward the real rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from _data import make_mixed_frame
from synthmed import get_generator, infer_schema, load_generator
from synthmed.generators.tabular._refine import Refiner, TreeEnsemble


def _with_missing(rng: np.random.Generator, rows: int) -> np.ndarray:
    x = rng.normal(size=(rows, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


def test_tree_export_predicts_exactly_like_scikit_learn():
    rng = np.random.default_rng(0)
    x = _with_missing(rng, 2000)
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) ** 2 > 1).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15).fit(x, y)
    trees = TreeEnsemble.from_sklearn(model)
    fresh = _with_missing(rng, 3000)
    np.testing.assert_allclose(trees.decision(fresh), model.decision_function(fresh), atol=1e-12)
    again = TreeEnsemble.from_arrays(trees.to_arrays("t_"), "t_")
    np.testing.assert_array_equal(again.decision(fresh), trees.decision(fresh))


def test_tree_arrays_that_point_outside_their_nodes_are_refused():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    model = HistGradientBoostingClassifier(max_iter=3).fit(x, (x[:, 0] > 0).astype(int))
    arrays = TreeEnsemble.from_sklearn(model).to_arrays("")
    arrays["left"] = arrays["left"] + 10_000
    with pytest.raises(ValueError, match="outside"):
        TreeEnsemble.from_arrays(arrays, "")


def _quadrant_table(rows: int, seed: int) -> pd.DataFrame:
    """``group`` says whether a and b lie on the same side of their medians: a rule no
    column-pair model can hold (each pair alone is independent)."""
    rng = np.random.default_rng(seed)
    a, b = rng.gamma(2.0, 10.0, rows).round(1), rng.gamma(3.0, 5.0, rows).round(1)
    return pd.DataFrame({"a": a, "b": b, "group": _rule(a, b)})


def _rule(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where((a > 16.8) == (b > 13.4), "same", "apart")


def _rule_kept(frame: pd.DataFrame) -> float:
    return float(np.mean(frame["group"].to_numpy() == _rule(frame["a"], frame["b"])))


def test_refinement_restores_a_rule_the_generator_misses():
    train = _quadrant_table(3000, seed=2)
    schema = infer_schema(train)
    copula = get_generator("gaussian_copula").fit(train, schema=schema, random_state=0)
    rng = np.random.default_rng(3)
    refiner = Refiner.fit(train, copula.sample(3000, random_state=4), schema, rng)
    plain = copula.sample(2000, random_state=5)
    pool = copula.sample(8000, random_state=6)
    refined = pool.iloc[refiner.choose(pool, 4, rng)]
    assert len(refined) == 2000 and refined.index.is_unique
    assert _rule_kept(refined) > _rule_kept(plain) + 0.1


def test_nothing_to_refine_when_the_classifier_cannot_confirm_a_difference():
    # two samples of one distribution: any split a classifier finds is noise in the training
    # rows, and following it would pull the draw toward those rows
    train = _quadrant_table(400, seed=9)
    schema = infer_schema(train)
    assert Refiner.fit(train, _quadrant_table(400, seed=10), schema,
                       np.random.default_rng(0)) is None
    copula = get_generator("gaussian_copula").fit(train, schema=schema, random_state=0)
    assert Refiner.fit(train, copula.sample(400, random_state=1), schema,
                       np.random.default_rng(0)) is not None


@pytest.fixture(scope="module")
def always_refined():
    # the copula misses the quadrant rule: something a classifier confirms on held-out rows
    frame = _quadrant_table(600, seed=7)
    frame["sex"] = np.random.default_rng(1).choice(["f", "m"], len(frame))
    return get_generator("auto", candidates=["gaussian_copula"], selection_rows=600,
                         refine="always").fit(frame, random_state=0)


def test_auto_records_the_refinement_and_saves_it(always_refined, tmp_path):
    choice = always_refined.choice_
    assert choice["refined"] is True and "refinement kept" in choice["reason"]
    assert set(choice["refinement"]["gaussian_copula"]) >= {"detection_auc", "dcr_share", "loss"}
    loaded = load_generator(always_refined.save(tmp_path / "m"))
    assert loaded.refiner_ is not None
    pd.testing.assert_frame_equal(loaded.sample(80, random_state=2),
                                  always_refined.sample(80, random_state=2))


def test_refined_sampling_keeps_conditions(always_refined):
    out = always_refined.sample(40, conditions={"sex": "f"}, random_state=3)
    assert len(out) == 40 and (out["sex"] == "f").all()


def test_no_refinement_when_asked_or_on_a_large_table():
    frame = make_mixed_frame(300)
    never = get_generator("auto", candidates=["gaussian_copula"], selection_rows=200,
                          refine="never").fit(frame, random_state=0)
    assert never.choice_["refined"] is False and never.refiner_ is None
    large = get_generator("auto", candidates=["gaussian_copula"], selection_rows=200,
                          max_fit_rows=150, refine="always").fit(frame, random_state=0)
    assert large.choice_["refined"] is False
    assert "no refinement on a table larger than max_fit_rows" in large.choice_["reason"]


def test_outcome_redraw_restores_the_targets_dependence():
    from synthmed.generators.tabular._outcome import OutcomeModel

    rng = np.random.default_rng(8)
    x = rng.normal(size=(2000, 2))
    frame = pd.DataFrame({"x1": x[:, 0].round(2), "x2": x[:, 1].round(2),
                          "sick": np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")})
    schema = infer_schema(frame, target="sick")
    model = OutcomeModel.fit(frame, schema, rng)
    shuffled = frame.assign(sick=rng.permutation(frame["sick"].to_numpy()))
    shuffled.loc[:9, "sick"] = None  # a missing target stays missing
    redrawn = model.redraw(shuffled, rng)
    truth = np.where(shuffled["x1"] + 0.5 * shuffled["x2"] > 0, "yes", "no")
    assert redrawn["sick"].iloc[:10].isna().all()
    agree = np.mean(redrawn["sick"].iloc[10:].to_numpy() == truth[10:])
    assert agree > 0.85 and np.mean(shuffled["sick"].iloc[10:].to_numpy() == truth[10:]) < 0.6


def test_auto_target_redraw_is_saved_and_respects_a_given_target(pbc_split, tmp_path):
    train, _, schema = pbc_split
    cols = list(schema.modelled_columns)
    gen = get_generator("auto", candidates=["gaussian_copula"], selection_rows=300,
                        refine="never", redraw_target="always").fit(
        train[cols], schema=schema.subset(cols), random_state=0)
    assert gen.choice_["target_redrawn"] is True and "target redrawn" in gen.choice_["reason"]
    loaded = load_generator(gen.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.sample(60, random_state=4),
                                  gen.sample(60, random_state=4))
    given = gen.sample(40, conditions={schema.target: 1}, random_state=5)
    assert (given[schema.target] == 1).all()
