"""The evaluation sections produce plot data in the shapes the report draws.

The sections and the report were written separately; this test runs a real evaluation and
checks that every plot the report knows for a section is actually drawn from it.
"""

from __future__ import annotations

import pytest

from synthmed import evaluate, get_generator, load_dataset, train_holdout_split
from synthmed.report.plots import section_plots

EXPECTED = {
    "fidelity": {"columns", "association_diff"},
    "privacy": {"dcr"},
    "utility": {"roc"},
    "clinical": {"forest"},  # logistic odds ratios, and hazard ratios as a second block
    "bias": {"groups"},
}


@pytest.mark.slow
def test_every_section_plot_is_drawn_from_a_real_evaluation():
    data = load_dataset("pbc")
    train, holdout = train_holdout_split(data.frame, stratify="status")
    synthetic = get_generator("gaussian_copula").fit(train, schema=data.schema).sample(len(train))
    result = evaluate(train, holdout, synthetic, data.schema)
    for section, keys in EXPECTED.items():
        blocks = {b.key: b for b in section_plots(section, result.plots[section])}
        assert keys <= set(blocks), (section, sorted(blocks))
        for key in keys:
            assert blocks[key].images and not blocks[key].skipped, (section, key)
    forests = [b for b in section_plots("clinical", result.plots["clinical"])]
    assert len(forests) == 2  # pbc has a classification target and a survival outcome


@pytest.mark.slow
def test_augmentation_plots_are_drawn():
    from synthmed.evaluation.augmentation import evaluate_augmentation
    from synthmed.modes import release_augment

    data = load_dataset("aids")
    train, holdout = train_holdout_split(data.frame, stratify="censor")
    gen = get_generator("bayesian_network").fit(train, schema=data.schema)
    release = release_augment(gen, train, balance="target", schema=data.schema)
    _, plots = evaluate_augmentation(train, release.data, holdout, data.schema)
    blocks = {b.key: b for b in section_plots("augmentation", plots)}
    assert {"roc", "tables"} <= set(blocks)
    assert blocks["roc"].images and not blocks["roc"].skipped
