"""Every error synthmed raises on purpose.

Messages say what was wrong, what was received and how to fix it. They name columns, row
counts and shapes, never a cell value: no patient value may reach a traceback or a log.

::

    SynthmedError
    ├── InputError                  bad input from the user (CLI exit code 2)
    │   ├── DataError               a table that cannot be used (empty, one row, unreadable...)
    │   ├── SchemaError             a schema that does not match the data, or is invalid
    │   ├── ParameterError          a bad argument or generator parameter
    │   └── UnknownNameError        an unknown generator / dataset name (suggests close ones)
    ├── NotFittedError              sample/save called before fit
    ├── ModelFileError              a saved model that cannot be read safely
    └── MissingDependencyError      an optional dependency is missing (names the install command)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import difflib

__all__ = [
    "DataError",
    "InputError",
    "MissingDependencyError",
    "ModelFileError",
    "NotFittedError",
    "ParameterError",
    "SchemaError",
    "SynthmedError",
    "UnknownNameError",
]


class SynthmedError(Exception):
    """Base class of every error raised on purpose by synthmed."""


class InputError(SynthmedError, ValueError):
    """The user gave something that cannot be used; the CLI answers with exit code 2."""


class DataError(InputError):
    """A table (or other container) that cannot be used as given."""


class SchemaError(InputError):
    """A schema that is invalid or does not match the data.

    Parameters
    ----------
    problems : sequence of str
        Every problem found, each naming the column concerned (never a value).
    """

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} problems with the schema:\n{lines}"
        super().__init__(message)


class ParameterError(InputError):
    """A bad argument to a public function or a bad generator parameter."""


class UnknownNameError(InputError, KeyError):
    """An unknown registered name; the message lists the close matches.

    Parameters
    ----------
    kind : str
        What was looked up ("generator", "dataset").
    name : str
        The name that was asked for.
    known : iterable of str
        The registered names.
    """

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(
            f"Unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(self.known)}."
        )

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class NotFittedError(SynthmedError, RuntimeError):
    """A method that needs a fitted model was called before ``fit``."""


class ModelFileError(SynthmedError, OSError):
    """A saved model that is missing, corrupt or not made by a compatible synthmed."""


class MissingDependencyError(SynthmedError, ImportError):
    """An optional dependency is not installed; the message gives the install command."""

    def __init__(self, package: str, extra: str | None = None, purpose: str = "") -> None:
        command = f"pip install 'synthmed[{extra}]'" if extra else f"pip install {package}"
        why = f" to {purpose}" if purpose else ""
        super().__init__(f"The package {package!r} is needed{why}. Install it with: {command}")
