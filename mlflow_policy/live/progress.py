"""A one-line progress bar for live runs: hosts done / total, failures, elapsed.

Shown only on an interactive terminal: nothing when stderr is a pipe or a file, or when
``CI`` is set (CI logs would fill with carriage returns).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

WIDTH = 24


def wanted(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    if os.environ.get("CI"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Counts hosts as their results arrive (from any thread) and redraws on ``tick``."""

    def __init__(self, total: int | None, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self.done = 0
        self.failures = 0
        self.start = time.monotonic()
        self._lock = threading.Lock()
        self._last = ""

    def host_done(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failures += int(failed)

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if self.total:
            filled = min(WIDTH, WIDTH * self.done // self.total)
            bar = "[" + "#" * filled + "." * (WIDTH - filled) + "] "
            count = f"{self.done}/{self.total} hosts"
        else:
            bar, count = "", f"{self.done} hosts"
        fails = f", {self.failures} failed" if self.failures else ""
        return f"live: {bar}{count}{fails}, {elapsed:.1f}s"

    def tick(self) -> None:
        if not self.enabled:
            return
        text = self.line()
        if text != self._last:
            self.stream.write("\r" + text.ljust(len(self._last)))
            self.stream.flush()
            self._last = text

    def close(self) -> None:
        if self.enabled and self._last:
            self.stream.write("\r" + " " * len(self._last) + "\r")
            self.stream.flush()
            self._last = ""
