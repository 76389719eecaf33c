"""The HTML validation report: one self-contained page from an ``EvaluationResult``.

>>> from synthmed.report import DataCard, render_report, write_report
"""

from synthmed.report.card import DataCard
from synthmed.report.html import render_report, write_report

__all__ = ["DataCard", "render_report", "write_report"]
