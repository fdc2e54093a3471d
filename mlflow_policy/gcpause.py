"""Pausing Python's cyclic garbage collector while a run builds what lives until its end.

Resolving a 10,000-host fleet builds ~1M containers; the engine's findings and the
reporters' caches follow. Every collection over them frees nothing, and they cost a fifth
of such a run (the first full one after resolving) and made the 50,000-host run
superlinear. What these phases build holds no reference cycles to speak of (the resolver
breaks its own), so pausing leaks nothing.

Library code only pauses, inside a with-block that leaves the collector as it was: the
program around it owns the collector. Only the CLI's entry point, which owns its process,
goes further (``cli.main`` pauses for the whole command; ``cli.main_entry`` freezes what
the command built before the interpreter's exit collection walks it).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; the collector is left as it was after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
