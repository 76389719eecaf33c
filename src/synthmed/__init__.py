"""synthmed: synthetic healthcare data, validated against its source.

Example
-------
>>> import synthmed
>>> data = synthmed.load_dataset("pbc")
>>> gen = synthmed.get_generator("gaussian_copula").fit(data.frame, schema=data.schema)
>>> synthetic = gen.sample(len(data.frame), random_state=0)
"""

from synthmed.datasets import Dataset, list_datasets, load_dataset, read_table
from synthmed.evaluation import EvaluationResult, Thresholds, evaluate
from synthmed.exceptions import (
    DataError,
    InputError,
    ModelFileError,
    NotFittedError,
    ParameterError,
    SchemaError,
    SynthmedError,
    UnknownNameError,
)
from synthmed.generators import (
    BaseGenerator,
    get_generator,
    list_generators,
    load_generator,
)
from synthmed.generators.streaming import sample_to_csv, sample_to_parquet
from synthmed.longitudinal_pipeline import generate_longitudinal
from synthmed.pipeline import ReleaseOptions, RunResult, generate
from synthmed.schema import ColumnSchema, TableSchema, infer_schema
from synthmed.signal_pipeline import generate_signals
from synthmed.split import train_holdout_split

__version__ = "0.1.0"

__all__ = [
    "BaseGenerator",
    "ColumnSchema",
    "DataError",
    "Dataset",
    "EvaluationResult",
    "InputError",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "ReleaseOptions",
    "RunResult",
    "SchemaError",
    "SynthmedError",
    "TableSchema",
    "Thresholds",
    "UnknownNameError",
    "__version__",
    "evaluate",
    "generate",
    "generate_longitudinal",
    "generate_signals",
    "get_generator",
    "infer_schema",
    "list_datasets",
    "list_generators",
    "load_dataset",
    "load_generator",
    "read_table",
    "sample_to_csv",
    "sample_to_parquet",
    "train_holdout_split",
]
