"""Setting values in a JSON file by splicing its text: a value is replaced where it is
written, a new member goes before its object's closing brace with the layout of the
member before it. Every other byte stays as written (hand-made layouts included, which a
``json.dumps`` rewrite would lose). The caller reads the result back and compares.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.remediate.yaml_edit import EditRefused, KeyPath, is_template

_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


class _Node:
    """Where one value is written: its span, and for an object its members."""

    __slots__ = ("end", "members", "start")

    def __init__(self, start: int, end: int,
                 members: dict[str, tuple[int, _Node]] | None = None) -> None:
        self.start = start
        self.end = end
        self.members = members  # key -> (where the key's opening quote is, value node)


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _parse(text: str, i: int) -> _Node:
    i = _skip(text, i)
    if i >= len(text):
        raise EditRefused("the JSON ends early")
    ch = text[i]
    if ch == "{":
        members: dict[str, tuple[int, _Node]] = {}
        j = _skip(text, i + 1)
        if text[j:j + 1] == "}":
            return _Node(i, j + 1, members)
        while True:
            j = _skip(text, j)
            key, after = _DECODER.raw_decode(text, j)
            if not isinstance(key, str):
                raise EditRefused("a JSON object key is not a string")
            at = j
            j = _skip(text, after)
            if text[j:j + 1] != ":":
                raise EditRefused("malformed JSON object")
            value = _parse(text, j + 1)
            members[key] = (at, value)
            j = _skip(text, value.end)
            if text[j:j + 1] == ",":
                j += 1
                continue
            if text[j:j + 1] == "}":
                return _Node(i, j + 1, members)
            raise EditRefused("malformed JSON object")
    if ch == "[":
        j = _skip(text, i + 1)
        if text[j:j + 1] == "]":
            return _Node(i, j + 1)
        while True:
            item = _parse(text, j)
            j = _skip(text, item.end)
            if text[j:j + 1] == ",":
                j += 1
                continue
            if text[j:j + 1] == "]":
                return _Node(i, j + 1)
            raise EditRefused("malformed JSON array")
    try:
        _value, end = _DECODER.raw_decode(text, i)
    except ValueError:
        raise EditRefused("malformed JSON value") from None
    return _Node(i, end)


def _dumps(value: Any) -> str:
    if _special(value):
        raise EditRefused("a vaulted or !unsafe value cannot be written into JSON here")
    return json.dumps(value, ensure_ascii=False)


def _special(value: Any) -> bool:
    if isinstance(value, (VaultedValue, Unsafe)):
        return True
    if isinstance(value, dict):
        return any(_special(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_special(v) for v in value)
    return False


def _nest(path: KeyPath, value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _set(text: str, path: KeyPath, value: Any) -> str:
    root = _parse(text, 0)
    node = root
    for i, key in enumerate(path):
        if node.members is None:
            raise EditRefused(f"{'.'.join(map(str, path[:i])) or 'the document'} is not a "
                              "JSON object")
        found = node.members.get(str(key))
        if found is None:  # a new member: it and what is below it, before the brace
            return _insert(text, node, str(key), _nest(path[i + 1:], value))
        node = found[1]
    old = json.loads(text[node.start:node.end])
    if isinstance(old, dict) and "__ansible_vault" in old:
        raise EditRefused("the value is vaulted: re-encrypt it with ansible-vault")
    if is_template(old):
        raise EditRefused("the value is a Jinja2 template: change it by hand")
    return text[:node.start] + _dumps(value) + text[node.end:]


def _insert(text: str, obj: _Node, key: str, value: Any) -> str:
    assert obj.members is not None
    member = f"{json.dumps(key, ensure_ascii=False)}: {_dumps(value)}"
    close = obj.end - 1  # the closing brace
    if not obj.members:
        return text[:obj.start + 1] + member + text[close:]
    last_at, last = list(obj.members.values())[-1]
    # the layout between the previous separator and the last member's key, reused
    before = last_at
    while before > obj.start and text[before - 1] in _WS:
        before -= 1
    lead = text[before:last_at]
    return text[:last.end] + "," + (lead or " ") + member + text[last.end:]


def edit_json(text: str, ops: Sequence[tuple[KeyPath, Any]],
              refused: list[tuple[KeyPath, str]]) -> str:
    for path, value in ops:
        try:
            text = _set(text, path, value)
        except EditRefused as exc:
            refused.append((path, str(exc)))
    return text
