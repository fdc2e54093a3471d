"""Setting values in a user's YAML (or JSON) vars file without reformatting it.

ruamel.yaml's round trip keeps comments, key order and quoting, but re-emits the whole
file: anything it does not model (an unusual indentation, a long line it would wrap) would
change too. So a file is edited only when ruamel reproduces it byte for byte unchanged
(with the indentation detected from the file); otherwise the edit is refused and a human
does it. Every edited text is read back with the project's own (Ansible-faithful) loader
and must hold exactly the old data plus the new values, nothing else.

Strings are written in the quote style of the value they replace; a new plain string
stays plain only when YAML 1.1 (what Ansible reads) would read it back as the same string
(``yes``, ``0644``, ``12:30`` are not strings there).
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.errors import InputError

KeyPath = tuple[Any, ...]
# (mapping indent, sequence indent, sequence dash offset): the layouts people write
_LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 4), (4, 4, 2), (3, 3, 0))


class EditRefused(Exception):
    """An edit that cannot be made safely; the message says why (no value in it)."""


def is_template(value: object) -> bool:
    return isinstance(value, str) and not isinstance(value, Unsafe) and (
        "{{" in value or "{%" in value)


def _ruamel(layout: tuple[int, int, int], explicit_start: bool) -> Any:
    from ruamel.yaml import YAML

    # a fresh instance per file: ruamel keeps state between loads
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 1 << 20  # never wrap a long line
    y.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
    y.explicit_start = explicit_start
    return y


def _dump(y: Any, data: Any) -> str:
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _plain_is_safe(text: str) -> bool:
    """Would YAML 1.1 read ``text`` written plain, on one line, as this very string?"""
    if not text or "\n" in text or text != text.strip():
        return False
    dumped = yaml.safe_dump(text, width=1 << 20, allow_unicode=True)
    return dumped in (f"{text}\n...\n", f"{text}\n")


def to_ruamel(value: Any, old: Any = None) -> Any:
    """Plain data as ruamel nodes, a string in the style of the one it replaces."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, VaultedValue):
        return TaggedScalar(value.ciphertext, style="|", tag="!vault")
    if isinstance(value, Unsafe):
        return TaggedScalar(str(value), style='"', tag="!unsafe")
    if isinstance(value, str):
        if isinstance(old, TaggedScalar) and str(old.tag.value) == "!unsafe":
            return TaggedScalar(value, style=old.style or '"', tag="!unsafe")
        if isinstance(old, SingleQuotedScalarString) and "\n" not in value:
            return SingleQuotedScalarString(value)
        if isinstance(old, DoubleQuotedScalarString) or not _plain_is_safe(value):
            return DoubleQuotedScalarString(value)
        return value
    if isinstance(value, Mapping):
        cmap = CommentedMap()
        for k, v in value.items():
            cmap[k] = to_ruamel(v)
        return cmap
    if isinstance(value, (list, tuple)):
        return CommentedSeq(to_ruamel(v) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise EditRefused(f"a value of type {type(value).__name__} cannot be written as YAML")


def _anchored(node: Any) -> bool:
    anchor = getattr(node, "anchor", None)
    return anchor is not None and getattr(anchor, "value", None) is not None


def _old_refusal(old: Any, where: str) -> str | None:
    from ruamel.yaml.comments import TaggedScalar

    if isinstance(old, TaggedScalar) and str(old.tag.value) in ("!vault", "!vault-encrypted"):
        return f"{where} is a vaulted value (!vault): re-encrypt it with ansible-vault"
    if is_template(old):
        return f"{where} is a Jinja2 template: change what it refers to, or the template"
    return None


def _apply(data: Any, path: KeyPath, value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    shown = ".".join(str(k) for k in path)
    node = data
    for i, key in enumerate(path[:-1]):
        if _anchored(node):
            raise EditRefused(f"{shown}: the mapping is an anchor other places alias")
        child = node.get(key)
        if child is None and key not in node:
            child = node[key] = CommentedMap()
        refusal = _old_refusal(child, ".".join(str(k) for k in path[:i + 1]))
        if refusal:
            raise EditRefused(refusal)
        if not isinstance(child, CommentedMap):
            raise EditRefused(f"{shown}: {path[i]!s} is not a mapping in the file")
        node = child
    if _anchored(node):
        raise EditRefused(f"{shown}: the mapping is an anchor other places alias")
    old = node.get(path[-1])
    refusal = _old_refusal(old, shown)
    if refusal:
        raise EditRefused(refusal)
    if _anchored(old):
        raise EditRefused(f"{shown}: the value is an anchor other places alias")
    new_key = path[-1] not in node
    node[path[-1]] = to_ruamel(value, old)
    if new_key and len(node) > 1:
        _move_trailing_comments(node, list(node)[-2], path[-1])


def _last_slot(container: Any, key: Any) -> tuple[Any, Any] | None:
    """The comment slot (mapping, key) of the last entry written under ``key``: where
    ruamel keeps the comment lines that follow it."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    value = container[key]
    if isinstance(value, CommentedMap) and value:
        return _last_slot(value, list(value)[-1])
    if isinstance(value, CommentedSeq):
        return None  # a sequence keeps them elsewhere: leave them where they are
    return container, key


def _is_block(value: Any) -> bool:
    from ruamel.yaml.comments import TaggedScalar
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    if isinstance(value, TaggedScalar):
        return value.style in ("|", ">")
    return isinstance(value, (LiteralScalarString, FoldedScalarString))


def _move_trailing_comments(node: Any, previous: Any, added: Any) -> None:
    """ruamel keeps the comment and blank lines after a mapping's last entry on that entry
    (``# about the next key`` included), so a key appended after it would be written
    below them. Keep the entry's own end of line (and inline comment) on it; move the lines
    after it to the new last entry."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    old_slot = _last_slot(node, previous)
    new_slot = _last_slot(node, added)
    if old_slot is None or new_slot is None:
        return
    items = old_slot[0].ca.items.get(old_slot[1])
    if not items or len(items) < 3 or items[2] is None:
        return
    token = items[2]
    text = str(token.value)
    # a block scalar (a !vault ciphertext) ends with its own newline: all of it follows
    cut = -1 if _is_block(old_slot[0][old_slot[1]]) else text.find("\n")
    if cut + 1 == len(text):
        return
    if cut < 0:
        items[2] = None
    else:
        token.value = text[:cut + 1]
    new_map, new_key = new_slot
    new_map.ca.items[new_key] = [None, None, CommentToken(
        "\n" + text[cut + 1:], CommentMark(0), None), None]


def _expected(old_data: Any, ops: Sequence[tuple[KeyPath, Any]]) -> Any:
    data = copy.deepcopy(old_data) if old_data is not None else {}
    for path, value in ops:
        node = data
        for key in path[:-1]:
            child = node.get(key)
            node[key] = child = dict(child) if isinstance(child, Mapping) else {}
            node = child
        node[path[-1]] = value
    return data


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same YAML type all the way down (True is not 1)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (bool, int, float)) or isinstance(b, (bool, int, float)):
        return type(a) is type(b) and a == b
    if isinstance(a, Unsafe) != isinstance(b, Unsafe):
        return False
    return bool(a == b)


def _load(text: str, display: str) -> Any:
    from mlflow_policy.inventory.files import loads_data

    try:
        return loads_data(text, display) if text.strip() else None
    except InputError as exc:
        raise EditRefused(f"cannot read it: {exc.message}") from None


def edit_yaml(text: str | None, ops: Sequence[tuple[KeyPath, Any]], display: str
              ) -> tuple[str, list[tuple[KeyPath, str]]]:
    """``text`` (``None``: a new file) with each ``(key path, value)`` set, and the ops
    refused with why; raises :class:`EditRefused` when the file cannot be edited at all
    without other changes."""
    if not ops:
        return text or "", []
    old_data = _load(text, display) if text else None
    refused: list[tuple[KeyPath, str]] = []
    if text and text.lstrip()[:1] in ("{", "["):
        new = _edit_json(text, ops, refused)
    else:
        new = _edit_ruamel(text, ops, refused)
    done = [op for op in ops if op[0] not in {path for path, _why in refused}]
    got = _load(new, display)
    if not _same(got, _expected(old_data, done)):
        raise EditRefused("the edited file would not read back as intended")
    return new, refused


def _edit_ruamel(text: str | None, ops: Sequence[tuple[KeyPath, Any]],
                 refused: list[tuple[KeyPath, str]]) -> str:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    if not text or not text.strip():
        y = _ruamel(_LAYOUTS[0], True)
        data = CommentedMap()
    else:
        if "\r" in text:
            raise EditRefused("the file has CR line endings")
        start = text.lstrip().startswith("---")
        for layout in _LAYOUTS:
            y = _ruamel(layout, start)
            try:
                data = y.load(text)
                unchanged = _dump(y, data) == text
            except (YAMLError, ValueError, TypeError):
                raise EditRefused("ruamel.yaml cannot read the file") from None
            if unchanged:
                break
        else:
            raise EditRefused("ruamel.yaml cannot rewrite the file without reformatting it")
        if not isinstance(data, CommentedMap):
            raise EditRefused("the document is not a mapping")
    for path, value in ops:
        try:
            _apply(data, path, value)
        except EditRefused as exc:
            refused.append((path, str(exc)))
    return _dump(y, data)


def _edit_json(text: str, ops: Sequence[tuple[KeyPath, Any]],
               refused: list[tuple[KeyPath, str]]) -> str:
    """A JSON vars file: rewritten with its own indentation when json reproduces it."""
    try:
        data = json.loads(text)
    except ValueError:
        raise EditRefused("the file is neither YAML nor valid JSON") from None
    indent: int | None = None
    for candidate in (2, 4, None, 1, 3, 8):
        dumped = json.dumps(data, indent=candidate, ensure_ascii=False)
        if dumped.rstrip("\n") == text.rstrip("\n"):
            indent = candidate
            break
    else:
        raise EditRefused("json cannot rewrite the file without reformatting it")
    for path, value in ops:
        try:
            _apply_json(data, path, value)
        except EditRefused as exc:
            refused.append((path, str(exc)))
    tail = text[len(text.rstrip("\n")):]
    return json.dumps(data, indent=indent, ensure_ascii=False) + tail


def _apply_json(data: dict[str, Any], path: KeyPath, value: Any) -> None:
    node = data
    for key in path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict) or "__ansible_vault" in child:
            raise EditRefused(f"{key!s} is not a mapping in the file")
        node = child
    old = node.get(path[-1])
    if isinstance(old, dict) and "__ansible_vault" in old:
        raise EditRefused("the value is vaulted: re-encrypt it with ansible-vault")
    if is_template(old):
        raise EditRefused("the value is a Jinja2 template: change it by hand")
    if _has_special(value):
        raise EditRefused("a vaulted or !unsafe value cannot be written into JSON here")
    node[path[-1]] = value


def _has_special(value: Any) -> bool:
    if isinstance(value, (VaultedValue, Unsafe)):
        return True
    if isinstance(value, Mapping):
        return any(_has_special(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_special(v) for v in value)
    return False
