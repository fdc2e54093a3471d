"""The dotted-path helpers every layer shares (mlflow_policy/dotted.py)."""

from __future__ import annotations

import ast
from types import MappingProxyType

from mlflow_policy.dotted import MISSING, dig, nearest, strings
from tests.support import REPO


def test_dig_walks_dicts_and_other_mappings() -> None:
    doc = {"a": {"b": MappingProxyType({"c": None}), "l": [1]}}
    assert dig(doc, ("a", "b", "c")) is None  # present, and null
    assert dig(doc, ("a", "l")) == [1]
    assert dig(doc, ()) is doc
    for missing in (("x",), ("a", "x"), ("a", "b", "c", "d"), ("a", "l", "0")):
        assert dig(doc, missing) is MISSING


def test_nearest_falls_back_to_the_closest_ancestor() -> None:
    table = {"db": "whole db", "env.X": "x", "env.Y": None}
    assert nearest(table, "db.revision.head") == "whole db"
    assert nearest(table, "env.X") == "x"
    assert nearest(table, "env.Y") is None  # a None entry counts as absent
    assert nearest(table, "env") is None
    assert nearest(table, "") is None


def test_strings_are_every_string_in_order() -> None:
    assert list(strings({"a": ["x", {"b": "y"}, 3], "c": "z", "d": None})) == ["x", "y", "z"]
    assert list(strings("s")) == ["s"]
    assert list(strings(1)) == []


def test_one_copy_of_each_helper() -> None:
    """No module defines its own copy of a dotted.py helper again."""
    names = {"_nearest", "_dig", "_strings", "nearest", "dig", "strings"}
    copies = [
        f"{path.relative_to(REPO)}:{node.name}"
        for path in sorted((REPO / "mlflow_policy").rglob("*.py"))
        if path.name != "dotted.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name in names
    ]
    assert copies == []
