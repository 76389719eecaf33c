"""Full releases: only synthetic records, none copied; the privacy filter keeps records away."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import NotFittedError, ParameterError, SynthmedError, get_generator, infer_schema
from synthmed.generators.base import row_hashes
from synthmed.modes import DistanceFilter, Release, release_full
from synthmed.split import train_holdout_split


@pytest.fixture(scope="module")
def fitted():
    frame = make_mixed_frame(400)
    schema = infer_schema(frame, target="died", sensitive=["sex"])
    train, holdout = train_holdout_split(frame, stratify="died", random_state=0)
    gen = get_generator("bayesian_network").fit(train, schema=schema, random_state=0)
    return gen, train, holdout, schema


def _copies(release: Release, train: pd.DataFrame, gen) -> int:
    names = gen.schema_.names
    known = row_hashes(train[names], gen.schema_, "k")
    return int(np.isin(row_hashes(release.data[names], gen.schema_, "k"), known).sum())


def test_full_release_holds_only_synthetic_records(fitted):
    gen, train, _, schema = fitted
    release = release_full(gen, 300, train=train, schema=schema, random_state=1)
    assert len(release) == 300 and release.mode == "full"
    assert release.counts() == {"real": 0, "partial": 0, "synthetic": 300}
    assert (release.source_index == -1).all()
    assert _copies(release, train, gen) == 0
    assert list(release.data.columns) == gen.schema_.names  # identifiers are never released
    assert release.stats["filter"] is None


def test_same_seed_same_release(fitted):
    gen, train, _, schema = fitted
    a = release_full(gen, 50, train=train, schema=schema, min_distance=0.3, random_state=3)
    b = release_full(gen, 50, train=train, schema=schema, min_distance=0.3, random_state=3)
    pd.testing.assert_frame_equal(a.data, b.data)


def test_min_distance_filter_removes_close_records(fitted):
    gen, train, _, schema = fitted
    bound = 0.6
    release = release_full(gen, 200, train=train, schema=schema, min_distance=bound,
                           random_state=0)
    dfilter = DistanceFilter(train[gen.schema_.names], gen.schema_)
    assert dfilter.dcr(release.data).min() >= bound
    # the unfiltered first draw had close records, and the stats say what was rejected
    assert (dfilter.dcr(release.unfiltered) < bound).any()
    stats = release.stats
    assert stats["rejected"] > 0 and stats["drawn"] == stats["rejected"] + 200
    assert stats["median_dcr_released"] > stats["median_dcr_unfiltered"]
    assert _copies(release, train, gen) == 0


@pytest.mark.parametrize("use_holdout", [True, False])
def test_dcr_quantile_filter(fitted, use_holdout):
    gen, train, holdout, schema = fitted
    release = release_full(gen, 150, train=train, schema=schema, dcr_quantile=0.2,
                           holdout=holdout if use_holdout else None, random_state=0)
    dfilter = DistanceFilter(train[gen.schema_.names], gen.schema_)
    ref = dfilter.dcr(holdout) if use_holdout else dfilter.leave_one_out()
    assert release.stats["threshold"] == pytest.approx(np.quantile(ref, 0.2))
    assert release.stats["reference"] == ("holdout_to_train" if use_holdout
                                          else "train_leave_one_out")
    assert dfilter.dcr(release.data).min() >= release.stats["threshold"]


def test_impossible_filter_raises(fitted):
    gen, train, _, schema = fitted
    with pytest.raises(SynthmedError, match="privacy filter kept only"):
        release_full(gen, 20, train=train, schema=schema, min_distance=50.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"min_distance": 0.1, "dcr_quantile": 0.1}, "not both"),
    ({"min_distance": -1.0}, "min_distance"),
    ({"min_distance": float("nan")}, "min_distance"),
    ({"dcr_quantile": 1.0}, "dcr_quantile"),
    ({"dcr_quantile": 0}, "dcr_quantile"),
])
def test_bad_filter_options(fitted, kwargs, match):
    gen, train, _, schema = fitted
    with pytest.raises(ParameterError, match=match):
        release_full(gen, 10, train=train, schema=schema, **kwargs)


def test_bad_inputs(fitted):
    gen, train, _, _ = fitted
    with pytest.raises(ParameterError, match="`n` must be a positive integer"):
        release_full(gen, 0, train=train)
    with pytest.raises(NotFittedError):
        release_full(get_generator("gaussian_copula"), 10, train=train)
    with pytest.raises(ParameterError, match="generator"):
        release_full("gaussian_copula", 10, train=train)  # type: ignore[arg-type]


def test_modes_public_names():
    import synthmed.modes as modes

    assert len(set(modes.__all__)) == len(modes.__all__)
    for name in modes.__all__:
        obj = getattr(modes, name)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__ and "Examples" in obj.__doc__, name
