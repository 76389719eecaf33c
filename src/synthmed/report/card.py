"""``DataCard``: what a synthetic release is for, who may receive it and what it cannot do.

The card is written by the person releasing the data; the report prints it in plain words next
to the verdicts, so that a clinician or a data-protection officer reads intent and evidence on
one page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthmed.exceptions import ParameterError

__all__ = ["DataCard"]


@dataclass(frozen=True)
class DataCard:
    """Plain-language facts about a synthetic release, shown in the HTML report.

    Parameters
    ----------
    intended_use : str
        What the synthetic table is for, e.g. ``"Teaching survival analysis to residents."``.
    recipients : str
        Who may receive it, e.g. ``"Staff of the hospital's data science team."``.
    limitations : sequence of str
        Known limitations, one sentence each (a single string is accepted as one item).
    generator : str
        The generator that made the data, e.g. ``"gaussian_copula"``.
    parameters : mapping
        The generator's parameters (JSON-able values).
    release_mode : str
        How the data is released, e.g. ``"internal sharing"``, ``"public release"``.
    checks : sequence of str
        What was checked, in words; when empty the report lists the evaluated sections.
    source : str
        The real data the synthetic table imitates (name, version, period).
    contact : str
        Whom to ask about the release.

    Examples
    --------
    >>> card = DataCard(
    ...     intended_use="Teaching survival analysis.",
    ...     recipients="Residents of the oncology department.",
    ...     limitations=["Rare diagnoses are under-represented."],
    ...     generator="gaussian_copula",
    ... )
    >>> card.limitations
    ('Rare diagnoses are under-represented.',)
    """

    intended_use: str
    recipients: str
    limitations: tuple[str, ...] = ()
    generator: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    release_mode: str = ""
    checks: tuple[str, ...] = ()
    source: str = ""
    contact: str = ""

    def __post_init__(self) -> None:
        for name in ("intended_use", "recipients"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ParameterError(
                    f"DataCard `{name}` must be a non-empty string, got {type(value).__name__}"
                    f"{'' if not isinstance(value, str) else ' (empty)'}. Say it in one sentence."
                )
        for name in ("generator", "release_mode", "source", "contact"):
            if not isinstance(getattr(self, name), str):
                raise ParameterError(
                    f"DataCard `{name}` must be a string, got {type(getattr(self, name)).__name__}."
                )
        for name in ("limitations", "checks"):
            object.__setattr__(self, name, _as_lines(name, getattr(self, name)))
        if not isinstance(self.parameters, Mapping):
            raise ParameterError(
                f"DataCard `parameters` must be a mapping, got {type(self.parameters).__name__}."
            )


def _as_lines(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ParameterError(
            f"DataCard `{name}` must be a string or a sequence of strings, "
            f"got {type(value).__name__}."
        )
    return tuple(v for v in value if v.strip())
