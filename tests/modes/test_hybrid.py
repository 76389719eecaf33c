"""Hybrid releases: provenance is exact, kept columns are untouched, synthetic rows are new."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _data import make_mixed_frame
from synthmed import ParameterError, SchemaError, get_generator, infer_schema
from synthmed.generators.base import row_hashes
from synthmed.modes import release_mix, release_partial, with_provenance, write_release


@pytest.fixture(scope="module")
def setup():
    frame = make_mixed_frame(300)
    schema = infer_schema(frame, target="died", sensitive=["sex"])
    gen = get_generator("bayesian_network").fit(frame, schema=schema, random_state=0)
    return gen, frame, schema


def test_partial_keeps_columns_and_replaces_only_synthesized(setup):
    gen, frame, schema = setup
    synth = ["bili", "stage"]
    release = release_partial(gen, frame, synthesize=synth, schema=schema, random_state=0)
    names = gen.schema_.names
    assert release.counts() == {"real": 0, "partial": len(frame), "synthetic": 0}
    np.testing.assert_array_equal(release.source_index, np.arange(len(frame)))
    kept = [c for c in names if c not in synth]
    source = frame[names].iloc[release.source_index].reset_index(drop=True)
    pd.testing.assert_frame_equal(release.data[kept], source[kept])  # byte-identical
    assert release.stats["conditioned_on"] == kept
    for col in synth:
        new, old = release.data[col], source[col]
        changed = ~((new == old) | (new.isna() & old.isna()))
        assert changed.mean() > 0.3
        assert release.stats["changed_share"][col] == pytest.approx(changed.mean())


def test_partial_values_follow_the_kept_columns(setup):
    """Conditional sampling: the synthesized stage keeps its link with death."""
    gen, frame, schema = setup
    release = release_partial(gen, frame, synthesize=["died"], schema=schema,
                              condition_on=["stage"], random_state=0)
    assert release.stats["conditioned_on"] == ["stage"]
    late = frame["stage"] >= 3
    rates = release.data.groupby(late.to_numpy())["died"].mean()
    assert rates[True] > rates[False]


@pytest.mark.parametrize("synthesize, error, match", [
    (["patient_id"], SchemaError, "identifier"),
    (["nope"], SchemaError, "not a modelled column"),
    ([], ParameterError, "at least one column"),
])
def test_partial_bad_columns(setup, synthesize, error, match):
    gen, frame, schema = setup
    with pytest.raises(error, match=match):
        release_partial(gen, frame, synthesize=synthesize, schema=schema)


def test_partial_all_columns_is_refused(setup):
    gen, frame, schema = setup
    with pytest.raises(ParameterError, match="full release"):
        release_partial(gen, frame, synthesize=gen.schema_.names, schema=schema)


def test_mix_provenance_is_exact(setup):
    gen, frame, _ = setup
    release = release_mix(gen, frame, real_fraction=0.4, n=250, random_state=2)
    names = gen.schema_.names
    assert release.counts() == {"real": 100, "partial": 0, "synthetic": 150}
    real = (release.provenance == "real").to_numpy()
    np.testing.assert_array_equal(real, release.source_index >= 0)
    source = frame[names].iloc[release.source_index[real]].reset_index(drop=True)
    pd.testing.assert_frame_equal(release.data[real].reset_index(drop=True), source)
    assert len(set(release.source_index[real])) == 100  # no real row twice
    hashes = row_hashes(release.data[~real], gen.schema_, "k")
    assert not np.isin(hashes, row_hashes(frame[names], gen.schema_, "k")).any()
    assert not real[:100].all()  # shuffled: position does not reveal provenance


def test_mix_of_a_coarse_table_keeps_common_records():
    """Few coarse columns: most fresh records equal a real one (survival::prostateSurvival's
    mix failed after 25 redraw rounds). Common records are no copies; the mix completes."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"grade": rng.choice(["low", "high"], 600),
                          "stage": rng.choice(["T1", "T2", "T3", "T4"], 600),
                          "died": rng.random(600) < 0.3})
    schema = infer_schema(frame, target="died")
    gen = get_generator("gaussian_copula").fit(frame, schema=schema, random_state=0)
    release = release_mix(gen, frame, real_fraction=0.5, n=400, random_state=0)
    assert release.counts() == {"real": 200, "partial": 0, "synthetic": 200}


@pytest.mark.parametrize("fraction, n_real", [(0.0, 0), (1.0, 300)])
def test_mix_extremes(setup, fraction, n_real):
    gen, frame, _ = setup
    release = release_mix(gen, frame, real_fraction=fraction, random_state=0)
    assert release.counts()["real"] == n_real and len(release) == len(frame)


@pytest.mark.parametrize("kwargs, match", [
    ({"real_fraction": 1.5}, r"\[0, 1\]"),
    ({"real_fraction": -0.1}, r"\[0, 1\]"),
    ({"real_fraction": True}, r"\[0, 1\]"),
    ({"real_fraction": 0.9, "n": 1000}, "needs 900 real rows"),
])
def test_mix_bad_input(setup, kwargs, match):
    gen, frame, _ = setup
    with pytest.raises(ParameterError, match=match):
        release_mix(gen, frame, **kwargs)


def test_write_release_column_and_sidecar(setup, tmp_path):
    gen, frame, _ = setup
    release = release_mix(gen, frame, real_fraction=0.5, n=40, random_state=0)
    files = write_release(release, tmp_path / "out", column="origin")
    table = pd.read_csv(files["release.csv"])
    assert table["origin"].tolist() == release.provenance.astype(str).tolist()
    files = write_release(release, tmp_path / "out", provenance="sidecar")
    assert set(files) == {"release.csv", "release_provenance.csv"}
    assert "provenance" not in pd.read_csv(files["release.csv"]).columns
    side = pd.read_csv(files["release_provenance.csv"])
    assert side["row"].tolist() == list(range(40))
    assert side["provenance"].tolist() == release.provenance.astype(str).tolist()
    # back to a column: the stale sidecar goes
    write_release(release, tmp_path / "out")
    assert not (tmp_path / "out" / "release_provenance.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left


def test_provenance_column_cannot_overwrite_data(setup):
    gen, frame, _ = setup
    release = release_mix(gen, frame, real_fraction=0.5, n=10, random_state=0)
    with pytest.raises(ParameterError, match="overwrite"):
        with_provenance(release, "age")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gaussian_copula", "bayesian_network"])
def test_partial_on_bundled_data_with_every_generator(name):
    from synthmed import load_dataset

    data = load_dataset("aids")
    gen = get_generator(name).fit(data.frame, schema=data.schema, random_state=0)
    release = release_partial(gen, data.frame, synthesize=["cd4", "raceth"], schema=data.schema)
    kept = [c for c in gen.schema_.names if c not in ("cd4", "raceth")]
    pd.testing.assert_frame_equal(release.data[kept], data.frame[kept])
    assert not release.data[["cd4", "raceth"]].isna().any().any()  # the source has none
