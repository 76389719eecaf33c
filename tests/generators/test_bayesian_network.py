"""Tests specific to the Bayesian network (the shared conformance suite covers the protocol)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import pytest

from synthmed import ParameterError, infer_schema
from synthmed.generators import load_generator
from synthmed.generators.tabular import _bn_sampling, _bn_structure
from synthmed.generators.tabular.bayesian_network import BayesianNetwork


def _undirected(edges: list[tuple[str, str]]) -> set[frozenset[str]]:
    return {frozenset(e) for e in edges}


@pytest.fixture(scope="module")
def pbc_model(pbc):
    return BayesianNetwork().fit(pbc.frame, schema=pbc.schema)


@pytest.fixture(scope="module")
def chain():
    """A -> B -> C, all categorical, with a missing state in C; known to be a chain.

    Every combination occurs in training, so samples use ``allow_copies=True``.
    """
    rng = np.random.default_rng(0)
    n = 6000
    a = rng.choice(["a0", "a1", "a2"], n, p=[0.5, 0.3, 0.2])
    p_b = {"a0": 0.15, "a1": 0.6, "a2": 0.9}
    b = np.where(rng.random(n) < np.vectorize(p_b.get)(a), "b1", "b0")
    c = np.where(rng.random(n) < np.where(b == "b1", 0.8, 0.25), "c1", "c0").astype(object)
    c[rng.random(n) < np.where(b == "b1", 0.02, 0.2)] = np.nan  # missingness depends on B
    frame = pd.DataFrame({"A": a, "B": b, "C": c})
    return frame, BayesianNetwork().fit(frame, schema=infer_schema(frame))


def _exact_posterior(gen: BayesianNetwork, target: str, evidence: dict[str, str]) -> pd.Series:
    """P(target | evidence) by brute-force enumeration of the fitted network's joint."""
    tables = {c: gen.conditional_table(c) for c in gen.order_}
    states = {c: list(tables[c].columns) for c in gen.order_}
    joint: dict[str, float] = {}
    for combo in itertools.product(*states.values()):
        x = dict(zip(states, combo, strict=True))
        if any(x[k] != v for k, v in evidence.items()):
            continue
        p = 1.0
        for c in gen.order_:
            ps = gen.parents_[c]
            row = tuple(x[q] for q in ps) if len(ps) > 1 else (x[ps[0]] if ps else "all")
            p *= tables[c].loc[row, x[c]]
        joint[x[target]] = joint.get(x[target], 0.0) + p
    total = sum(joint.values())
    return pd.Series({k: v / total for k, v in joint.items()})


def test_pbc_marginals_and_missing_rates(pbc, pbc_model):
    real = pbc.frame[pbc_model.schema_.names]
    synth = pbc_model.sample(4000, random_state=0)
    for col in synth.columns:
        assert abs(synth[col].isna().mean() - real[col].isna().mean()) < 0.04, col
        kind = pbc.schema.column(col).kind
        if kind in ("numeric", "integer"):
            q_real = real[col].quantile([0.1, 0.5, 0.9]).to_numpy()
            q_synth = synth[col].quantile([0.1, 0.5, 0.9]).to_numpy()
            spread = q_real[2] - q_real[0]
            assert np.all(np.abs(q_synth - q_real) < 0.15 * spread), col
        else:
            f_real = real[col].value_counts(normalize=True)
            f_synth = synth[col].value_counts(normalize=True).reindex(f_real.index, fill_value=0)
            assert (f_synth - f_real).abs().max() < 0.05, col


def test_missingness_depends_on_parents(chain):
    _, gen = chain
    assert frozenset({"B", "C"}) in _undirected(gen.edges_)
    synth = gen.sample(8000, random_state=1, allow_copies=True)
    for b, rate in (("b1", 0.02), ("b0", 0.2)):
        assert abs(synth.loc[synth["B"] == b, "C"].isna().mean() - rate) < 0.03


def test_structure_recovers_dependence_and_independence():
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.normal(0, 1, n)
    frame = pd.DataFrame({
        "x": x,
        "y": np.sin(2 * x) + x**2 + rng.normal(0, 0.3, n),  # non-linear, non-monotone
        "z": rng.normal(5, 2, n),
        "g": rng.choice(["u", "v", "w"], n),
    })
    gen = BayesianNetwork().fit(frame, schema=infer_schema(frame))
    edges = _undirected(gen.edges_)
    assert frozenset({"x", "y"}) in edges
    assert not [e for e in edges if e & {"z", "g"}]  # independent columns stay unlinked
    assert set(gen.order_) == set(frame.columns)


def test_conditioning_follows_exact_posterior(chain):
    _, gen = chain
    assert gen.parents_ == {"A": [], "B": ["A"], "C": ["B"]} or gen.parents_["A"] == ["B"]
    synth = gen.sample(20000, conditions={"C": "c1"}, random_state=2, allow_copies=True)
    assert (synth["C"] == "c1").all()
    exact = _exact_posterior(gen, "A", {"C": "c1"})
    observed = synth["A"].value_counts(normalize=True).reindex(exact.index)
    assert np.allclose(observed, exact, atol=0.012)
    # The posterior differs from the prior, so the check above has teeth.
    prior = _exact_posterior(gen, "A", {})
    assert (exact - prior).abs().max() > 0.05


def test_conditioning_per_row_and_missing_state(chain, monkeypatch):
    _, gen = chain
    cond = pd.DataFrame({"C": ["c1"] * 6000 + [np.nan] * 6000})
    exact = {"c1": _exact_posterior(gen, "B", {"C": "c1"})["b1"],
             "missing": _exact_posterior(gen, "B", {"C": "missing"})["b1"]}
    synth = gen.sample(12000, conditions=cond, random_state=3, allow_copies=True)
    assert synth["C"].iloc[:6000].eq("c1").all() and synth["C"].iloc[6000:].isna().all()
    assert abs((synth["B"].iloc[:6000] == "b1").mean() - exact["c1"]) < 0.02
    assert abs((synth["B"].iloc[6000:] == "b1").mean() - exact["missing"]) < 0.02
    # The likelihood-weighting path (used for large ancestor sets) agrees with the exact one.
    monkeypatch.setattr(_bn_sampling, "EXACT_MAX_CELLS", 0)
    weighted = gen.sample(12000, conditions=cond, random_state=3, allow_copies=True)
    assert abs((weighted["B"].iloc[:6000] == "b1").mean() - exact["c1"]) < 0.025
    assert abs((weighted["B"].iloc[6000:] == "b1").mean() - exact["missing"]) < 0.025


def test_numeric_condition_keeps_value_and_shifts_others(pbc, pbc_model):
    high = pbc_model.sample(2000, conditions={"bili": 20.0}, random_state=0)
    assert (high["bili"] == 20.0).all()
    base = pbc_model.sample(2000, random_state=0)
    assert (high["status"] == 2).mean() > (base["status"] == 2).mean() + 0.2
    with pytest.raises(ParameterError, match="never seen"):
        pbc_model.sample(5, conditions={"sex": "x"})


def test_dp_mode_adds_noise_to_counts():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.choice(["p", "q", "r"], 500, p=[0.6, 0.3, 0.1]),
                          "v": rng.gamma(2.0, 3.0, 500)})
    schema = infer_schema(frame)
    exact = BayesianNetwork().fit(frame, schema=schema).conditional_table("a")
    noisy = [BayesianNetwork(epsilon=0.05, max_parents=0).fit(frame, schema=schema,
                                                              random_state=s)
             for s in (0, 1)]
    tables = [g.conditional_table("a") for g in noisy]
    assert not np.allclose(tables[0], tables[1], atol=1e-3)  # fresh noise per fit
    assert np.abs(tables[0].to_numpy() - exact.to_numpy()).max() > 1e-3
    loose = BayesianNetwork(epsilon=1e6, max_parents=0).fit(frame, schema=schema)
    assert np.allclose(loose.conditional_table("a"), exact, atol=0.01)
    synth = noisy[0].sample(300, random_state=0)
    assert synth["v"].between(frame["v"].min(), frame["v"].max()).all()


def test_dp_fit_on_pbc_runs(pbc):
    gen = BayesianNetwork(epsilon=1.0).fit(pbc.frame, schema=pbc.schema, random_state=0)
    synth = gen.sample(500, conditions={"sex": "m"}, random_state=0)
    assert (synth["sex"] == "m").all() and list(synth.columns) == gen.schema_.names


def test_high_cardinality_column_is_fast_and_pooled():
    rng = np.random.default_rng(5)
    n = 20000
    codes = np.minimum(rng.zipf(1.3, n), 2000)
    frame = pd.DataFrame({"code": [f"k{c:04d}" for c in codes],
                          "dose": rng.normal(codes % 7, 1.0, n)})
    started = time.perf_counter()
    gen = BayesianNetwork(max_categories=30).fit(frame, schema=infer_schema(frame))
    synth = gen.sample(n, random_state=0)
    assert time.perf_counter() - started < 5.0
    assert len(gen.conditional_table("code").columns) == 30  # 29 kept + "other"
    assert set(synth["code"]) <= set(frame["code"])
    real_top = frame["code"].value_counts(normalize=True)
    synth_top = synth["code"].value_counts(normalize=True).reindex(real_top.index[:5])
    assert np.allclose(synth_top, real_top.iloc[:5], atol=0.02)
    rare = frame["code"].value_counts().index[-1]  # pooled in "other", still a valid condition
    assert (gen.sample(10, conditions={"code": rare}, random_state=0)["code"] == rare).all()


def test_save_load_keeps_structure_and_conditional_samples(pbc_model, tmp_path):
    pbc_model.save(tmp_path / "bn")
    loaded = load_generator(tmp_path / "bn")
    assert loaded.edges_ == pbc_model.edges_
    cond = {"status": 2, "sex": "f"}
    pd.testing.assert_frame_equal(loaded.sample(300, conditions=cond, random_state=5),
                                  pbc_model.sample(300, conditions=cond, random_state=5))


def test_conditional_tables_are_distributions(pbc_model):
    for col in pbc_model.order_:
        table = pbc_model.conditional_table(col)
        assert np.allclose(table.sum(axis=1), 1.0)
        assert list(table.index.names) == (pbc_model.parents_[col] or [None])
    with pytest.raises(ParameterError, match="not modelled"):
        pbc_model.conditional_table("id")


def _scan_every_candidate(codes, cards, max_parents):
    """The exact greedy BIC search written plainly: at each step score every (child, parent
    set) pair and keep the first best, as the search did before it became incremental."""
    n, d = codes.shape
    cap = max(_bn_structure.CELLS_PER_ROW * n, _bn_structure.MIN_CELL_CAP)
    penalty = 0.5 * np.log(max(n, 2))

    def ll(c, ps):
        return _bn_structure._log_likelihood(_bn_structure.family_counts(codes, cards, c, ps))

    def gain(c, ps):
        q = int(np.prod([cards[p] for p in ps])) if ps else 1
        return ll(c, ps) - ll(c, ()) - penalty * (cards[c] - 1) * (q - 1)

    def fits(c, ps):
        return not ps or cards[c] * np.prod([cards[p] for p in ps]) <= cap

    pairs = [(gain(c, (p,)), -c) for c in range(d) for p in range(d) if p != c and fits(c, (p,))]
    placed = [-max(pairs)[1] if pairs else 0]
    order = [(placed[0], ())]
    while len(placed) < d:
        cands = [(c, ps) for c in range(d) if c not in placed
                 for size in range(min(max_parents, len(placed)) + 1)
                 for ps in itertools.combinations(sorted(placed), size) if fits(c, ps)]
        child, parents = cands[int(np.argmax([gain(c, ps) for c, ps in cands]))]
        order.append((child, parents))
        placed.append(child)
    return order


@pytest.mark.parametrize("seed", range(6))
def test_incremental_structure_search_matches_a_full_scan(seed):
    """Only the parent sets holding the node just placed are scored at each step (168
    columns: 216 s -> 27 s); the network found must be the one a full scan finds, ties
    included (copied columns give equal gains)."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(30, 200)), int(rng.integers(3, 14))
    cards = rng.integers(1, 6, d)
    codes = np.column_stack([rng.integers(0, c, n) for c in cards])
    for j in range(1, d):  # chains and exact copies: dependence and ties
        if rng.random() < 0.5:
            codes[:, j] = np.minimum(codes[:, j - 1], cards[j] - 1)
    for max_parents in (1, 2, 3):
        found = _bn_structure.learn_structure(codes, cards, max_parents, rng)
        assert found == _scan_every_candidate(codes, cards, max_parents)
