"""``auto``: pick the tabular generator that fits *this* table best, within a time budget.

No single generator wins everywhere (measured in benchmarks/RESULTS.md: the Gaussian copula is
hard to detect on small complete tables and easy to detect on skewed tables with much missing
data; the forest and neural models win there). So ``auto`` measures instead of guessing: it
fits each candidate on two thirds of the training rows, samples, and scores the draw against
the other third (real rows the candidate never saw; small tables: two such splits, averaged):

* realism: out-of-fold detection AUC of a gradient-boosting classifier (0.5 = indistinguishable);
* privacy: DCR share, the share of synthetic rows closer to the fitting rows than to the unseen
  rows (0.5 = no closer to the training patients than fresh patients are).

Candidates whose DCR share exceeds ``max_dcr_share`` are disqualified (unless all are); among the
rest the lowest detection AUC wins, and the winner is refitted on all training rows. Candidates
expected to overrun the time budget are skipped; the choice, every score and the reasons are
kept in ``choice_`` and shown in the report.
"""

from __future__ import annotations

from collections.abc import Mapping
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed.generators.base import BaseGenerator, GeneratorTags, ParamCheck, float_in, int_in
from synthmed.schema import TableSchema

__all__ = ["AutoGenerator"]

#: candidates in order of cost; each is tried only while the time budget allows
DEFAULT_CANDIDATES: tuple[str, ...] = ("gaussian_copula", "bayesian_network", "arf", "neural_ar")
_INNER = "inner__"


def _candidates_check(value: Any) -> str | None:
    from synthmed.generators.registry import list_generators

    ok = value is None or (
        isinstance(value, list | tuple) and len(value) > 0
        and all(isinstance(v, str) and v in list_generators() and v != "auto" for v in value)
    )
    return None if ok else "None or a non-empty list of registered tabular generator names"


class AutoGenerator(BaseGenerator):
    """Chooses and fits the best tabular generator for the data, by measurement.

    Parameters
    ----------
    time_budget_s : float
        Rough wall-clock budget for choosing and fitting (seconds). Slower candidates are
        skipped once the measured time makes them unlikely to fit in it.
    candidates : sequence of str, optional
        Generator names to choose from (default: copula, Bayesian network, ARF, neural AR).
    max_dcr_share : float
        Privacy bound for a candidate to be eligible (DCR share on the validation split).
    selection_rows : int
        At most this many training rows are used for the choice (fit on 2/3, score on 1/3).

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> data = load_dataset("gbsg2")
    >>> gen = get_generator("auto").fit(data.frame, schema=data.schema)  # doctest: +SKIP
    >>> gen.choice_["chosen"]  # doctest: +SKIP
    'arf'
    """

    name = "auto"
    _tags = GeneratorTags(modality="table")
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "time_budget_s": float_in(0.0, low_open=True),
        "candidates": _candidates_check,
        "max_dcr_share": float_in(0.5, 1.0),
        "selection_rows": int_in(50),
    }

    def __init__(self, *, time_budget_s: float = 30.0,
                 candidates: list[str] | None = None,
                 max_dcr_share: float = 0.55, selection_rows: int = 5000) -> None:
        self.time_budget_s = time_budget_s
        self.candidates = candidates
        self.max_dcr_share = max_dcr_share
        self.selection_rows = selection_rows

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        # a list, not a tuple: parameters round-trip through the model's JSON file
        return [{"candidates": ["gaussian_copula", "bayesian_network"], "selection_rows": 200}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        from synthmed.generators.registry import get_generator

        start = time.perf_counter()
        names = list(self.candidates or DEFAULT_CANDIDATES)
        rows = min(len(frame), self.selection_rows)
        # small tables give noisy scores: average two different validation splits
        splits = [_split(frame, rows, rng) for _ in range(2 if rows < 1000 else 1)]
        scores: list[dict[str, Any]] = []
        for name in names:
            elapsed = time.perf_counter() - start
            projected = _projected_seconds(scores, name, len(frame), rows)
            if scores and elapsed + projected > self.time_budget_s:
                scores.append({"generator": name, "skipped": f"time budget ({elapsed:.0f} s "
                               f"used, about {projected:.0f} s more needed)"})
                continue
            t0 = time.perf_counter()
            try:
                runs = []
                for fit_part, valid in splits:
                    cand = get_generator(name).fit(fit_part, schema=schema, random_state=rng)
                    runs.append(_score(fit_part, valid, cand._draw(len(valid), None, rng),
                                       schema, rng))
            except Exception as exc:  # a failing candidate is skipped, not fatal
                scores.append({"generator": name, "skipped": f"failed ({type(exc).__name__})"})
                continue
            seconds = (time.perf_counter() - t0) / len(splits)
            scores.append({"generator": name, "seconds": round(seconds, 2),
                           **{k: round(float(np.mean([r[k] for r in runs])), 4) for k in runs[0]}})
        eligible = [s for s in scores if "detection_auc" in s]
        if not eligible:
            raise RuntimeError("No candidate generator could be fitted.")
        private = [s for s in eligible if s["dcr_share"] <= self.max_dcr_share]
        pool = private or eligible
        best = min(pool, key=lambda s: (s["detection_auc"], s["dcr_share"]))
        reason = (f"lowest detection AUC ({best['detection_auc']:.3f}) among "
                  f"{len(pool)} candidate(s) with DCR share <= {self.max_dcr_share}"
                  if private else
                  f"no candidate met DCR share <= {self.max_dcr_share}; lowest detection AUC")
        inner = get_generator(best["generator"]).fit(frame, schema=schema, random_state=rng)
        self.inner_ = inner
        self.choice_ = {"chosen": best["generator"], "reason": reason, "selection_rows": rows,
                        "validation_rows": len(splits[0][1]), "repeats": len(splits),
                        "scores": scores}

    # ------------------------------------------------------------------ sample
    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        return self.inner_._sample(n, conditions, rng)

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        return self.inner_._condition_values_known(column, values)

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self.inner_._get_state()
        state = {"choice": self.choice_, "inner_params": self.inner_.get_params(),
                 "inner_state": meta}
        return state, {f"{_INNER}{k}": v for k, v in arrays.items()}

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from synthmed.generators.registry import generator_class

        self.choice_ = dict(meta["choice"])
        inner = generator_class(str(self.choice_["chosen"]))(**meta["inner_params"])
        inner._check_params()
        inner.schema_ = self.schema_
        inner.n_train_rows_ = self.n_train_rows_
        inner._set_state(meta["inner_state"], {
            k[len(_INNER):]: v for k, v in arrays.items() if k.startswith(_INNER)})
        self.inner_ = inner


def _split(frame: pd.DataFrame, rows: int,
           rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to ``rows`` rows: two thirds to fit a candidate, one third (unseen) to score it."""
    pick = rng.permutation(len(frame))[:rows]
    n_valid = max(10, rows // 3)
    return (frame.iloc[pick[n_valid:]].reset_index(drop=True),
            frame.iloc[pick[:n_valid]].reset_index(drop=True))


def _projected_seconds(scores: list[dict[str, Any]], name: str, n_full: int, rows: int) -> float:
    """Rough cost of trying ``name`` and refitting the winner on all rows, from what ran."""
    done = [s["seconds"] for s in scores if "seconds" in s]
    slowdown = {"gaussian_copula": 1.0, "bayesian_network": 1.0, "arf": 8.0, "neural_ar": 15.0}
    base = (min(done) if done else 0.5) * slowdown.get(name, 10.0)
    return base * (1.0 + n_full / max(rows, 1))


def _score(fit_part: pd.DataFrame, valid: pd.DataFrame, synth: pd.DataFrame,
           schema: TableSchema, rng: np.random.Generator) -> dict[str, float]:
    from synthmed.evaluation._models import detection_auc, tree_matrix
    from synthmed.evaluation._neighbours import Layout, Space, nearest
    from synthmed.evaluation.context import MixedEncoder
    from synthmed.schema import coerce_table

    synth = coerce_table(synth, schema, validate=False)
    levels = {c.name: list(fit_part[c.name].dropna().astype(object).value_counts().index[:50])
              for c in schema.columns if c.kind in ("categorical", "boolean")}
    x_real = tree_matrix(valid, schema, levels)
    x_syn = tree_matrix(synth, schema, levels)
    auc = detection_auc(x_real, x_syn, rng, n_categorical=len(levels))
    encoder = MixedEncoder(schema).fit(fit_part)
    layout = Layout.from_encoder(encoder)
    near = fit_part.iloc[rng.choice(len(fit_part), min(len(fit_part), len(valid)),
                                    replace=False)]
    space = {k: Space.build(encoder.transform(f), layout)
             for k, f in (("syn", synth), ("train", near), ("valid", valid))}
    d_train = nearest(space["syn"], space["train"])[:, 0]
    d_valid = nearest(space["syn"], space["valid"])[:, 0]
    share = float(np.mean(d_train < d_valid) + 0.5 * np.mean(d_train == d_valid))
    return {"detection_auc": round(float(auc), 4), "dcr_share": round(share, 4)}

