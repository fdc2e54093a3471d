"""Regular expressions from untrusted input, on a linear-time engine (RE2).

Policies (``matches``/``not_matches``) and the ``match``/``search``/``regex_*`` filters
and tests of inventory templates come from pull requests: with Python's backtracking
``re``, ``(a+)+$`` against a long string hangs the run. RE2 (as OPA and Kyverno use) runs
every pattern in time linear in the text, and refuses what it cannot run that way
(backreferences, lookarounds): a policy pattern it refuses is a load error, an inventory
value using one stays unresolved with the reason.

Differences from Python's ``re`` for patterns both accept (Ansible uses ``re``):

- ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only in RE2 (Unicode in Python);
- ``$`` without the multiline flag matches only at the very end of the text (Python also
  matches before a final newline);
- ``\\Z`` is translated to RE2's ``\\z`` (same meaning);
- counted repetition is limited to 1000 (``a{1001}`` is refused);
- patterns whose compiled program would exceed :data:`MAX_MEM` bytes are refused.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MAX_MEM = 4 << 20  # per compiled pattern: a bounded DFA, well inside the run's budget
_Z = re.compile(r"(?<!\\)((?:\\\\)*)\\Z")


class RegexError(Exception):
    """A pattern the linear-time engine refuses (with Python's message when ``re`` refuses
    it too, which names a position, never the pattern's text)."""


def _reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    # RE2 says "invalid escape sequence: \1": keep the kind, not the pattern's text
    kind = text.split(":", 1)[0].strip() or "invalid pattern"
    hint = ""
    if "escape" in kind or "perl operator" in kind:
        hint = " (backreferences and lookarounds cannot run in linear time)"
    return f"regular expression not supported by the linear-time engine (RE2): {kind}{hint}"


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str, ignorecase: bool = False, multiline: bool = False) -> Any:
    """The compiled RE2 pattern (``search``/``match``/``fullmatch``/``sub``/``findall`` as
    in ``re``), or :class:`RegexError`."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print the pattern on stderr
    options.max_mem = MAX_MEM
    flags = ("i" if ignorecase else "") + ("m" if multiline else "")
    source = _Z.sub(r"\1\\z", pattern)
    if flags:
        source = f"(?{flags}){source}"
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        try:  # invalid for Python too? Its message says where (compiling never hangs)
            re.compile(pattern)
        except re.error as py_exc:
            raise RegexError(str(py_exc)) from None
        except (RecursionError, OverflowError, MemoryError):
            pass
        raise RegexError(_reason(exc)) from None


def check(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or None."""
    try:
        compile_pattern(pattern)
    except RegexError as exc:
        return str(exc)
    return None
