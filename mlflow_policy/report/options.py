"""What a reporter may be told besides the Result (never what to evaluate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportOptions:
    fail_on: str = "error"
    color: bool = False
    quiet: bool = False
    verbose: bool = False
    # ISO 8601 UTC time of the run, only with --timestamps: reports are byte-identical
    # for the same input otherwise.
    timestamp: str | None = None
