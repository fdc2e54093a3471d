"""Mutated policy documents never crash the loader: each either loads or fails with
InputErrors whose every error names the file and a line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlflow_policy.errors import InputErrors
from mlflow_policy.policy.loader import load_paths
from mlflow_policy.yamlio import load_all_file

VALID = Path(__file__).parent / "fixtures" / "policy" / "valid"
SEEDS = [d for p in sorted(VALID.glob("*.yaml")) for d in load_all_file(p) if d]

junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(
        ["", "x", "(", "{{ x }", ">=", "3.1", "Bad_Id", "env X", "2027-01-01"])),
    lambda inner: st.one_of(st.lists(inner, max_size=2),
                            st.dictionaries(st.sampled_from(["a", "id", "not", "matches"]),
                                            inner, max_size=2)),
    max_leaves=4)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(_plain(draw(st.sampled_from(SEEDS))))
    for _ in range(draw(st.integers(1, 3))):
        targets = [p for p in _paths(doc) if p]
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(junk)
    return doc


@settings(max_examples=150)
@given(mutated())
def test_mutated_documents_load_or_fail_with_located_errors(doc: Any) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
        errors = _load_errors(path)
    for err in errors:
        assert err is not None
        assert err.path == "p.yaml"
        assert err.line is not None, err.render()


def _load_errors(path: Path) -> list[Any]:
    try:
        load_paths([path], root=path.parent)
    except InputErrors as exc:
        return list(exc.errors) or [None]  # an empty InputErrors would fail the caller
    return []
