"""Model-specific tests of the neural autoregressive generator (conformance covers the rest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from synthmed.generators.base import load_generator
from synthmed.generators.tabular.autoregressive import NeuralAutoregressive

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def fitted(pbc_split):
    train, _, schema = pbc_split
    gen = NeuralAutoregressive(max_epochs=60).fit(train, schema=schema, random_state=0)
    return gen, gen.sample(3000, random_state=1)


def _numeric(gen: NeuralAutoregressive) -> list[str]:
    return [c.name for c in gen.schema_.columns if c.kind in ("numeric", "integer")]


@pytest.mark.slow
def test_marginals_close_to_training(pbc_split, fitted):
    train, holdout, _ = pbc_split
    gen, synth = fitted
    for col in _numeric(gen):
        ks_synth = ks_2samp(synth[col].dropna(), train[col].dropna()).statistic
        ks_holdout = ks_2samp(holdout[col].dropna(), train[col].dropna()).statistic
        assert ks_synth < max(1.5 * ks_holdout, 0.1), col
    # trig's missing rate (0.30 in train) comes out near 0.24-0.25 whatever the random stream:
    # early stopping on 270 rows keeps only part of the "non-trial patient" pattern
    assert (train.isna().mean()[synth.columns] - synth.isna().mean()).abs().max() < 0.07


@pytest.mark.slow
def test_associations_preserved(fitted):
    _, synth = fitted
    # the strongest real association (Spearman 0.63 on all of pbc_split) keeps its sign; on 270
    # training rows early stopping keeps only part of its size (about 0.25)
    assert synth[["bili", "copper"]].corr("spearman").iloc[0, 1] > 0.15
    # pbc_split's non-trial patients miss every trial measure together
    assert (synth["trt"].isna() == synth["ascites"].isna()).mean() > 0.9


@pytest.mark.slow
def test_conditioning_honoured_and_shifts_outcomes(fitted):
    gen, _ = fitted
    dead = gen.sample(2000, conditions={"status": 2}, random_state=0)
    censored = gen.sample(2000, conditions={"status": 0}, random_state=0)
    assert (dead["status"] == 2).all() and (censored["status"] == 0).all()
    # in the real data, patients who died had higher bilirubin and shorter follow-up; status
    # comes after time in the column order, so this needs the any-order conditionals
    assert dead["bili"].median() > 1.3 * censored["bili"].median()
    assert dead["time"].median() < censored["time"].median()


@pytest.mark.slow
def test_per_row_numeric_conditions(fitted):
    gen, _ = fitted
    bili = np.r_[np.full(500, 0.5), np.full(500, 10.0)]
    synth = gen.sample(1000, conditions=pd.DataFrame({"bili": bili}), random_state=0)
    assert np.allclose(synth["bili"], bili)
    low, high = synth.iloc[:500], synth.iloc[500:]
    # real: 25% died with bili <= 3, 70% above; the model keeps the direction
    assert (high["status"] == 2).mean() > (low["status"] == 2).mean() + 0.03


def test_time_budget_stops_training(pbc_split):
    train, _, schema = pbc_split
    gen = NeuralAutoregressive(max_epochs=500, patience=500, hidden_size=16,
                               time_budget_s=1e-6).fit(train, schema=schema)
    assert gen.n_epochs_ == 1 and gen.stopped_by_ == "time_budget"
    free = NeuralAutoregressive(max_epochs=3, patience=500, hidden_size=16)
    free.fit(train, schema=schema)
    assert free.n_epochs_ == 3 and free.stopped_by_ == "max_epochs"


def test_early_stopping_keeps_best_epoch(pbc_split):
    train, _, schema = pbc_split
    gen = NeuralAutoregressive(max_epochs=200, patience=3, hidden_size=32,
                               learning_rate=1e-2).fit(train, schema=schema)
    assert gen.stopped_by_ == "early_stopping"
    assert gen.best_epoch_ == gen.n_epochs_ - 3
    val = [v for _, v in gen.history_]
    assert val[gen.best_epoch_ - 1] == min(val)


def test_save_load_round_trip(pbc_split, tmp_path):
    train, _, schema = pbc_split
    gen = NeuralAutoregressive(max_epochs=3, hidden_size=32).fit(train, schema=schema)
    loaded = load_generator(gen.save(tmp_path / "m"))
    assert isinstance(loaded, NeuralAutoregressive)
    assert (loaded.n_epochs_, loaded.stopped_by_) == (gen.n_epochs_, gen.stopped_by_)
    cond = {"sex": "m"}
    pd.testing.assert_frame_equal(loaded.sample(200, conditions=cond, random_state=3),
                                  gen.sample(200, conditions=cond, random_state=3))
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as npz:
        weights = [k for k in npz.files if k.startswith("net.")]
        assert weights and all(npz[k].dtype == np.float32 for k in weights)


def test_torch_global_state_untouched(pbc_split):
    import torch

    train, _, schema = pbc_split
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    NeuralAutoregressive(max_epochs=2, hidden_size=16).fit(train, schema=schema).sample(10)
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_incremental_first_layer_matches_the_network():
    import torch

    from synthmed.generators.tabular._ar_network import ArNet, _first_layer_tables

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = ArNet([3, 5, 2, 7], embedding_dim=4, hidden_size=8, n_layers=2, dropout=0.0)
    rng = np.random.default_rng(0)
    tokens = torch.as_tensor(np.column_stack([rng.integers(0, v, 50) for v in net.vocab]))
    known = torch.as_tensor(rng.random((50, 4)) < 0.5)
    with torch.no_grad():
        shown = torch.where(known, tokens, net.hidden_token)
        tables = _first_layer_tables(net)
        summed = net.inp.bias + sum(tables[j][shown[:, j]] for j in range(4))
        full = net.inp(net.embed(shown + net.offsets).flatten(1))
    assert torch.allclose(summed, full, atol=1e-5)


def test_sampling_matches_the_conditionals_and_is_reproducible(fitted):
    from synthmed.generators.tabular._ar_network import SAMPLE_CHUNK

    gen, _ = fitted
    n = SAMPLE_CHUNK + 500  # more than one chunk
    first = gen.sample(n, random_state=4)
    pd.testing.assert_frame_equal(first, gen.sample(n, random_state=4))
    assert not first.equals(gen.sample(n, random_state=5))
    # the first column is drawn from the network's marginal p(status | nothing known)
    import torch

    from synthmed.generators.tabular._ar_network import torch_session

    net, coder = gen._net_, gen._coders_[0]
    with torch_session(), torch.no_grad():
        hidden = torch.zeros((1, len(net.vocab)), dtype=torch.long)
        probs = torch.softmax(net.logits(net.features(hidden, hidden.bool()), 0), 1)[0]
    drawn = np.bincount(coder.encode(first[gen._names_[0]]), minlength=net.vocab[0]) / n
    assert np.abs(drawn - probs.numpy()).max() < 0.02


def test_columns_missing_together_are_drawn_missing_together(pbc_split, fitted):
    from synthmed.generators.tabular._missing_blocks import missing_together

    frame = pd.DataFrame({"a": [1.0, None, 3.0, None], "b": ["x", None, "y", None],
                          "c": [None, 1.0, 2.0, None], "d": [5.0, None, 6.0, None]})
    assert missing_together(frame) == [-1, 0, -1, 0]  # c's gaps are on other rows
    # pbc's trt, ascites, hepato and spiders are missing for the same patients in train:
    # a synthetic row never has some of them and not the others
    train, _, _ = pbc_split
    block = ["trt", "ascites", "hepato", "spiders"]
    assert set(train[block].isna().sum(axis=1)) == {0, 4}
    _, synth = fitted
    assert set(synth[block].isna().sum(axis=1)) == {0, 4}
    assert abs(synth["trt"].isna().mean() - train["trt"].isna().mean()) < 0.07
