"""Label columns of the Gaussian copula drawn again given the rest of the row.

The copula gives each column one latent, and a label column's categories are intervals of it
in frequency order. A latent can say "higher" or "lower", not "this group, that answer": in
a children's hospital's COVID tests (medicaldata's covid_testing) a client of the lab never
comes through the drive-through and a "misc adult" nearly always does (98 %), while the
patients in between do half and half; the copula drew 36-64 % for all of them, and the
patients' static columns alone told synthetic ones from real at AUC 0.66.

So once the copula has drawn a row of a table of 1,000 training rows or more
(:data:`.._multinomial.MIN_CHAIN_ROWS`: below, the chain followed the few training rows and
the DCR share rose), the target (where it is a label), each yes/no column (text,
true/false or a 0/1 number), then each label column of 3 to :data:`MAX_LEVELS` categories
are drawn again, each group in column order (a condition on a chained column leaves the
links before it as the copula drew them, and augmentation asks for an outcome or a group),
from a multinomial logistic model (:mod:`.._multinomial`) on the row's
other columns (normal scores of numbers, dates and ordered categories, 0 and a flag where
missing; continuous ones also through hats, :func:`.._multinomial.hats`) and the label
columns before it (one-hot); "missing" is a class of its own where the column has missing
values. A yes/no column's latent correlation (the polychoric estimate) with a number is a
line too: the hospital's drive-through is used by its staff of working age (98 %) but not by
its clients, most of them over 60, so the copula drew it for 76 % of synthetic patients over
60 (real 27 %), and the chain, seeing it, kept them from being clients (21 % against 69 %).
Drawn by the chain, yes/no columns took the copula's detection AUC on nwtco from 0.61-0.62 to
0.47-0.49 and on rotterdam from 0.74-0.76 to 0.68-0.70 (three seeds each).

The hats (knots every half unit from -2 to 2) let a category hold a band of a number. With
the score alone, a line in age's score moved the children's hospital's "patient" to "misc
adult" over ages 14-40 (p(misc adult) 0.09 at 17 and 0.46 at 30, where the real groups part
at 18-25); with the hats 0.001 and 0.80. flchain's FLC group is a decile of kappa plus
lambda, a band of each for a given other: the copula's detection AUC there was 0.78-0.80
over three seeds, 0.64-0.65 with the hats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from synthmed.generators._multinomial import (
    KNOTS,
    draw_classes,
    fit_multinomial,
    hats,
    one_hot,
)

__all__ = ["MAX_LEVELS", "LabelChain"]

#: categories a label column may have to be drawn by the chain (beyond: free text, codes of
#: thousands of items, left to the copula)
MAX_LEVELS = 200
#: rows the chain's models are fitted on at most (a random subset beyond)
MAX_ROWS = 20_000
#: penalty of the chain's models before the held-out choice (standardised inputs)
RIDGE = 1.0

#: a frame -> rows x inputs: the input columns' normal scores, NaN where missing
Scores = Callable[[pd.DataFrame], np.ndarray]


@dataclass
class LabelChain:
    """One multinomial logistic model per label column, each seeing the labels before it."""

    columns: list[str]  # the label columns, in chain order
    levels: list[int]  # categories of each; one more class (missing) where ``missing``
    missing: list[bool]
    inputs: list[str]  # the other columns, as normal scores
    flagged: list[bool]  # which inputs get a missing flag
    coef: list[np.ndarray]  # per label: (features + 1) x classes
    #: which inputs are continuous and enter through hats too (none in older models)
    curved: list[bool] = field(default_factory=list)
    #: the hats' knots
    knots: tuple[float, ...] = KNOTS

    def _features(self, scores: np.ndarray, codes: np.ndarray, upto: int) -> np.ndarray:
        """Link ``upto``'s features: input scores (0 where missing), missing flags of the
        flagged inputs, one-hot categories of the labels before it (zeros where missing)."""
        return np.hstack([self._base(scores),
                          *(one_hot(codes[:, i], self.levels[i]) for i in range(upto))])

    def _base_logits(self, base: np.ndarray) -> np.ndarray:
        """Every link's logits from ``base`` (:meth:`_base`) alone, classes x rows, the links'
        classes one after another: one matrix product for the whole chain (eight links of a
        few classes each made eight thin ones), laid out as :func:`draw_classes` reads it."""
        k = base.shape[1]
        weights = np.hstack([w[:k] for w in self.coef]).astype(base.dtype)
        intercepts = np.concatenate([w[-1] for w in self.coef]).astype(base.dtype)
        return weights.T @ base.T + intercepts[:, None]

    def _logits(self, base_logits: np.ndarray, k: int, codes: np.ndarray,
                upto: int) -> np.ndarray:
        """Link ``upto``'s logits, classes x rows: its block of :meth:`_base_logits` (``k``
        base features) plus, for each label before it, its category's row of weights (a row
        of zeros where missing): one sparse product of the earlier categories, one-hot,
        with those rows (a million rows' dense one-hots of an 88-category clinic were 0.7 GB
        a link; a gather per earlier label took up to twice as long as the product)."""
        start = sum(w.shape[1] for w in self.coef[:upto])
        w = self.coef[upto].astype(base_logits.dtype)
        logits = base_logits[start:start + w.shape[1]]
        if upto == 0:
            return logits
        blocks = []
        for n in self.levels[:upto]:  # a row of zeros after each block stands for "missing"
            blocks += [w[k:k + n], np.zeros((1, w.shape[1]), w.dtype)]
            k += n
        rows = np.vstack(blocks)
        levels = np.asarray(self.levels[:upto])
        offsets = np.r_[0, np.cumsum(levels + 1)[:-1]]
        index = (np.minimum(codes[:, :upto], levels) + offsets).ravel()
        one_hot_rows = sparse.csr_matrix(
            (np.ones(len(index), w.dtype), index, np.arange(0, len(index) + 1, upto)),
            shape=(len(codes), len(rows)))
        logits += (one_hot_rows @ rows).T
        return logits

    def _base(self, scores: np.ndarray) -> np.ndarray:
        """Every link's first features: input scores and their hats (0 where missing),
        missing flags; in the dtype of ``scores``."""
        gone = ~np.isfinite(scores)
        z = np.where(gone, 0.0, scores)
        curved = np.asarray(self.curved, dtype=bool).reshape(-1)
        bent = (hats(z[:, curved], ~gone[:, curved], self.knots)
                if len(curved) == z.shape[1] and curved.any()
                else np.zeros((len(z), 0), dtype=z.dtype))
        flags = gone[:, self.flagged]
        # column-major like the hats: the blocks are copied in, not interleaved row by row
        base = np.empty((len(z), z.shape[1] + bent.shape[1] + flags.shape[1]), z.dtype, "F")
        base[:, :z.shape[1]] = z
        base[:, z.shape[1]:z.shape[1] + bent.shape[1]] = bent
        base[:, z.shape[1] + bent.shape[1]:] = flags
        return base

    @classmethod
    def fit(cls, columns: list[str], categories: list[list[Any]], inputs: list[str],
            frame: pd.DataFrame, scores: Scores, rng: np.random.Generator,
            curved: list[bool] | None = None) -> LabelChain | None:
        """The chain of the label ``columns`` (their ``categories`` in code order) over the
        training ``frame``; ``scores`` gives the ``inputs``' normal scores, ``curved`` which
        of them are continuous (through hats too). None where there is no label column."""
        if not columns:
            return None
        rows = np.arange(len(frame))
        if len(rows) > MAX_ROWS:
            rows = np.sort(rng.choice(rows, MAX_ROWS, replace=False))
        sub = frame.iloc[rows]
        input_scores = scores(sub)
        flagged = list(np.isnan(input_scores).any(axis=0))
        levels = [len(c) for c in categories]
        missing = [bool(frame[c].isna().any()) for c in columns]
        codes = np.column_stack([_codes(sub[c], cats) for c, cats in
                                 zip(columns, categories, strict=True)])
        chain = cls(list(columns), levels, missing, list(inputs), [bool(f) for f in flagged], [],
                    [bool(c) for c in curved] if curved is not None else [False] * len(inputs))
        for i in range(len(columns)):
            x = chain._features(input_scores, codes, i)
            classes = levels[i] + int(missing[i])
            chain.coef.append(fit_multinomial(x, codes[:, i], classes, rows, RIDGE))
        return chain

    def redraw(self, frame: pd.DataFrame, categories: list[list[Any]], scores: Scores,
               decode: Callable[[int, np.ndarray], Any], keep: frozenset[str],
               rng: np.random.Generator) -> pd.DataFrame:
        """``frame`` with each label column drawn again given the row; ``decode`` turns a
        label's codes (``levels``: missing) into its values. A label in ``keep`` (the
        caller's conditions) stays and informs the links after it; the links before it stay
        as the copula drew them given the condition (a link cannot see a later one)."""
        out = frame.copy()
        base = self._base(scores(out).astype(np.float32))  # half the memory traffic
        base_logits = self._base_logits(base)
        codes = np.column_stack([_codes(out[c], cats) for c, cats in
                                 zip(self.columns, categories, strict=True)])
        kept = [i for i, name in enumerate(self.columns) if name in keep]
        for i in range(max(kept) + 1 if kept else 0, len(self.columns)):
            name = self.columns[i]
            logits = self._logits(base_logits, base.shape[1], codes, i)
            drawn = draw_classes(logits.T, rng)
            codes[:, i] = drawn
            out[name] = decode(i, drawn)
        return out

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return ({"columns": self.columns, "levels": self.levels, "missing": self.missing,
                 "inputs": self.inputs, "flagged": self.flagged, "curved": self.curved,
                 "knots": list(self.knots)},
                {f"chain{i}_coef": c for i, c in enumerate(self.coef)})

    @classmethod
    def from_state(cls, meta: Mapping[str, Any] | None,
                   arrays: Mapping[str, np.ndarray]) -> LabelChain | None:
        if not meta:
            return None
        columns = [str(c) for c in meta["columns"]]
        return cls(columns, [int(v) for v in meta["levels"]],
                   [bool(v) for v in meta["missing"]], [str(c) for c in meta["inputs"]],
                   [bool(v) for v in meta["flagged"]],
                   [np.asarray(arrays[f"chain{i}_coef"], float) for i in range(len(columns))],
                   [bool(v) for v in meta.get("curved", [])],
                   tuple(float(k) for k in meta.get("knots", KNOTS)))


def _codes(values: pd.Series, categories: list[Any]) -> np.ndarray:
    """Each value's code among ``categories``; ``len(categories)`` where missing or unknown."""
    codes = pd.Index(categories).get_indexer(values)
    return np.where(codes >= 0, codes, len(categories)).astype(np.int64)
