"""Text for terminals and logs: control characters and bidi overrides escaped.

A host name, path or value comes from a pull request; printed raw, ``\\x1b[2J`` clears the
reviewer's terminal and U+202E (right-to-left override) makes ``evil\\u202egnp.exe`` read
as ``evilexe.png``. Text output (the text report, ``facts`` text, messages on stderr)
shows them as escapes instead; JSON-based formats escape through their encoders.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidi embedding/override/
# isolate/mark characters.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# our own colours (Select Graphic Rendition) survive when the caller paints
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_colors: bool = False) -> str:
    """``text`` with unsafe characters as ``\\xNN`` / ``\\uNNNN`` (colours kept if asked)."""
    if not _UNSAFE.search(text):
        return text
    if not keep_colors:
        return _UNSAFE.sub(_escape, text)
    parts = _SGR.split(text)
    colors = _SGR.findall(text)
    out = [_UNSAFE.sub(_escape, parts[0])]
    for color, part in zip(colors, parts[1:], strict=True):
        out.extend((color, _UNSAFE.sub(_escape, part)))
    return "".join(out)
