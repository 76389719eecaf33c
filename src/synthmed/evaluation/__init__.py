"""Evaluation: fidelity, utility, privacy, bias and clinical truth, each against a real holdout."""

from synthmed.evaluation.context import EvalContext, Thresholds
from synthmed.evaluation.evaluate import evaluate
from synthmed.evaluation.result import EvaluationResult, Metric, Section

__all__ = ["EvalContext", "EvaluationResult", "Metric", "Section", "Thresholds", "evaluate"]
