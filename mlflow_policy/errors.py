"""The few exception types library code raises; the CLI maps them to exit codes.

Anything that is the user's input being wrong is an :class:`InputError` (exit 2) and names
the file and line. Several of them from one run travel together in :class:`InputErrors`
so that a user fixes all of them at once instead of one per run.
"""

from __future__ import annotations

from collections.abc import Iterable


class PolicyError(Exception):
    """Base of every error mlflow-policy raises on purpose."""

    exit_code = 2


class InputError(PolicyError):
    """A file the user gave us does not load: names the file, line and column (1-based)."""

    def __init__(
        self, message: str, path: str | None = None, line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        return f"{where}{self.message}"


class UsageError(PolicyError):
    """The command line itself is wrong (unknown path, conflicting options)."""


class InputErrors(PolicyError):
    """All input errors of one run, reported together."""

    def __init__(self, errors: Iterable[InputError]) -> None:
        self.errors = sorted(
            errors, key=lambda e: (e.path or "", e.line or 0, e.column or 0, e.message)
        )
        super().__init__("\n".join(e.render() for e in self.errors))


def raise_all(errors: list[InputError]) -> None:
    """Raise the collected errors, if any, as one :class:`InputErrors`."""
    if errors:
        raise InputErrors(errors)
