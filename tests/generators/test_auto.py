"""The auto generator measures its candidates and keeps the evidence of its choice."""

from __future__ import annotations

import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import get_generator, load_generator


@pytest.fixture(scope="module")
def fitted():
    frame = make_mixed_frame(300)
    return get_generator(
        "auto", candidates=("gaussian_copula", "bayesian_network"), selection_rows=300
    ).fit(frame)


def test_choice_is_recorded_with_scores(fitted):
    choice = fitted.choice_
    assert choice["chosen"] in ("gaussian_copula", "bayesian_network")
    assert choice["repeats"] == 2  # small table: two validation splits
    scores = {s["generator"]: s for s in choice["scores"]}
    assert set(scores) == {"gaussian_copula", "bayesian_network"}
    for s in scores.values():
        assert 0 <= s["detection_auc"] <= 1 and 0 <= s["dcr_share"] <= 1
    eligible = [s for s in scores.values() if s["dcr_share"] <= 0.55] or list(scores.values())
    assert choice["chosen"] == min(eligible, key=lambda s: s["detection_auc"])["generator"]
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
