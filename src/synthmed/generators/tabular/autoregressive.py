"""Neural autoregressive generator over columns (in the spirit of MOSTLY AI's TabularARGN).

Every column becomes tokens: categories (the most frequent ``max_categories``, the rest pooled
in an "other" token drawn by frequency) or, for numbers and dates, quantile bins (one token per
distinct value when there are at most ``n_bins`` of them); a missing value is a token of its
own, so missingness is modelled and may depend on other columns. A number is drawn inside its
bin from a few stored within-bin quantiles, never from stored rows, and never outside the
training range; the base class rounds it to the source's precision.

A small PyTorch network gives the distribution of each column's token given any set of known
columns (an order-agnostic autoregressive model, see :mod:`._ar_network`). It is trained with
known-column sets drawn half from prefixes of the fixed column order and half at random, with
dropout, weight decay and early stopping on a validation split against memorisation.

Sampling draws the columns one at a time, vectorised over rows, in the table's column order.
Columns missing on exactly the same training rows (a block of items not recorded for some
patients) are drawn missing together (:mod:`._missing_blocks`): the network learns that
block only approximately on a few hundred rows.
**Conditioning**: the conditioned columns are known from the start (per row; a missing value
is the "missing" token), and the others are drawn in the table's order from the network's
conditionals given everything known so far, so a condition on any column shifts every other
column, including those that come before it in the table. This is why training uses random
known-column sets and not one fixed order (importance resampling would be needed otherwise,
which fails for rare or per-row conditions).

Example
-------
>>> from synthmed import load_dataset
>>> from synthmed.generators.tabular.autoregressive import NeuralAutoregressive
>>> pbc = load_dataset("pbc")
>>> gen = NeuralAutoregressive(max_epochs=20).fit(pbc.frame, schema=pbc.schema)
>>> dead = gen.sample(50, conditions={"status": 2}, random_state=0)
>>> bool((dead["status"] == 2).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthmed.generators.base import (
    BaseGenerator,
    GeneratorTags,
    ParamCheck,
    float_in,
    int_in,
    optional,
)
from synthmed.generators.tabular._bn_encoding import (
    CONTINUOUS_KINDS,
    N_QUANTILES,
    CategoricalCoder,
    Coder,
    NumericCoder,
    _as_float,
    coder_from_state,
)
from synthmed.generators.tabular._missing_blocks import missing_together
from synthmed.schema import TableSchema

__all__ = ["NeuralAutoregressive"]

#: fewest bins of a numeric column however small the table
MIN_BINS = 10



class NeuralAutoregressive(BaseGenerator):
    """Autoregressive neural network over tokenised columns, with any-order conditioning.

    Parameters
    ----------
    n_bins : int, default 32
        Most quantile bins per numeric or datetime column. Small tables get fewer,
        ``max(10, sqrt(rows))``, against memorisation; a column with no more distinct values
        than bins gets one token per value.
    max_categories : int, default 100
        Categories kept as tokens of their own; rarer ones share an "other" token.
    embedding_dim : int, default 16
        Size of each column's token embedding.
    hidden_size : int, default 256
        Width of the network's hidden layers.
    n_layers : int, default 2
        Hidden layers (the ones after the first are residual).
    dropout : float, default 0.3
        Dropout in the hidden layers.
    learning_rate : float, default 1e-3
        AdamW learning rate.
    weight_decay : float, default 1e-4
        AdamW weight decay.
    batch_size : int or None, default None
        Rows per step; by default it grows with the data, from 32 to 512 rows.
    max_epochs : int, default 300
        Upper limit on passes over the training rows.
    patience : int, default 15
        Epochs without improvement of the validation loss before training stops; the best
        epoch's weights are kept.
    validation_fraction : float, default 0.1
        Share of the training rows held out for early stopping (none under 10 rows).
    time_budget_s : float or None, default None
        Stop training after the epoch during which this many seconds have passed. Training
        stopped by the clock depends on the machine, so the same seed may then give another
        model.

    Attributes
    ----------
    n_epochs_ : int
        Epochs run.
    best_epoch_ : int
        Epoch whose weights were kept.
    stopped_by_ : {"early_stopping", "time_budget", "max_epochs"}
        Why training stopped.
    history_ : list of (float, float)
        Training and validation loss of each epoch.

    Examples
    --------
    >>> from synthmed import get_generator, load_dataset
    >>> pbc = load_dataset("pbc")
    >>> gen = get_generator("neural_ar", max_epochs=5).fit(pbc.frame, schema=pbc.schema)
    >>> gen.sample(3, random_state=0).shape
    (3, 19)
    """

    name: ClassVar[str] = "neural_ar"
    _tags: ClassVar[GeneratorTags] = GeneratorTags(
        modality="table", supports_conditioning=True, handles_missing=True, needs=("torch",)
    )
    _param_checks: ClassVar[dict[str, ParamCheck]] = {
        "n_bins": int_in(2, 10_000),
        "max_categories": int_in(2, 100_000),
        "embedding_dim": int_in(1, 1024),
        "hidden_size": int_in(1, 8192),
        "n_layers": int_in(1, 16),
        "dropout": float_in(0.0, 0.9),
        "learning_rate": float_in(0.0, 1.0, low_open=True),
        "weight_decay": float_in(0.0, 1.0),
        "batch_size": optional(int_in(1, 1_000_000)),
        "max_epochs": int_in(1, 100_000),
        "patience": int_in(1, 100_000),
        "validation_fraction": float_in(0.0, 0.5, low_open=True),
        "time_budget_s": optional(float_in(0.0, low_open=True)),
    }

    def __init__(self, *, n_bins: int = 32, max_categories: int = 100, embedding_dim: int = 16,
                 hidden_size: int = 256, n_layers: int = 2, dropout: float = 0.3,
                 learning_rate: float = 1e-3, weight_decay: float = 1e-4,
                 batch_size: int | None = None, max_epochs: int = 300, patience: int = 15,
                 validation_fraction: float = 0.1, time_budget_s: float | None = None) -> None:
        self.n_bins = n_bins
        self.max_categories = max_categories
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.time_budget_s = time_budget_s

    @classmethod
    def get_test_params(cls) -> list[dict[str, Any]]:
        return [{"max_epochs": 15, "hidden_size": 32, "embedding_dim": 4, "learning_rate": 1e-2},
                {"max_epochs": 15, "hidden_size": 16, "n_layers": 1, "n_bins": 5,
                 "max_categories": 8, "batch_size": 64, "dropout": 0.0, "learning_rate": 1e-2}]

    # ------------------------------------------------------------------ fit
    def _fit(self, frame: pd.DataFrame, schema: TableSchema, rng: np.random.Generator) -> None:
        from synthmed.generators.tabular._ar_network import TrainConfig, train

        names = list(frame.columns)
        kinds = [schema.column(name).kind for name in names]
        coders: list[Coder] = []
        n_bins = min(self.n_bins, max(MIN_BINS, int(np.sqrt(len(frame)))))
        for name, kind in zip(names, kinds, strict=True):
            if kind in CONTINUOUS_KINDS:
                coders.append(_numeric_coder(frame[name], kind, n_bins))
            else:
                coders.append(CategoricalCoder.fit(frame[name].astype(object),
                                                   str(frame[name].dtype),
                                                   self.max_categories, noise=None))
        tokens = np.column_stack([c.encode(frame[name]) for c, name in zip(coders, names,
                                                                           strict=True)])
        batch = self.batch_size or int(np.clip(len(frame) // 16, 32, 512))
        config = TrainConfig(
            embedding_dim=self.embedding_dim, hidden_size=self.hidden_size,
            n_layers=self.n_layers, dropout=self.dropout, learning_rate=self.learning_rate,
            weight_decay=self.weight_decay, batch_size=batch, max_epochs=self.max_epochs,
            patience=self.patience, validation_fraction=self.validation_fraction,
            time_budget_s=self.time_budget_s)
        result = train(tokens, [c.n_states for c in coders], config, rng)
        self._names_, self._kinds_, self._coders_ = names, kinds, coders
        self._missing_with_ = missing_together(frame)
        self._net_ = result.net
        self.n_epochs_, self.best_epoch_ = result.n_epochs, result.best_epoch
        self.stopped_by_, self.history_ = result.stopped_by, result.history

    # ------------------------------------------------------------------ sample
    @property
    def draws_in_threads(self) -> bool:
        # torch already draws on both cores, and torch_session sets its global thread count
        return False

    def _sample(self, n: int, conditions: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
        from synthmed.generators.tabular._ar_network import sample_tokens, torch_session

        d = len(self._names_)
        tokens = np.zeros((n, d), dtype=np.int64)
        known = np.zeros((n, d), dtype=bool)
        if conditions is not None:
            for name in conditions.columns:
                j = self._names_.index(name)
                tokens[:, j] = self._coders_[j].encode(conditions[name])
                known[:, j] = True
        with torch_session():
            tokens = sample_tokens(self._net_, tokens, known, rng, self._missing_with_)
        out = {name: coder.decode(tokens[:, j], rng)
               for j, (name, coder) in enumerate(zip(self._names_, self._coders_, strict=True))}
        return pd.DataFrame(out)

    def _condition_values_known(self, column: str, values: pd.Series) -> bool:
        coder = self._coders_[self._names_.index(column)]
        if isinstance(coder, CategoricalCoder):
            return coder.knows(values.astype(object))
        return coder.knows(values)

    # ------------------------------------------------------------------ state
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        from synthmed.generators.tabular._ar_network import state_arrays

        columns: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {}
        for i, (name, coder) in enumerate(zip(self._names_, self._coders_, strict=True)):
            meta, coder_arrays = coder.to_state()
            columns.append({"name": name, "coder": meta})
            arrays.update({f"col{i}.{k}": v for k, v in coder_arrays.items()})
        arrays.update({f"net.{k}": v for k, v in state_arrays(self._net_).items()})
        net = self._net_
        arch = {"vocab": net.vocab, "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "n_layers": self.n_layers}
        training = {"n_epochs": self.n_epochs_, "best_epoch": self.best_epoch_,
                    "stopped_by": self.stopped_by_, "history": self.history_}
        return {"columns": columns, "network": arch, "training": training,
                "missing_with": self._missing_with_}, arrays

    def _set_state(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from synthmed.generators.tabular._ar_network import net_from_arrays

        columns = meta["columns"]
        self._names_ = [str(c["name"]) for c in columns]
        self._kinds_ = [self.schema_.column(name).kind for name in self._names_]
        self._coders_ = []
        for i, col in enumerate(columns):
            prefix = f"col{i}."
            own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            self._coders_.append(coder_from_state(col["coder"], own))
        weights = {k[4:]: v for k, v in arrays.items() if k.startswith("net.")}
        self._net_ = net_from_arrays(dict(meta["network"]), weights)
        if self._net_.vocab != [c.n_states for c in self._coders_]:
            raise ValueError("the network's vocabularies do not match the column coders")
        training = meta["training"]
        self.n_epochs_, self.best_epoch_ = int(training["n_epochs"]), int(training["best_epoch"])
        self.stopped_by_ = str(training["stopped_by"])
        self.history_ = [(float(a), float(b)) for a, b in training["history"]]
        # absent from models saved before: each column's missingness drawn on its own
        self._missing_with_ = [int(i) for i in meta.get("missing_with", [-1] * len(columns))]


def _numeric_coder(series: pd.Series, kind: str, n_bins: int) -> NumericCoder:
    """Quantile bins; a column with at most ``n_bins`` distinct values gets one bin per value.

    Bin edges are "lower" quantiles, i.e. data values, so every bin holds at least its left
    edge; each bin keeps :data:`N_QUANTILES` within-bin quantiles.
    """
    values = _as_float(series, kind)
    observed = values[~np.isnan(values)]
    distinct = np.unique(observed)
    if len(distinct) <= n_bins:
        edges = np.append(distinct, distinct[-1])  # last bin [max, max]
    else:
        edges = np.unique(np.quantile(observed, np.linspace(0.0, 1.0, n_bins + 1),
                                      method="lower"))
        edges = np.append(edges, distinct[-1]) if edges[-1] < distinct[-1] else edges
    coder = NumericCoder(kind, edges, np.empty((len(edges) - 1, N_QUANTILES)),
                         bool(np.isnan(values).any()))
    codes = coder._bins(observed)
    grid = np.linspace(0.0, 1.0, N_QUANTILES)
    for b in range(coder.n_bins):
        inside = observed[codes == b]
        coder.quantiles[b] = (np.quantile(inside, grid) if len(inside)
                              else edges[b] + grid * (edges[b + 1] - edges[b]))
    return coder
