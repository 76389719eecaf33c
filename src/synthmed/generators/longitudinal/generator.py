"""Static-then-sequence generator for longitudinal records (patients over time).

The data is one long frame (see :mod:`synthmed.datasets.longitudinal`): its schema marks the
entity column (``entity_id``), the time column (``time_index``) and the static columns
(``static``). A record is an entity's whole trajectory.

1. **Patient level.** A tabular generator (``static_generator``) learns the static columns
   together with per-entity summaries: number of rows (``__n_steps``), first time (``__t0``)
   and how long the trajectory lasts: its span (``__span``) or the mean time between its rows
   (``__mean_gap``), whichever varies less between training patients
   (:func:`._patient.steadier_extent`: a study window fixes the span, hourly charting the gap);
   where a static column ends every patient's follow-up, the share of the follow-up window the
   rows cover (``__coverage``: nafld2's labs run to near ``futime``) is a third choice, and
   the gaps are stretched so that the last row lands where the drawn extent says (pbcseq's
   yearly visits keep the mean gap). A coverage is drawn as its rank among patients of about
   as many rows (:class:`._patient.ExtentRanks`: two-lab patients stop early, twenty-lab
   ones run to the end, which one correlation cannot hold). It draws each synthetic patient's
   attributes, outcome and sequence length, and honours ``conditions`` on static columns. Its
   continuous values (age, follow-up time, span) then get kernel noise of Silverman's
   bandwidth, variance kept (the smoothed bootstrap, :mod:`synthmed.generators._smoothing`):
   a quantile-interpolating model otherwise puts synthetic patients between neighbouring
   training patients, closer to them than real outsiders are (a membership leak on small
   cohorts). Values that several patients share (atoms: one row, a round follow-up) are
   left as drawn.
2. **Sequence.** Each measure is mapped to normal scores through its empirical marginal
   (categories as codes; continuous values interpolated in cells of several training values,
   so that synthetic values do not sit next to training values either). Step by step, a
   Gaussian autoregressive model (ridge regressions with a full residual covariance,
   :mod:`._model`) draws the next values from the patient's history (:mod:`._history`: last
   observed values, what the previous row recorded, the mean of earlier values and how often
   each measure was recorded, so that a patient keeps a level of their own), the time since
   start, the fraction of the patient's span elapsed, the time since the previous row, the
   static attributes, and the outcome interacted with time — so a patient who dies has a
   trajectory like those who died. A measure's first value and its later values have
   separate regressions (the first is spread over the population, later ones stay near the
   patient's own); how widely a first value scatters depends on the row's inputs too
   (:class:`._model.FirstSpread`: a drive-through's turnaround times scatter less than a
   ward's). A continuous measure whose later values are clearly better modelled as
   steps from the patient's last value on its own scale moves that way (:mod:`._steps`:
   a measure with two groups and nothing between would otherwise jump the gap). A continuous
   measure that mostly repeats the patient's previous value (a maintenance dose) is held:
   a logistic model says when the value is kept exactly (:mod:`._held`). Measures of text
   labels are then drawn again, recorded or not, by a chain of multinomial logistic models
   that sees the row's numbers and the labels before it (:mod:`._labels`: a positive test
   keeps its cycle threshold, a clinic its patient class).
   The time to the next row is drawn first from the same inputs plus the rows and span left
   (:mod:`._gaps`: irregular times that end near the drawn span), and whether each measure is
   recorded at a row comes from a chain of logistic models (a measure sees which of the
   earlier ones the row records, so panels are recorded together, and whether each measure
   was ever recorded before, so a habit stays with the patients who have it).

Times of a synthetic trajectory never go past the largest time seen in training (the
trajectory is cut there), nor past a static column that bounds every training patient's times
(an end of follow-up such as ``futime``: :func:`._patient.time_bounds`). Where the training
times follow a visit schedule (at most 60 distinct times, each on 3 rows or more on average:
weeks 0, 4, 8...), drawn times move to the nearest scheduled time after the entity's previous
row (:func:`._records.on_schedule`).
Synthetic entities get fresh ids ``syn-00001``...; a synthetic trajectory identical to a
training trajectory is rejected and redrawn (unless 10 or more training patients share it,
or training trajectories repeat so often that equality is no sign of copying). Drawn scores become
long records in :mod:`._records`; the saved state is written and read in :mod:`._state`.

Example
-------
>>> from synthmed import load_dataset
>>> from synthmed.generators.longitudinal.generator import LongitudinalGenerator
>>> data = load_dataset("pbcseq")
>>> gen = LongitudinalGenerator().fit(data.frame, schema=data.schema)
>>> synth = gen.sample(20, conditions={"sex": "f"}, random_state=0)
>>> synth["id"].nunique(), bool((synth["sex"] == "f").all())
(20, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from synthmed._random import RandomState, make_rng
from synthmed.datasets.longitudinal import one_role, prepare_long_table
from synthmed.exceptions import DataError, NotFittedError, ParameterError
from synthmed.generators._smoothing import KernelSmoother
from synthmed.generators._twins import Twin, find_twins
from synthmed.generators.base import (
    COMMON_RECORD_MIN_COUNT,
    MAX_RESAMPLE_ROUNDS,
    MIN_FIT_ROWS,
    BaseGenerator,
    GeneratorTags,
    ParamCheck,
    copy_check,
    float_in,
    int_in,
    one_of,
)
from synthmed.generators.longitudinal._clocks import ANCHOR, Clocks
from synthmed.generators.longitudinal._gaps import GapModel, gap_inputs
from synthmed.generators.longitudinal._held import HeldValues, held_measures, repeated_rows
from synthmed.generators.longitudinal._history import History, history_inputs, own_inputs
from synthmed.generators.longitudinal._labels import RowLabels, label_measures
from synthmed.generators.longitudinal._model import (
    CELL_VALUES,
    LinearHead,
    LogisticHeads,
    Marginal,
    StaticFeatures,
    ValueHeads,
    VolatilityModel,
    one_thread,
)
from synthmed.generators.longitudinal._patient import (
    COVERAGE,
    MEAN_GAP,
    N_STEPS,
    SPAN,
    T0,
    WINDOW,
    ExtentRanks,
    drawn_span,
    follow_up_coverage,
    steadier_extent,
    time_bounds,
)
from synthmed.generators.longitudinal._records import (
    assemble,
    entity_hashes,
    jsonable,
    visit_schedule,
)
from synthmed.generators.longitudinal._state import get_state, set_state
from synthmed.generators.longitudinal._steps import (
    choose_steps,
    kept_values,
    later_targets,
    step_values,
)
from synthmed.schema import (
    HOUR_NS,
    ColumnSchema,
    TableSchema,
    coerce_table,
    holds_labels,
    hours_of,
    read_dates,
    restore_table,
    without_codes,
)

__all__ = ["LongitudinalGenerator"]

STATIC_GENERATORS = ("gaussian_copula", "bayesian_network", "arf")


class LongitudinalGenerator(BaseGenerator):
    """Patients over time: static attributes first, then an autoregressive sequence.

    Parameters
    ----------
    static_generator : {"gaussian_copula", "bayesian_network", "arf"}, default "gaussian_copula"
        Tabular generator of the patient-level table (static columns + sequence summaries).
    ridge : float, default 1.0
        L2 penalty of the step models (values, time steps, missingness). Larger is smoother.
        The value and time regressions try it and up to 10^4 times it, and keep the penalty
        of least generalised cross-validation error.
    max_levels : int, default 10
        Most categories of a static column used as inputs of the step models (others pooled).
    smooth_static : bool, default True
        Add kernel noise to the continuous patient-level values drawn by ``static_generator``
        (see the module docstring). ``False`` reproduces the leaky, unsmoothed draws.

    Attributes
    ----------
    static_model_ : BaseGenerator
        The fitted patient-level generator.
    measures_ : list of str
        The time-varying columns.
    static_columns_ : list of str
        The modelled static columns.
    """

    name: ClassVar[str] = "longitudinal"
    _tags: ClassVar[GeneratorTags] = GeneratorTags(modality="longitudinal")
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "static_generator": one_of(*STATIC_GENERATORS),
        "ridge": float_in(0.0, low_open=True),
        "max_levels": int_in(2, 100),
        "smooth_static": one_of(True, False),
    }

    def __init__(self, *, static_generator: str = "gaussian_copula", ridge: float = 1.0,
                 max_levels: int = 10, smooth_static: bool = True) -> None:
        self.static_generator = static_generator
        self.ridge = ridge
        self.max_levels = max_levels
        self.smooth_static = smooth_static

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{}, {"static_generator": "bayesian_network", "ridge": 5.0}]

    # ------------------------------------------------------------------ fit
    def fit(self, data: pd.DataFrame, *, schema: TableSchema | None = None,
            random_state: RandomState = 0) -> Self:
        """Learn patients and their trajectories from a long frame.

        Parameters
        ----------
        data : DataFrame
            One row per entity and time; static columns repeated on every row. Not modified.
        schema : TableSchema
            Marks the ``entity_id``, ``time_index`` and ``static`` columns
            (:func:`synthmed.datasets.longitudinal.longitudinal_schema` builds one).
        random_state : int or numpy Generator

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(data, pd.DataFrame):
            raise DataError(f"`data` must be a pandas DataFrame, got {type(data).__name__}.")
        if schema is None:
            raise ParameterError(
                "LongitudinalGenerator needs a schema marking the entity and time columns; "
                "build it with synthmed.datasets.longitudinal.longitudinal_schema(frame, "
                "entity=..., time=...)."
            )
        if not isinstance(schema, TableSchema):
            raise ParameterError(f"`schema` must be a TableSchema, got {type(schema).__name__}.")
        entity, time = one_role(schema, "entity_id"), one_role(schema, "time_index")
        n_entities = data[entity].nunique() if entity in data.columns else 0
        if n_entities < MIN_FIT_ROWS:
            raise DataError(f"At least {MIN_FIT_ROWS} entities are needed to fit a longitudinal "
                            f"generator, got {n_entities} (in {len(data)} rows).")
        time_kind = schema.column(time).kind
        if time_kind not in ("numeric", "integer", "datetime"):
            raise DataError(f"The time column {time!r} is declared {time_kind!r}; it must be "
                            "numbers (days, hours since start) or dates.")
        schema.validate(data)
        static = [c for c in schema.with_role("static") if schema.column(c).modelled]
        clean, _ = prepare_long_table(data, entity=entity, time=time, static=static)
        measures = [c.name for c in schema.columns
                    if c.modelled and c.name not in static and c.name != time]
        # dates that change within a patient are clocks beside the time (._clocks)
        clocks = [m for m in measures if schema.column(m).kind == "datetime"]
        measures = [m for m in measures if m not in clocks]
        if not measures:
            raise DataError("No time-varying column is left to model: every column is the "
                            "entity, the time, static, or not modelled.")
        # a measure another one determines exactly (nafld2 as bundled holds the same number
        # under "chol" and "hdl") is written again from it after each draw (generators/_twins)
        measure_schema = schema.subset(measures)
        self._measure_twins = find_twins(
            coerce_table(clean[measures], measure_schema, validate=False), measure_schema)
        rng = make_rng(random_state)
        self.entity_, self.time_ = entity, time
        self.time_kind_: str = time_kind
        self.static_columns_, self.measures_ = static, measures
        self._clock_names = clocks
        with one_thread():
            self._fit_model(clean, schema, rng)
        modelled = [c.name for c in schema.columns if c.modelled or c.name == entity]
        self.schema_ = replace(schema.subset(modelled), modality="longitudinal")
        self.n_train_rows_ = len(clean)
        self._hash_key_ = rng.bytes(8).hex()
        train = self._restored(clean)
        hashes = entity_hashes(train, self.schema_, self.entity_, self._hash_key_)[0]
        self._train_hashes_, self.copy_rule_ = copy_check(hashes, unit="trajectory")
        return self

    def _restored(self, clean: pd.DataFrame) -> pd.DataFrame:
        cols = [c for c in self.schema_.names if c != self.entity_]
        out = restore_table(coerce_table(clean[cols], self.schema_.subset(cols),
                                         validate=False), self.schema_.subset(cols))
        out.insert(0, self.entity_, clean[self.entity_].to_numpy())
        return out

    def _fit_model(self, clean: pd.DataFrame, schema: TableSchema,
                   rng: np.random.Generator) -> None:
        entity, time = self.entity_, self.time_
        codes = pd.factorize(clean[entity].astype(str))[0]
        first = np.r_[True, codes[1:] != codes[:-1]]
        start_idx = np.flatnonzero(first)
        lengths = np.diff(np.r_[start_idx, len(codes)])
        tcol = clean[time]
        if self.time_kind_ == "datetime":
            t_abs = pd.to_datetime(tcol).astype("datetime64[ns]")
            t_num = t_abs.astype("int64").to_numpy(dtype=float) / HOUR_NS  # hours
        else:
            t_num = pd.to_numeric(tcol).to_numpy(dtype=float)
        t0 = t_num[start_idx][codes]
        offset = t_num - t0
        dt = np.where(first, 0.0, np.r_[0.0, np.diff(t_num)])
        span = np.maximum.reduceat(offset, start_idx)

        # patient level: statics + sequence summaries
        static_tbl = clean.iloc[start_idx][self.static_columns_].reset_index(drop=True)
        static_tbl[N_STEPS] = lengths.astype(np.int64)
        tdec = schema.column(time).decimals
        if self.time_kind_ == "datetime":
            static_tbl[T0] = tcol.iloc[start_idx].to_numpy()
            t0_col = replace(schema.column(time), name=T0, roles=frozenset())
        else:
            static_tbl[T0] = t_num[start_idx]
            t0_col = ColumnSchema(T0, "numeric", dtype="float64", decimals=tdec)
        # an end of follow-up found among the statics bounds each patient's times; the share
        # of its follow-up window a trajectory covers is then a candidate extent
        self._time_bounds = [] if self.time_kind_ == "datetime" else time_bounds(
            static_tbl, [c for c in self.static_columns_
                         if schema.column(c).kind in ("numeric", "integer")], t_num, codes)
        windows = self.time_limit(static_tbl) - t_num[start_idx]  # first time to the end
        coverage = (follow_up_coverage(span, windows, lengths) if self._time_bounds else None)
        self.time_extent_ = steadier_extent(span, lengths, coverage)
        static_tbl[self.time_extent_] = (
            coverage if self.time_extent_ == COVERAGE
            else np.where(lengths > 1, span, np.nan) if self.time_extent_ == SPAN
            else np.where(lengths > 1, span / np.maximum(lengths - 1, 1), np.nan))
        # the follow-up window is drawn as it is, and sets the first time: a calendar period
        # bounds both the first time and the end of follow-up, which the copula drew apart
        # (nafld2's windows reach 8,220 days; 5 % of synthetic ones were over 8,866, up to
        # 13,147: spans of 36 years). Where every patient starts at 0 (pbcseq's days since
        # enrolment) the window is the end of follow-up again, and is not added
        starts = t_num[start_idx][np.isfinite(windows)]
        windowed = [ColumnSchema(WINDOW, "numeric", dtype="float64", decimals=tdec)] if (
            self._time_bounds and len(np.unique(starts)) > 1) else []
        if windowed:
            static_tbl[WINDOW] = np.where(np.isfinite(windows), windows, np.nan)
        self._clocks, anchors = Clocks.fit(clean, self._clock_names, schema, t_num, codes, rng,
                                           dated=self.time_kind_ == "datetime")
        for name in anchors.columns:
            static_tbl[name] = anchors[name].to_numpy()
        static_schema = TableSchema(columns=(
            *schema.subset(self.static_columns_).columns,
            ColumnSchema(N_STEPS, "integer", dtype="int64", decimals=0),
            t0_col,
            ColumnSchema(self.time_extent_, "numeric", dtype="float64", decimals=None),
            *windowed,
            *(ColumnSchema(name, "numeric", dtype="float64") for name in anchors.columns),
        ), event_value=schema.event_value)
        from synthmed.generators.registry import generator_class

        static_cls = generator_class(self.static_generator)
        assert issubclass(static_cls, BaseGenerator)  # the tabular choices of _param_checks
        # the smoother below adds the kernel noise: a generator's own would add it twice
        own = {"smoothing": 0.0} if "smoothing" in static_cls._param_checks else {}
        if "n_quantiles" in static_cls._param_checks:
            # a cell of about CELL_VALUES patients, as a measure's (at least the copula's 100
            # quantiles): on nafld2's 7,833 patients the top 1 % cell ran from 52 rows to 257,
            # drawn evenly, and 1 % of synthetic patients had 52-257 rows (real: 0.12 % > 80)
            own["n_quantiles"] = int(np.clip(len(static_tbl) // CELL_VALUES, 100, 1000))
        static_model = static_cls(**own)
        # a coverage is drawn as its rank among patients of about as many rows (a span or mean
        # gap keeps its own scale: on pbcseq's mean gaps the ranks raised the patient
        # detection AUC 0.575 -> 0.587 and the DCR share 0.567 -> 0.587, six splits)
        self._extent_ranks = (ExtentRanks.fit(static_tbl[COVERAGE].to_numpy(float), lengths)
                              if self.time_extent_ == COVERAGE else None)
        model_tbl = static_tbl.copy()
        if self._extent_ranks is not None:
            model_tbl[self.time_extent_] = self._extent_ranks.forward(
                static_tbl[self.time_extent_].to_numpy(float), lengths, rng)
        self.static_model_: BaseGenerator = static_model.fit(model_tbl, schema=static_schema,
                                                             random_state=rng)
        self._smoother = KernelSmoother.fit(model_tbl, static_schema) if (
            self.smooth_static) else KernelSmoother({})
        static_can = coerce_table(static_tbl, static_schema, validate=False)
        feature_cols = _features(static_schema)
        numeric = [c for c in feature_cols
                   if static_schema.column(c).kind in ("numeric", "integer", "datetime")]
        self._static_features = StaticFeatures.fit(static_can[feature_cols], numeric,
                                                   self.max_levels)
        target = schema.target if schema.target in self.static_columns_ else None
        self._target = target
        self._target_levels: list[Any] = []
        if target is not None and target not in numeric:
            self._target_levels = self._static_features.levels[target][1:]

        # measures -> normal scores (and scaled values, see _steps)
        self._codes: dict[str, list[Any] | None] = {}
        self._marginals: list[Marginal] = []
        x_cols, z_cols = [], []
        for name in self.measures_:
            # a missing code ("." in a SAS export) is a gap, not a category of its own
            x = self._measure_numbers(name, without_codes(clean[name], schema.column(name)),
                                      schema.column(name).kind, fit=True)
            marg = Marginal.fit(x, discrete=self._codes[name] is not None)
            self._marginals.append(marg)
            x_cols.append(x)
            # one position per entity inside a discrete value's step (persistence kept)
            z_cols.append(marg.forward(x, rng, position=rng.random(len(start_idx))[codes]))
        x_all, z = np.column_stack(x_cols), np.column_stack(z_cols)
        scaled = np.column_stack([m.scaled(x_all[:, i]) for i, m in enumerate(self._marginals)])
        observed = np.isfinite(z)
        step = np.arange(len(z)) - start_idx[codes]
        s_block = self._static_features.transform(static_can[feature_cols])[codes]
        t_block = self._target_block(static_can)[codes]
        k = len(self.measures_)
        seen_before = history_inputs(z, codes, step)[1]  # recorded at an earlier row
        later_rows = observed & seen_before
        # a held measure's repeats come from its own model (_held); the value heads learn
        # its changes
        repeated = repeated_rows(x_all, codes)
        discrete = np.array([m.discrete for m in self._marginals])
        held = held_measures(repeated, later_rows, ~discrete)
        held_rows = repeated & later_rows & np.isin(np.arange(k), held)

        fits: dict[tuple[bool, ...], tuple[ValueHeads, np.ndarray, np.ndarray, np.ndarray,
                                           np.ndarray]] = {}

        def fit_values(steps: np.ndarray) -> tuple[ValueHeads, np.ndarray, np.ndarray,
                                                   np.ndarray, np.ndarray]:
            """The value heads with each measure in the space ``steps`` says (see _steps),
            their history inputs, standardised inputs, follow-up targets and the inputs'
            mean and sd; a choice already fitted while choosing is not fitted again."""
            key = tuple(bool(b) for b in steps)
            if key not in fits:
                fits[key] = _fit_once(steps)
            return fits[key]

        def _fit_once(steps: np.ndarray) -> tuple[ValueHeads, np.ndarray, np.ndarray,
                                                  np.ndarray, np.ndarray]:
            kept = kept_values(z, scaled, steps)
            history, seen = history_inputs(kept, codes, step)
            x_val = self._design(history, first.astype(float), np.log1p(dt), offset,
                                 span[codes], s_block, t_block)
            x_sd = x_val.std(axis=0)
            scale = np.vstack([x_val.mean(axis=0), np.where(x_sd > 0, x_sd, 1.0)])
            xs = (x_val - scale[0]) / scale[1]
            targets = later_targets(kept, history[:, :k], steps)  # inputs: last values first
            targets = np.where(held_rows, np.nan, targets)
            # the outcome link is kept whole: a penalty chosen for the many history inputs of
            # a small cohort shrank it away (clif_labs early warning 0.82 -> 0.68 AUROC)
            heads = ValueHeads.fit(xs, z, targets, seen, self.ridge,
                                   free=3 * t_block.shape[1], own=own_inputs(k))
            return heads, history, xs, targets, scale

        def follow_up(steps: np.ndarray) -> tuple[LinearHead, np.ndarray, np.ndarray]:
            heads, _, xs, targets, _ = fit_values(steps)
            return heads.follow_up, xs, targets

        self._steps = choose_steps(self._marginals, x_all, later_rows & ~held_rows, codes,
                                   follow_up)
        self._values, history, xs, targets, (self._x_mean, self._x_sd) = fit_values(
            self._steps)
        self._held = HeldValues.fit(xs, repeated, later_rows, held, self.ridge)
        self._labels = RowLabels.fit(
            xs, z, x_all, history[:, :k], seen_before, self._marginals,
            label_measures([self._codes[m] for m in self.measures_], self._marginals),
            codes, self.ridge, rng)
        follow = self._values.follow_up
        # continuous measures only: a yes/no one that never changes has no residual to scale
        resid = np.where(later_rows & ~discrete & ~held_rows, targets - follow.predict(xs),
                         np.nan)
        self._volatility = VolatilityModel.fit(
            resid / np.sqrt(np.maximum(np.diag(follow.chol @ follow.chol.T), 1e-12)), codes,
            np.hstack([s_block[start_idx], t_block[start_idx]]), self.ridge)
        # whether a measure was ever recorded before: a rate of earlier rows cannot say "never"
        # sharply enough for a linear logit, and real recording is a habit (nafld2's smoking
        # status: recorded for 25% of patients with 10+ rows, 40% synthetic without this flag)
        self._missing = LogisticHeads.fit(np.hstack([xs, seen_before]),
                                          observed.astype(float), self.ridge)
        # rows that record no measure (a visit whose only lab was not drawn) are drawn as such
        # where training has them; elsewhere a row that drew nothing records its likeliest
        self._empty_rows = bool((~observed.any(axis=1)).any())
        later = ~first
        prev_offset = np.r_[0.0, offset[:-1]]
        x_gap = np.hstack([
            self._design(history, np.zeros(len(z)), np.zeros(len(z)), prev_offset, span[codes],
                         s_block, t_block),
            gap_inputs(prev_offset, span[codes], lengths[codes] - step)])
        self._gaps = GapModel.fit(x_gap[later], dt[later], self.ridge, rng)
        self._t_range = (float(np.nanmin(t_num)), float(np.nanmax(t_num)))
        self._time_grid = (visit_schedule(t_num) if self.time_kind_ != "datetime" else None)
        self._max_len = int(lengths.max())

    def _measure_numbers(self, name: str, values: pd.Series, kind: str, *,
                         fit: bool) -> np.ndarray:
        if holds_labels(values, kind):  # "y"/"n" too: float(bool("n")) would be 1
            if fit:
                counts = values.astype(object).value_counts(dropna=True)
                self._codes[name] = [jsonable(v) for v in counts.index]
            levels = self._codes[name] or []
            lookup = {v: float(i) for i, v in enumerate(levels)}
            return values.astype(object).map(lookup).to_numpy(dtype=float)
        if fit:
            self._codes[name] = None
        if pd.api.types.is_bool_dtype(values) or kind == "boolean":
            obj = values.astype(object)
            return obj.map(lambda v: np.nan if pd.isna(v) else float(bool(v))).to_numpy(float)
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)

    def _target_block(self, static_can: pd.DataFrame) -> np.ndarray:
        if self._target is None:
            return np.zeros((len(static_can), 0))
        if not self._target_levels:  # numeric target
            x = pd.to_numeric(static_can[self._target], errors="coerce").to_numpy(dtype=float)
            return np.nan_to_num(x)[:, None]
        obj = static_can[self._target].astype(object)
        return np.column_stack([(obj == level).to_numpy(dtype=float)
                                for level in self._target_levels])

    @staticmethod
    def _design(history: np.ndarray, first: np.ndarray, log_dt: np.ndarray,
                offset: np.ndarray, span: np.ndarray, s_block: np.ndarray,
                t_block: np.ndarray) -> np.ndarray:
        log_t = np.log1p(np.maximum(offset, 0.0))
        frac = np.where(span > 0, np.clip(offset / np.where(span > 0, span, 1.0), 0, 1.5), 0.0)
        base = [history, first[:, None], log_dt[:, None], log_t[:, None],
                (log_t**2)[:, None], frac[:, None], s_block]
        if t_block.shape[1]:  # last: the value heads leave the outcome unpenalised
            base += [t_block, t_block * frac[:, None], t_block * log_t[:, None]]
        return np.column_stack(base)

    # ------------------------------------------------------------------ sample
    def sample(self, n: int, *, conditions: Mapping[str, Any] | pd.DataFrame | None = None,
               random_state: RandomState = 0, allow_copies: bool = False) -> pd.DataFrame:
        """Draw ``n`` synthetic entities (patients or stays) in long format.

        Parameters
        ----------
        n : int
            Number of entities, positive.
        conditions : mapping or DataFrame, optional
            Static values: ``{column: value}`` for every entity, or a DataFrame of ``n`` rows
            (one per entity, in the order of the fresh ids).
        random_state : int or numpy Generator
        allow_copies : bool
            Keep trajectories identical to a training trajectory (rejected by default).

        Returns
        -------
        DataFrame
            One row per entity and time, sorted; entity ids are fresh (``syn-00001``...).
        """
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' before "
                "'sample'.")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ParameterError(f"`n` must be a positive integer, got {n!r}.")
        n = int(n)
        rng = make_rng(random_state)
        if isinstance(conditions, pd.DataFrame):
            conditions = conditions.reset_index(drop=True)
        with one_thread():
            return self._sample_entities(n, conditions, rng, allow_copies)

    def _sample_entities(self, n: int, conditions: Any, rng: np.random.Generator,
                         allow_copies: bool) -> pd.DataFrame:
        out = self._draw_entities(n, conditions, rng)
        if not allow_copies:
            for _ in range(MAX_RESAMPLE_ROUNDS):
                copied = np.unique(out["__pos"].to_numpy()[self.copies_of_training(
                    self._finish(out, n))])
                if not len(copied):
                    break
                sub = conditions.iloc[copied].reset_index(drop=True) if isinstance(
                    conditions, pd.DataFrame) else conditions
                redraw = self._draw_entities(len(copied), sub, rng)
                redraw["__pos"] = copied[redraw["__pos"].to_numpy()]
                out = pd.concat([out[~out["__pos"].isin(copied)], redraw], ignore_index=True)
                out = out.sort_values("__pos", kind="stable").reset_index(drop=True)
            else:
                if self.copies_of_training(self._finish(out, n)).any():
                    raise DataError(
                        f"Could not avoid copying training trajectories after "
                        f"{MAX_RESAMPLE_ROUNDS} rounds: the model keeps drawing trajectories "
                        f"that fewer than {COMMON_RECORD_MIN_COUNT} training patients share; "
                        "pass allow_copies=True for a non-public release.")
        return self._finish(out, n)

    def _finish(self, frame: pd.DataFrame, n: int) -> pd.DataFrame:
        width = max(5, len(str(n)))
        ids = pd.Series([f"syn-{i + 1:0{width}d}" for i in range(n)], dtype=object)
        out = frame.drop(columns="__pos").copy()
        out.insert(0, self.entity_, ids.iloc[frame["__pos"].to_numpy()].to_numpy())
        return out[self.schema_.names].reset_index(drop=True)

    def _draw_entities(self, n: int, conditions: Any, rng: np.random.Generator) -> pd.DataFrame:
        statics = self.static_model_.sample(n, conditions=conditions, random_state=rng,
                                            allow_copies=True)
        fixed = frozenset(conditions.columns if isinstance(conditions, pd.DataFrame)
                          else (conditions or {}))
        statics = self._smoother.transform(statics, rng, keep=fixed)
        static_schema = self.static_model_.schema_
        can = coerce_table(statics, static_schema, validate=False)
        lengths = np.clip(np.round(can[N_STEPS].to_numpy(dtype=float)), 1, self._max_len)
        lengths = lengths.astype(int)
        if self._extent_ranks is not None:
            can[self.time_extent_] = self._extent_ranks.inverse(
                can[self.time_extent_].to_numpy(float), lengths)
        limit = self.time_limit(can)
        if WINDOW in can.columns:  # the first time a drawn window before the drawn end
            drawn_window = can[WINDOW].to_numpy(dtype=float)
            known = np.isfinite(limit) & np.isfinite(drawn_window)
            can.loc[known, T0] = limit[known] - np.maximum(drawn_window[known], 0.0)
        if np.isfinite(limit).any():  # the trajectory starts and ends within follow-up
            can[T0] = np.minimum(can[T0].to_numpy(dtype=float), limit)
        window = np.maximum(limit - can[T0].to_numpy(dtype=float), 0.0)
        span = np.minimum(drawn_span(can, self.time_extent_, lengths, window, rng), window)
        feature_cols = _features(static_schema)
        s_all = self._static_features.transform(can[feature_cols])
        t_all = self._target_block(can)
        volatility = (None if self._volatility is None
                      else self._volatility.sample(np.hstack([s_all, t_all]), rng))
        # where the drawn span is where the trajectory ends, its rows come before it; not
        # where the mean gap is what varies least (pbcseq's yearly visits): its gaps are drawn
        # freely (before that end, six splits x three seeds: DCR share 0.576 -> 0.599,
        # holdout 0.583; forecast 0.498 -> 0.509)
        ends = bool(self._time_bounds) or (self.time_extent_ == SPAN and self._time_grid is None)
        before_end = ends and self.time_extent_ != MEAN_GAP
        history = History.empty(n, len(self.measures_))
        offset = np.zeros(n)
        # each patient's place inside a label's category step (one per patient, as fitted)
        label_place = (None if self._labels is None
                       else rng.random((n, len(self._labels.measures))))
        pos_parts, t_parts, value_parts = [], [], []
        for j in range(int(lengths.max())):
            act = np.flatnonzero(lengths > j)
            m = len(act)
            past = history.inputs(act)
            log_dt = np.zeros(m)
            if j > 0:
                x_gap = np.hstack([
                    self._design(past, np.zeros(m), np.zeros(m), offset[act], span[act],
                                 s_all[act], t_all[act]),
                    gap_inputs(offset[act], span[act], lengths[act] - j)])
                dt = self._gaps.sample(x_gap, rng, below=np.where(
                    lengths[act] - j > 1, span[act] - offset[act], np.nan) if before_end
                    else None)
                offset[act] += dt
                log_dt = np.log1p(dt)
            x = self._design(past, np.full(m, float(j == 0)), log_dt, offset[act], span[act],
                             s_all[act], t_all[act])
            xs = (x - self._x_mean) / self._x_sd
            obs, proba = self._missing.sample(np.hstack([xs, history.seen(act)]), rng)
            if not self._empty_rows:
                none = ~obs.any(axis=1)
                obs[none, np.argmax(proba[none], axis=1)] = True  # a row records something
            later = history.seen(act)
            drawn = self._values.sample(xs, later, rng,
                                        None if volatility is None else volatility[act])
            values, kept = step_values(self._marginals, drawn, later, history.last[act],
                                       self._steps)
            if self._held is not None:  # the previous value again: a step of 0
                same = self._held.sample(xs, later, rng)
                last = history.last[act]
                held_values, held_kept = step_values(
                    self._marginals, np.where(self._steps, 0.0, last), later, last,
                    self._steps)
                values = np.where(same, held_values, values)
                kept = np.where(same, held_kept, kept)
            if self._labels is not None and label_place is not None:
                values, kept, obs = self._draw_labels(xs, values, kept, obs, history, act,
                                                      label_place[act], rng)
            history.update(act, kept, obs)
            pos_parts.append(act)
            t_parts.append(offset[act].copy())
            value_parts.append(np.where(obs, values, np.nan))
        if ends:
            # the gaps end short of the drawn span (nafld2: 83% of the window covered against
            # 92% drawn); where follow-up pins the end, or the span is what the patient-level
            # model draws, stretch them so the last row lands on it (the whole nafld2 export,
            # drawn spans: 1 % of synthetic patients ended up beyond the longest real span)
            moved = (offset > 0) & (span > 0)
            stretch = np.where(moved, span / np.where(moved, offset, 1.0), 1.0)
            t_parts = [t * stretch[p] for t, p in zip(t_parts, pos_parts, strict=True)]
        pos = np.concatenate(pos_parts)
        order = np.lexsort((np.concatenate(t_parts), pos))
        pos, t_off = pos[order], np.concatenate(t_parts)[order]
        long = assemble(self, statics, can, pos, t_off, np.vstack(value_parts)[order])
        if not self._clocks.clocks:
            return long
        times = long[self.time_]
        t_num = (hours_of(read_dates(times, self.schema_.column(self.time_).date_format))
                 if self.time_kind_ == "datetime"
                 else pd.to_numeric(times, errors="coerce").to_numpy(dtype=float))
        clocks = self._clocks.write(long, can, t_num, long["__pos"].to_numpy(), rng)
        written = restore_table(clocks[self._clocks.names],
                                self.schema_.subset(self._clocks.names))
        for name in self._clocks.names:
            clocks[name] = written[name].to_numpy()
        return clocks

    def _draw_labels(self, xs: np.ndarray, values: np.ndarray, kept: np.ndarray,
                     obs: np.ndarray, history: History, act: np.ndarray, place: np.ndarray,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A row's label measures drawn again, recorded or not, given its other measures
        (:mod:`._labels`): the row's values, kept scores and recorded flags."""
        assert self._labels is not None
        # the numbers' normal scores as fitting saw them: a continuous value's own score (a
        # drawn score anywhere in an atom's range stands for the atom: 93 % of Ct values are
        # 45, fitted at one score), a discrete one's place in its step as drawn
        scores = kept.copy()
        for i, marg in enumerate(self._marginals):
            if not marg.discrete:
                scores[:, i] = marg.forward(values[:, i], rng)
        labels = self._labels.measures
        last = RowLabels.last_codes(history.last[act], history.seen(act), self._marginals,
                                    labels)
        numbers = np.setdiff1d(np.arange(len(self.measures_)), labels)
        empty = None if self._empty_rows else np.asarray(~obs[:, numbers].any(axis=1))
        codes = self._labels.sample(xs, scores, obs, last, rng, must_record=empty)
        recorded = codes < np.array(self._labels.levels)
        values, kept, obs = values.copy(), kept.copy(), obs.copy()
        values[:, labels] = np.where(recorded, codes, np.nan)
        kept[:, labels] = self._labels.scores(codes, self._marginals, place)
        obs[:, labels] = recorded
        return values, kept, obs

    def written_columns(self) -> list[Twin]:
        """Measures and static columns written from another column after each draw
        (:mod:`synthmed.generators._twins`)."""
        return [*self._measure_twins, *self.static_model_.twins_]

    def time_limit(self, can: pd.DataFrame) -> np.ndarray:
        """Each drawn patient's latest allowed time: the smallest of its static columns that
        bound the training times (:func:`._patient.time_bounds`), else infinity."""
        limit = np.full(len(can), np.inf)
        for name in self._time_bounds:
            bound = pd.to_numeric(can[name], errors="coerce").to_numpy(dtype=float)
            limit = np.fmin(limit, np.where(np.isfinite(bound), bound, np.inf))
        return limit

    # ------------------------------------------------------------------ copies
    def copies_of_training(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows whose entity's whole trajectory equals a training one."""
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet.")
        if len(frame) == 0:
            return np.zeros(0, dtype=bool)
        hashes, codes = entity_hashes(frame, self.schema_, self.entity_, self._hash_key_)
        return np.isin(hashes, self._train_hashes_)[codes]

    # ------------------------------------------------------------------ BaseGenerator hooks
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        raise NotImplementedError  # fit is overridden: records are trajectories, not rows

    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        raise NotImplementedError  # sample is overridden

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return get_state(self)

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        set_state(self, meta, arrays)


def _features(static_schema: TableSchema) -> list[str]:
    """The patient-level columns the sequence model conditions on: not the first time or the
    window that sets it, nor a clock's anchor (an absolute date, which says nothing about the
    course)."""
    return [c for c in static_schema.names
            if c not in (T0, WINDOW) and not c.startswith(ANCHOR)]

