"""``auto``: pick the tabular generator that fits *this* table best, within a time budget.

No single generator wins everywhere (measured in benchmarks/RESULTS.md: the Gaussian copula is
hard to detect on small complete tables and easy to detect on skewed tables with much missing
data; the forest and neural models win there). So ``auto`` measures instead of guessing: it
fits each candidate on two thirds of the training rows, samples, and scores the draw against
the other third (real rows the candidate never saw; tables under 1,000 rows: three folds, so
that every row is scored once, averaged):

* realism: out-of-fold detection AUC of a gradient-boosting classifier (0.5 = indistinguishable);
* privacy: DCR share, the share of synthetic rows closer to the fitting rows than to the unseen
  rows (0.5 = no closer to the training patients than fresh patients are);
* utility (tables with a categorical target): TSTR/TRTR AUROC ratio on the unseen rows.

Candidates whose DCR share exceeds ``max_dcr_share`` by more than its measurement noise (one
standard error, 0.5 / sqrt(validation rows)) are disqualified where a candidate within that
bound is more private by more than the noise of a difference (unless all are, or unless
every candidate left is easy to tell from real rows: detection AUC above 0.70, a release that
fails realism whatever its privacy); among the rest the lowest loss wins (detection AUC's
distance from 0.5 plus utility ratio below 1, see :mod:`._auto_scoring`), or, on a small
table scored on three splits, the simplest candidate (the first of the candidates, the copula
by default) when its split losses the lowest does not beat by more than one standard error
of the paired gains; the winner is refitted on all training rows.

The winner is then tried with discriminator refinement (:mod:`._refine`: several candidates
per row, one kept in proportion to a real-versus-generated classifier's odds), scored on the
same validation rows; the refinement is kept only if it lowers the loss within the DCR bound,
by more than one standard error of the paired gains where three splits were scored.
Last (``redraw_target="auto"``, the default), redrawing each row's categorical target from
P(target | other columns) (:mod:`._outcome`) is scored the same way and kept where it lowers
the loss within the DCR bound, by any margin.
Candidates expected to overrun the time budget are skipped, and a candidate that can stop its
own training on a clock (``neural_ar``) is given its share of the budget, for the trial fits
and for the refit; the choice, every score and the reasons are kept in ``choice_`` and shown
in the report.

Large tables: above ``max_fit_rows`` training rows the winner is fitted on a random sample of
that many rows, stratified on the target when there is one (200,000 rows already pin down
the joint distribution of a few dozen columns; fitting time, not accuracy, grows beyond). The
exact-copy check still covers every training row. ``choice_`` records ``fit_rows`` and the
reason says "fitted on N of M training rows", so the report states it. Default candidates that
sample slowly (``SLOW_SAMPLERS``) are not tried on such a table, which is sampled by the million.
"""

from __future__ import annotations

from collections.abc import Mapping
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed.generators.base import (
    MIN_FIT_ROWS,
    BaseGenerator,
    GeneratorTags,
    ParamCheck,
    float_in,
    int_in,
    one_of,
    optional,
)
from synthmed.generators.tabular._auto_scoring import score_candidate, selection_loss
from synthmed.generators.tabular._outcome import OutcomeModel
from synthmed.generators.tabular._refine import CANDIDATES_PER_ROW, Refiner
from synthmed.schema import TableSchema

__all__ = ["AutoGenerator"]

#: candidates in order of cost; each is tried only while the time budget allows
DEFAULT_CANDIDATES: tuple[str, ...] = ("gaussian_copula", "bayesian_network", "arf", "neural_ar")
_INNER = "inner__"
#: below this many selection rows the scores are averaged over three folds (noise)
SMALL_TABLE_ROWS = 1000
#: refinement is tried on this many of the best candidates
REFINE_TOP = 2
#: scoring passes after the choice: refinement of the top candidates, then the target redraw
POST_TRIALS = REFINE_TOP + 1
#: each of those costs about this many scorings of a draw: the scoring itself and the
#: cross-validated fit of its classifier (0.55-0.69 s beside 0.75-1.05 s of scoring on aids and
#: flchain); reserved out of the candidates' share so that the budget holds
POST_TRIAL_COST = 2.0
_REFINER = "refiner__"
_OUTCOME = "outcome__"
#: a candidate this easy to tell from real rows fails realism whatever its DCR share: when
#: every candidate within the DCR bound is, the bound is lifted (on sklearn's breast cancer
#: table, 30 numbers and 285 rows, it left only neural_ar, detection AUC 0.93 and DCR share
#: 0.65 in the evaluation, where the copula it had barred scored 0.47 and 0.62)
DETECTABLE_AUC = 0.70
#: a refit on every training row costs about this many trial fits (on 2/3 of the rows)
REFIT_WEIGHT = 1.5
#: a clock-bounded winner is refitted with at least this share of the budget, even if the
#: trials used it up (its trial fit ran on that much already)
MIN_REFIT_SHARE = 0.2
#: default candidates left out on a large table (more rows than ``max_fit_rows``): such a table
#: is sampled by the million, and issue 6 asks for >= 100,000 rows/s; neural_ar draws column
#: by column (9,600-14,700 rows/s, benchmarks/RESULTS.md "Generators"). A candidate the user
#: lists is tried.
SLOW_SAMPLERS: dict[str, str] = {
    "neural_ar": "samples column by column, about 10,000-15,000 rows/s"}


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
    time_budget_s : float or None, default 25
        Rough wall-clock budget for choosing and fitting (seconds). Slower candidates are
        skipped once the measured time makes them unlikely to fit in it. 25 s leaves room
        for sampling within 30 s on a table of up to 10,000 rows: a refined neural_ar draws
        four candidates per row column by column (1.6 s for flchain's 3,938 rows). A clock
        makes the choice depend on the machine's speed (neural_ar's training stops on it);
        ``None`` reads no clock: every candidate is tried and neural_ar trains until early
        stopping, so the same seed gives the same output on any machine (4-17 s on the
        benchmark's six tables; longer on a large table, where only early stopping ends it).
    candidates : sequence of str, optional
        Generator names to choose from (default: copula, Bayesian network, ARF, neural AR).
    max_dcr_share : float
        Privacy bound for a candidate to be eligible (DCR share on the validation rows; a
        share above it by less than one standard error of the measurement is tolerated, and
        so is one that no candidate within it beats by more than the noise of a difference).
    selection_rows : int
        At most this many training rows are used for the choice (fit on 2/3, score on 1/3).
    max_fit_rows : int
        The winner is fitted on at most this many training rows: a random sample, stratified
        on the target, when the table is larger (recorded in ``choice_``).
    refine : {"auto", "always", "never"}
        Discriminator refinement of the winner: ``"auto"`` keeps it where it scores better on
        the validation rows, ``"always"`` keeps it whatever the scores. Never used on a table
        larger than ``max_fit_rows`` (it draws several candidates per row, and such a table is
        sampled by the million).
    redraw_target : {"auto", "always", "never"}
        Redraw each row's (categorical) target from a classifier of the target given the
        other columns, fitted on the training rows with cross-validated rounds: ``"auto"``
        keeps it where it scores better on the validation rows, by any margin (within the
        DCR bound). A
        target given as a condition is never redrawn. On the six benchmark tables (three
        seeds) it raised the median utility ratio from 0.937 / 0.955 / 0.927 to 0.969 / 0.971
        / 0.975 with the median DCR share about unchanged (benchmarks/RESULTS.md). ``"auto"``
        does not try it on a table larger than ``max_fit_rows`` (it runs boosted trees on
        every drawn row; such a table is sampled by the million).

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
        "time_budget_s": optional(float_in(0.0, low_open=True)),
        "candidates": _candidates_check,
        "max_dcr_share": float_in(0.5, 1.0),
        "selection_rows": int_in(50),
        "max_fit_rows": int_in(50),
        "refine": one_of("auto", "always", "never"),
        "redraw_target": one_of("auto", "always", "never"),
    }

    def __init__(self, *, time_budget_s: float | None = 25.0,
                 candidates: list[str] | None = None,
                 max_dcr_share: float = 0.55, selection_rows: int = 5000,
                 max_fit_rows: int = 200_000, refine: str = "auto",
                 redraw_target: str = "auto") -> None:
        self.time_budget_s = time_budget_s
        self.candidates = candidates
        self.max_dcr_share = max_dcr_share
        self.selection_rows = selection_rows
        self.max_fit_rows = max_fit_rows
        self.refine = refine
        self.redraw_target = redraw_target

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        # a list, not a tuple: parameters round-trip through the model's JSON file
        return [{"candidates": ["gaussian_copula", "bayesian_network"], "selection_rows": 200},
                {"candidates": ["gaussian_copula"], "selection_rows": 200, "refine": "always"}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        start = time.perf_counter()
        budget = self.time_budget_s  # None: no clock, the same choice on any machine
        names = list(self.candidates or DEFAULT_CANDIDATES)
        rows = min(len(frame), self.selection_rows)
        # small tables give noisy scores: three folds, every selection row validates once
        splits = _splits(frame, rows, 3 if rows < SMALL_TABLE_ROWS else 1, rng)
        # a fitting part must hold a value of every column (a column recorded on a few rows,
        # such as a third intubation attempt, can be empty in one) and enough rows
        splits = [(f, v) for f, v in splits
                  if len(f) >= MIN_FIT_ROWS and f.notna().any().all()]
        if not splits:
            self._fit_without_choice(frame, schema, rng)
            return
        scores: list[dict[str, Any]] = []
        scoring = 0.0  # seconds to score one trial draw, once measured
        large = len(frame) > self.max_fit_rows
        trials: dict[str, list[tuple[BaseGenerator, pd.DataFrame, pd.DataFrame]]] = {}
        for name in names:
            if large and self.candidates is None and name in SLOW_SAMPLERS:
                scores.append({"generator": name,
                               "skipped": f"too slow to sample a large table "
                                          f"({SLOW_SAMPLERS[name]})"})
                continue
            # the refinement and target-redraw trials that follow the choice score a draw
            # per split each: their time is kept out of the candidates' share
            elapsed = (time.perf_counter() - start
                       + POST_TRIALS * POST_TRIAL_COST * scoring * len(splits))
            projected = _projected_seconds(scores, name, min(len(frame), self.max_fit_rows),
                                           rows, frame.shape[1]) + scoring * len(splits)
            if budget is not None and scores and elapsed + projected > budget:
                scores.append({"generator": name,
                               "skipped": f"time budget ({elapsed:.0f} s used or kept for the "
                                          f"refinement trials, about {projected:.0f} s more "
                                          "needed)"})
                continue
            fitting = 0.0
            try:
                runs, fitted = [], []
                # the trial fits and a possible refit share what is left of the budget
                share = (None if budget is None else
                         (budget - elapsed - scoring) / (len(splits) + REFIT_WEIGHT))
                for fit_part, valid in splits:
                    t0 = time.perf_counter()
                    cand = _candidate(name, share).fit(fit_part, schema=schema,
                                                       random_state=rng)
                    synth = cand._draw(len(fit_part), None, rng)
                    t1 = time.perf_counter()
                    runs.append(score_candidate(fit_part, valid, synth, schema, rng))
                    fitted.append((cand, fit_part, valid))
                    fitting += t1 - t0
                    scoring = time.perf_counter() - t1  # the same for every candidate
            except Exception as exc:  # a failing candidate is skipped, not fatal
                scores.append({"generator": name, "skipped": f"failed ({type(exc).__name__})"})
                continue
            trials[name] = fitted
            # fit + sample time only: scoring costs the same whatever the candidate
            seconds = fitting / len(splits)
            scores.append({"generator": name, "seconds": round(seconds, 2), **_mean_scores(runs),
                           "split_losses": _split_losses(runs)})
        eligible = [s for s in scores if "detection_auc" in s]
        if not eligible:
            raise RuntimeError("No candidate generator could be fitted.")
        # a share measured on n validation rows is known to about 0.5 / sqrt(n): a candidate
        # is disqualified only when it is above the bound by more than that, and another
        # candidate within it is measurably more private (_dcr_cut)
        noise = 0.5 / np.sqrt(sum(len(v) for _, v in splits))
        bound = float(self.max_dcr_share + noise)
        cut = _dcr_cut(eligible, bound, noise)
        private = [] if cut is None else [s for s in eligible if s["dcr_share"] <= cut]
        for s in eligible:
            s["loss"] = round(selection_loss(s), 4)
        lifted = bool(private) and _bound_lifted(private, eligible)
        pool = eligible if lifted or not private else private
        ranked = sorted(pool, key=lambda s: (s["loss"], s["dcr_share"]))
        lowest = ranked[0]
        simplest = _preferred(pool, lowest, names[0])
        ranked.remove(simplest)
        ranked.insert(0, simplest)
        best = ranked[0]
        # refinement corrects some generators' errors and not others' (it can only reweight
        # what a generator draws), so the runner-up is tried too while the budget allows
        refinements = {s["generator"]: self._try_refinement(
            s, trials[s["generator"]], large, bound, schema, rng)
            for i, s in enumerate(ranked[:REFINE_TOP])
            if i == 0 or budget is None or time.perf_counter() - start < budget}
        refined = [s for s in ranked if refinements.get(s["generator"], {}).get("kept")]
        if refined and self.refine == "auto":
            top = min(refined, key=lambda s: refinements[s["generator"]]["scores"]["loss"])
            if refinements[top["generator"]]["scores"]["loss"] < best["loss"]:
                best = top
        refinement = refinements.get(best["generator"], {"kept": False, "reason": ""})
        utility = (f", utility ratio {best['utility_ratio']:.3f}" if "utility_ratio" in best
                   else "")
        if best is not ranked[0]:
            how = "lowest loss once refined; unrefined"
        elif best is lowest:
            how = "lowest loss"
        else:
            how = (f"simplest candidate within the noise of the lowest loss "
                   f"({lowest['generator']}, {lowest['loss']:.3f}, ahead by less than one "
                   "standard error of the paired split losses)")
        reason = f"{how} ({best['loss']:.3f}: detection AUC {best['detection_auc']:.3f}{utility})"
        if lifted:
            reason += (f" among all {len(pool)} candidates: every candidate with DCR share <= "
                       f"{bound:.3f} was easy to tell from real rows (detection AUC above "
                       f"{DETECTABLE_AUC:.2f}), so that bound was lifted (DCR share "
                       f"{best['dcr_share']:.3f}; the privacy section judges it)")
        elif private:
            reason += (f" among {len(pool)} candidate(s) with DCR share <= {bound:.3f} "
                       f"({self.max_dcr_share} + measurement noise)")
            if cut is not None and cut > bound:
                reason += (f" or not measurably above the most private one's (<= {cut:.3f})")
        else:
            reason = f"no candidate met DCR share <= {bound:.3f}; " + reason
        if refinement["reason"]:
            reason += f"; {refinement['reason']}"
        outcome = self._try_outcome(
            refinement["scores"] if refinement["kept"] else best, trials[best["generator"]],
            refinement.get("refiners") if refinement["kept"] else None, bound, schema, rng,
            large=len(frame) > self.max_fit_rows)
        if outcome["reason"]:
            reason += f"; {outcome['reason']}"
        fit_frame = _fit_sample(frame, self.max_fit_rows, schema.target, rng)
        if len(fit_frame) < len(frame):
            strata = f", stratified on {schema.target!r}" if schema.target else ""
            reason += (f"; fitted on {len(fit_frame):,} of {len(frame):,} training rows (a "
                       f"random sample{strata}; max_fit_rows={self.max_fit_rows:,})")
        # the classifiers kept are fitted again after the refit: their time is kept out of it
        after = REFIT_WEIGHT * sum(v.get("fit_s", 0.0) for v in (refinement, outcome)
                                   if v["kept"])
        left = None if budget is None else max(budget - (time.perf_counter() - start) - after,
                                               MIN_REFIT_SHARE * budget)
        inner = _candidate(best["generator"], left).fit(fit_frame, schema=schema,
                                                         random_state=rng)
        self.inner_ = inner
        self.refiner_ = (Refiner.fit(fit_frame, inner._draw(len(fit_frame), None, rng), schema,
                                     rng) if refinement["kept"] else None)
        if refinement["kept"] and self.refiner_ is None:
            reason += ("; on all training rows the classifier found nothing to correct out of "
                       "sample, so the draws are not refined")
        self.outcome_ = OutcomeModel.fit(fit_frame, schema, rng) if outcome["kept"] else None
        if outcome["kept"] and self.outcome_ is None:
            reason += "; on all training rows no model of the target beat its class shares"
        self.choice_ = {"chosen": best["generator"], "reason": reason, "selection_rows": rows,
                        "fit_rows": len(fit_frame), "train_rows": len(frame),
                        "validation_rows": len(splits[0][1]), "repeats": len(splits),
                        "scores": scores, "refined": self.refiner_ is not None,
                        "refinement": {k: v["scores"] for k, v in refinements.items()
                                       if "scores" in v},
                        "target_redrawn": self.outcome_ is not None,
                        "target_redraw": outcome.get("scores")}

    def _fit_without_choice(self, frame: pd.DataFrame, schema: TableSchema,
                            rng: np.random.Generator) -> None:
        """Too few rows to hold any out (or every held-out split empties a column): the
        simplest candidate, fitted on all rows, with the reason said."""
        name = (self.candidates or DEFAULT_CANDIDATES)[0]
        self.inner_ = _candidate(name, self.time_budget_s).fit(frame, schema=schema,
                                                                random_state=rng)
        self.refiner_ = self.outcome_ = None
        self.choice_ = {"chosen": name, "reason": f"{len(frame)} training rows: too few to "
                        f"fit candidates on two thirds and score them on the rest, so {name} "
                        "(the first candidate) was fitted on all of them",
                        "selection_rows": 0, "fit_rows": len(frame), "train_rows": len(frame),
                        "validation_rows": 0, "repeats": 0, "scores": [], "refined": False,
                        "refinement": {}, "target_redrawn": False, "target_redraw": None}

    def _try_refinement(self, best: dict[str, Any],
                        trials: list[tuple[BaseGenerator, pd.DataFrame, pd.DataFrame]],
                        large: bool, bound: float, schema: TableSchema,
                        rng: np.random.Generator) -> dict[str, Any]:
        """Score the winner with discriminator refinement on the same validation rows; keep it
        if that lowers the loss and stays within the DCR ``bound`` (or below the winner's own)."""
        if self.refine == "never":
            return {"kept": False, "reason": "no refinement (refine='never')"}
        if large:
            return {"kept": False, "reason": "no refinement on a table larger than "
                                             f"max_fit_rows={self.max_fit_rows:,}"}
        try:
            t0 = time.perf_counter()
            refiners = [Refiner.fit(fit_part, cand._draw(len(fit_part), None, rng), schema, rng)
                        for cand, fit_part, _ in trials]
            fit_s = (time.perf_counter() - t0) / len(trials)
            if all(r is None for r in refiners):
                return {"kept": False, "reason": "no refinement (a real-versus-generated "
                                                 "classifier found nothing it could confirm on "
                                                 "held-out rows)"}
            runs = [score_candidate(fit_part, valid,
                                    _refined_draw(cand, refiner, len(fit_part), None, rng),
                                    schema, rng)
                    for (cand, fit_part, valid), refiner in zip(trials, refiners, strict=True)]
        except Exception as exc:  # the plain winner stands
            return {"kept": False, "reason": f"refinement failed ({type(exc).__name__})"}
        scores, kept, verdict = _judge_variant(runs, best, bound, self.refine)
        return {"kept": kept, "scores": scores, "refiners": refiners, "fit_s": fit_s,
                "reason": f"discriminator refinement {verdict} (validation loss "
                          f"{best['loss']:.3f} -> {scores['loss']:.3f}, detection AUC "
                          f"{scores['detection_auc']:.3f}, DCR share {scores['dcr_share']:.3f})"}

    def _try_outcome(self, base: dict[str, Any],
                     trials: list[tuple[BaseGenerator, pd.DataFrame, pd.DataFrame]],
                     refiners: list[Refiner | None] | None, bound: float, schema: TableSchema,
                     rng: np.random.Generator, *, large: bool = False) -> dict[str, Any]:
        """Score the chosen draw (``base``: its scores) with its target redrawn; keep the
        redraw if it lowers the loss within the DCR ``bound`` (or below ``base``'s own).
        Not tried by ``"auto"`` on a table larger than ``max_fit_rows``: its boosted trees
        run on every drawn row (about 1 s per 100,000 rows on 2 cores), and such a table is
        sampled by the million (the 1,000,000-row benchmark streamed 45,600 rows/s with it,
        the issue asks for 100,000)."""
        if self.redraw_target == "never" or schema.target is None:
            return {"kept": False, "reason": ""}
        if large and self.redraw_target == "auto":
            return {"kept": False, "reason": "target not redrawn on a table larger than "
                                             f"max_fit_rows={self.max_fit_rows:,} (sampling "
                                             "speed)"}
        try:
            runs = []
            for i, (cand, fit_part, valid) in enumerate(trials):
                t0 = time.perf_counter()
                model = OutcomeModel.fit(fit_part, schema, rng)
                fit_s = time.perf_counter() - t0
                if model is None:
                    return {"kept": False, "reason": "target not redrawn (no model of it "
                                                     "beat its class shares on held-out rows, "
                                                     "or a class has too few rows)"}
                synth = (cand._draw(len(fit_part), None, rng) if refiners is None else
                         _refined_draw(cand, refiners[i], len(fit_part), None, rng))
                runs.append(score_candidate(fit_part, valid, model.redraw(synth, rng), schema,
                                            rng))
        except Exception as exc:  # the draw without the redraw stands
            return {"kept": False, "reason": f"target redraw failed ({type(exc).__name__})"}
        # any gain counts: a redraw only re-labels the draw's own rows. Of 111 runs without a
        # clock (31 unseen tables and the six benchmark ones, three seeds), 6 had a gain
        # within the noise of three splits, and kept it raised the evaluation's utility ratio
        # in all 6 (pbc 0.887 -> 0.900 and 0.880 -> 0.953, diabetic 0.919 -> 0.960, myeloid
        # 0.958 -> 0.986, two by under 0.005)
        scores, kept, verdict = _judge_variant(runs, base, bound, self.redraw_target,
                                               beyond_noise=False)
        return {"kept": kept, "scores": scores, "fit_s": fit_s,
                "reason": f"target redrawn from P(target | other columns) {verdict} "
                          f"(validation loss {base['loss']:.3f} -> {scores['loss']:.3f}, "
                          f"DCR share {scores['dcr_share']:.3f})"}

    # ------------------------------------------------------------------ sample
    @property
    def draws_in_threads(self) -> bool:
        return self.inner_.draws_in_threads

    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        if self.refiner_ is None:
            out = self.inner_._sample(n, conditions, rng)
        else:
            out = _refined_draw(self.inner_, self.refiner_, n, conditions, rng)
        given = conditions is not None and self.outcome_ is not None and (
            self.outcome_.target in conditions.columns)
        if self.outcome_ is None or given:
            return out
        return self.outcome_.redraw(out.reset_index(drop=True), rng)

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        return self.inner_._condition_values_known(column, values)

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = self.inner_._get_state()
        state = {"choice": self.choice_, "inner_params": self.inner_.get_params(),
                 "inner_state": meta}
        arrays = {f"{_INNER}{k}": v for k, v in arrays.items()}
        if self.refiner_ is not None:
            state["refiner"], trees = self.refiner_.to_state(_REFINER)
            arrays.update(trees)
        if self.outcome_ is not None:
            state["outcome"], trees = self.outcome_.to_state(_OUTCOME)
            arrays.update(trees)
        return state, arrays

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
        # models saved before refinement existed have no "refiner": they sample as before
        self.refiner_ = (Refiner.from_state(meta["refiner"], arrays, _REFINER)
                         if meta.get("refiner") else None)
        self.outcome_ = (OutcomeModel.from_state(meta["outcome"], arrays, _OUTCOME)
                         if meta.get("outcome") else None)


def _dcr_cut(eligible: list[dict[str, Any]], bound: float, noise: float) -> float | None:
    """The DCR share a candidate may have and stay in the pool: the ``bound``, or above it
    as far as the most private candidate within it plus the noise of a difference of two
    shares (``noise`` times sqrt 2), so that only a candidate measurably less private than
    another is barred; None when no candidate is within the bound.

    On a small table the bound is a hard cut on a noisy figure: on cgd (101 rows, seed 1)
    the copula's share was 0.604 against a bound of 0.600 and the forest's 0.555, a
    difference within the noise (0.071), and the Bayesian network chosen instead (loss 0.367
    against the copula's 0.135) scored detection AUC 0.81 in the evaluation, where both
    draws' DCR share was 0.634.
    """
    within = [s["dcr_share"] for s in eligible if s["dcr_share"] <= bound]
    if not within:
        return None
    return float(max(bound, min(within) + np.sqrt(2.0) * noise))


def _bound_lifted(private: list[dict[str, Any]], eligible: list[dict[str, Any]]) -> bool:
    """True when every candidate within the DCR bound is easy to tell from real rows and
    some candidate is not."""
    return (all(s["detection_auc"] > DETECTABLE_AUC for s in private)
            and any(s["detection_auc"] <= DETECTABLE_AUC for s in eligible))


def _mean_scores(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure averaged over the validation splits that have it, where at least half of
    them do. A utility figure needs five validation rows of each class: with a rare outcome
    some splits lack it, and a figure every split had to have left the outcome out of the
    choice (KMsurv's bfeed, 4 % censored: the copula chosen on realism alone, its utility
    ratio 0.43 and 0.64 on the two splits that measured it)."""
    keys = dict.fromkeys(k for r in runs for k in r)
    out = {}
    for k in keys:
        have = [r[k] for r in runs if k in r]
        if 2 * len(have) >= len(runs):
            out[k] = round(float(np.mean(have)), 4)
    return out


def _split_losses(runs: list[dict[str, float]]) -> list[float]:
    """The selection loss of each validation split's scores."""
    return [round(selection_loss(r), 4) for r in runs]


def _judge_variant(runs: list[dict[str, float]], base: Mapping[str, Any], bound: float,
                   mode: str, *, beyond_noise: bool = True) -> tuple[dict[str, Any], bool, str]:
    """Scores of a variant of the chosen draw (refined, target redrawn), whether to keep it
    and why: always (``mode="always"``), or if it lowers ``base``'s loss (by more than the
    noise, :func:`_beats`, where ``beyond_noise``) within the DCR ``bound`` (or below
    ``base``'s own share)."""
    scores: dict[str, Any] = dict(_mean_scores(runs))
    scores["loss"] = round(selection_loss(scores), 4)
    scores["split_losses"] = _split_losses(runs)
    private = scores["dcr_share"] <= max(bound, base["dcr_share"])
    better = (_beats(base["split_losses"], scores["split_losses"]) if beyond_noise
              else scores["loss"] < base["loss"])
    kept = bool(mode == "always" or (private and better))
    if kept:
        verdict = "kept"
    elif not private:
        verdict = "not kept: DCR share above the bound"
    elif scores["loss"] < base["loss"]:
        verdict = "not kept: a gain within the noise between validation splits"
    else:
        verdict = "not kept"
    return scores, kept, verdict


def _preferred(pool: list[dict[str, Any]], lowest: dict[str, Any],
               simplest: str) -> dict[str, Any]:
    """The candidate ``auto`` keeps among ``pool`` (in the order tried): the simplest one (the
    first of all candidates, the copula by default) when the ``lowest`` loss does not beat it
    beyond the noise of three splits, else the lowest.

    Only that one: when it is out of the pool (above the DCR bound), the next cheapest is not
    simpler in that sense (a Bayesian network searches a structure), and preferring it cost
    pbc a third of its outcome signal (the network's utility ratio 0.69 against the forest's
    0.82 in selection; AUROC 0.58 against 0.73 train-on-real in the evaluation).
    """
    first = pool[0]
    if first["generator"] == simplest and not _beats(first["split_losses"],
                                                     lowest["split_losses"]):
        return first
    return lowest


def _beats(base: list[float], variant: list[float]) -> bool:
    """True when the variant's losses are lower than the base's by more than the noise.

    With several validation splits (tables under ``SMALL_TABLE_ROWS`` rows) the mean paired
    gain must exceed one standard error of the gains: a variant that wins by less is as likely
    to lose in the evaluation. On gbsg2 (342 rows) the target redraw was kept three times on
    gains of 0.015-0.028 and lowered the evaluation's utility ratio each time (1.027 -> 0.892,
    0.984 -> 0.953, 0.970 -> 0.912), measured with earlier generators. With one split (larger
    tables, less noisy) any gain counts. The target redraw no longer uses this rule (see
    ``_try_outcome``): with the current generators its gains within the noise raised the
    evaluation's utility ratio in 6 of 6 runs.
    """
    gain = np.asarray(base, dtype=float) - np.asarray(variant, dtype=float)
    if len(gain) < 2:
        return bool(gain.mean() > 0)
    return bool(gain.mean() > gain.std(ddof=1) / np.sqrt(len(gain)))


def _refined_draw(model: BaseGenerator, refiner: Refiner | None, n: int,
                  conditions: pd.DataFrame | None, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows, each the refiner's pick among ``CANDIDATES_PER_ROW`` drawn by ``model``
    (under the same condition row); ``model``'s own draw when there is nothing to refine."""
    if refiner is None:
        return model._draw(n, conditions, rng)
    k = CANDIDATES_PER_ROW
    repeated = (None if conditions is None
                else conditions.iloc[np.repeat(np.arange(n), k)].reset_index(drop=True))
    pool = model._draw(n * k, repeated, rng)
    return pool.iloc[refiner.choose(pool, k, rng)].reset_index(drop=True)


def _splits(frame: pd.DataFrame, rows: int, folds: int,
            rng: np.random.Generator) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """Up to ``rows`` rows, two thirds to fit a candidate and one third (unseen) to score it:
    one such split, or ``folds`` = 3 whose scored thirds are disjoint and cover every row."""
    pick = rng.permutation(len(frame))[:rows]
    n_valid = max(10, rows // 3)
    parts = np.array_split(pick, 3)[:folds] if folds > 1 else [pick[:n_valid]]
    return [(frame.iloc[np.setdiff1d(pick, valid)].reset_index(drop=True),
             frame.iloc[valid].reset_index(drop=True)) for valid in parts]


def _fit_sample(frame: pd.DataFrame, rows: int, target: str | None,
                rng: np.random.Generator) -> pd.DataFrame:
    """``frame`` itself, or ``rows`` of its rows drawn at random, stratified on ``target``.

    Stratified by systematic sampling: rows shuffled, grouped by target value (missing is a
    value of its own), then taken at evenly spaced positions, so each value keeps its share.
    """
    if len(frame) <= rows:
        return frame
    order = rng.permutation(len(frame))
    if target is not None:
        codes = pd.factorize(frame[target], use_na_sentinel=False)[0]
        order = order[np.argsort(codes[order], kind="stable")]
    pick = order[np.linspace(0, len(frame) - 1, rows).astype(np.int64)]
    return frame.iloc[np.sort(pick)].reset_index(drop=True)


def _projected_seconds(scores: list[dict[str, Any]], name: str, n_full: int, rows: int,
                       columns: int) -> float:
    """Rough cost of trying ``name`` and refitting it on ``n_full`` rows, from what ran.

    ``n_full`` is the number of rows the winner is fitted on (at most ``max_fit_rows``): on a
    huge table the refit on the sample is projected, not one on every row.
    """
    done = [s["seconds"] for s in scores if "seconds" in s]
    # the network's structure search grows a column faster than the copula's correlation
    # (a trial fit and draw beside the copula's: 1.3x on 11 columns, 3x on 31, 7x on 170)
    slowdown = {"gaussian_copula": 1.0, "bayesian_network": max(1.0, columns / 25),
                "arf": 8.0, "neural_ar": 15.0}
    base = (min(done) if done else 0.5) * slowdown.get(name, 10.0)
    return base * (1.0 + n_full / max(rows, 1))


def _candidate(name: str, seconds: float | None) -> BaseGenerator:
    """The generator ``name`` with default parameters; one whose training can stop on a clock
    gets ``seconds`` as its budget (``None``: no clock)."""
    from synthmed.generators.registry import generator_class, get_generator

    if seconds is not None and "time_budget_s" in generator_class(name)().get_params():
        return get_generator(name, time_budget_s=max(seconds, 1.0))
    return get_generator(name)
