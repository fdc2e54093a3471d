"""Setting a value in an INI inventory in place: one ``key=value`` on a host line or one
``key = value`` line of a ``[group:vars]`` section. Every other byte stays as it was.

The new value is written so that Ansible's INI plugin reads it back as exactly that value:
on a host line the token goes through ``shlex`` and then ``ast.literal_eval``; in a vars
section the text after ``=`` (stripped, comments included) goes through ``literal_eval``.
Each candidate rendering is read back with the resolver's own INI functions
(:func:`~mlflow_policy.inventory.ini.split_host_line`, ``parse_value``) and used only when
it gives the same value and type; a value with no such rendering is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mlflow_policy.inventory.ini import parse_value, split_host_line
from mlflow_policy.remediate.yaml_edit import EditRefused, KeyPath, _same, is_template

_UNQUOTED_BAD = re.compile(r"[\s'\"#\\;]")


def _reads_as(text: str, value: Any) -> bool:
    try:
        return _same(parse_value(text), value)
    except Exception:  # any failure to read it back means "not this one"
        return False


def _literal(value: Any) -> list[str]:
    """Texts ``literal_eval`` may read as ``value``: the plain text, then its repr."""
    if isinstance(value, str):
        return [value, repr(value)]
    if isinstance(value, (bool, int, float)) or value is None:
        return [repr(value)]
    if isinstance(value, (dict, list)):
        return [repr(value)]
    raise EditRefused(f"a value of type {type(value).__name__} cannot be written in INI")


def vars_line_value(value: Any) -> str:
    """The text after ``key = `` in a ``[group:vars]`` section."""
    for text in _literal(value):
        if "\n" not in text and text == text.strip() and text and _reads_as(text, value):
            return text
    raise EditRefused("the value has no INI form Ansible reads back as the same value")


def host_token(key: str, value: Any, quote: str = "") -> str:
    """``key=value`` for a host line, quoted for shlex when needed, or with ``quote`` when
    the old value was quoted that way."""
    for text in _literal(value):
        if "\n" in text or not _reads_as(text, value):
            continue
        candidates = [f"{key}={text}"] if text and not _UNQUOTED_BAD.search(text) else []
        if "'" not in text:
            candidates.append(f"{key}='{text}'")
        # inside double quotes shlex (posix) takes \\ and \" as escapes, nothing else
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        candidates.append(f'{key}="{escaped}"')
        candidates.sort(key=lambda t: not t.startswith(f"{key}={quote}") if quote else False)
        for token in candidates:
            try:
                if split_host_line(token) == [f"{key}={text}"]:
                    return token
            except ValueError:
                continue
    raise EditRefused("the value has no INI form Ansible reads back as the same value")


def _token_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each shell-like token of a host line, up to an unquoted comment."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n or line[i] == "#":
            break
        start = i
        quote = ""
        while i < n:
            ch = line[i]
            if quote:
                if ch == "\\" and quote == '"' and i + 1 < n:
                    i += 2
                    continue
                if ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < n:
                i += 2
                continue
            elif ch in " \t":
                break
            i += 1
        spans.append((start, i))
    return spans


def _edit_vars_line(line: str, key: str, value: Any) -> str:
    m = re.match(r"^(\s*" + re.escape(key) + r"\s*=\s*)(.*?)(\s*)$", line)
    if not m:
        raise EditRefused(f"{key} is not on the line the inventory gave")
    if is_template(parse_value(m.group(2).strip())):
        raise EditRefused(f"{key} is a Jinja2 template: change what it refers to")
    return m.group(1) + vars_line_value(value) + m.group(3)


def _edit_host_line(line: str, pattern: str, key: str, value: Any) -> str:
    spans = _token_spans(line)
    tokens = [line[a:b] for a, b in spans]
    try:
        parsed = [split_host_line(t) for t in tokens]
    except ValueError:
        raise EditRefused("the host line cannot be split as Ansible splits it") from None
    if not parsed or parsed[0] != [pattern]:
        raise EditRefused(f"the host line does not start with {pattern}")
    for (a, b), words in zip(spans[1:], parsed[1:], strict=True):
        if len(words) == 1 and words[0].startswith(f"{key}="):
            if is_template(parse_value(words[0].split("=", 1)[1])):
                raise EditRefused(f"{key} is a Jinja2 template: change what it refers to")
            old = line[a:b][len(key) + 1:]
            token = host_token(key, value, old[:1] if old[:1] in "'\"" else "")
            new = line[:a] + token + line[b:]
            want = [split_host_line(token)[0] if w is words else w[0] for w in parsed[1:]]
            if split_host_line(new)[1:] == want:
                return new
            break
    raise EditRefused(f"{key} is not on the host line of {pattern}")


def edit_ini(text: str, ops: Sequence[tuple[KeyPath, int, Any]]
             ) -> tuple[str, list[tuple[KeyPath, str]]]:
    """``text`` with each ``(key path, line, value)`` set (key paths as origin.py gives
    them for INI; the whole variable's value), and the ops refused, with why."""
    lines = text.splitlines(keepends=True)
    refused: list[tuple[KeyPath, str]] = []
    for path, lineno, value in ops:
        try:
            if not 0 < lineno <= len(lines):
                raise EditRefused("the inventory changed since it was read")
            raw = lines[lineno - 1]
            body = raw.rstrip("\r\n")
            end = raw[len(body):]
            if len(path) == 2 and str(path[0]).endswith(":vars"):
                body = _edit_vars_line(body, str(path[1]), value)
            elif len(path) == 3:
                body = _edit_host_line(body, str(path[1]), str(path[2]), value)
            else:
                raise EditRefused("a port given in a host pattern is edited by hand")
        except EditRefused as exc:
            refused.append((path, str(exc)))
            continue
        lines[lineno - 1] = body + end
    return "".join(lines), refused
