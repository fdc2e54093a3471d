"""Dotted paths in nested documents: the few helpers every layer shares. A neutral module
(it imports nothing of the project), so that the inventory layer, which must not import
``facts/``, and the policy layer use the same code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

MISSING: Any = object()  # what dig() returns when the path is not there


def dig(values: Mapping[str, Any], parts: Sequence[str]) -> Any:
    """The value at ``parts`` (a path split at its dots) in nested mappings, or MISSING.
    A sentinel, not a (found, value) pair: rules make millions of lookups."""
    node: Any = values
    for part in parts:
        if isinstance(node, dict):  # the common case, without the Mapping ABC check
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return MISSING
    return node


def nearest(table: Mapping[str, Any], path: str) -> Any:
    """``table``'s entry for ``path`` or, failing that, for its nearest dotted ancestor
    (None entries count as absent); None when there is none."""
    probe = path
    while True:
        found = table.get(probe)
        if found is not None:
            return found
        cut = probe.rfind(".")
        if cut < 0:
            return None
        probe = probe[:cut]


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value``, through nested mappings (their values) and lists."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``doc``, copying each mapping on the way: documents share mappings
    with each other and with the resolver's hostvars, which must never be written to."""
    parts = path.split(".")
    node = doc
    for part in parts[:-1]:
        child = node.get(part)
        child = node[part] = dict(child) if isinstance(child, Mapping) else {}
        node = child
    node[parts[-1]] = value
