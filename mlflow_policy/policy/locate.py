"""Turning pydantic validation errors into :class:`InputError` s that name file:line:column.

A pydantic error has a ``loc`` tuple (keys, list indexes and, for unions, type tags). The
document it came from is a tree of :class:`LocDict` / :class:`LocList` that remember where
each value was written, so walking ``loc`` through that tree finds the line of the
offending node, or of its nearest written parent when the node itself is missing.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from mlflow_policy.core import Location, VaultedValue
from mlflow_policy.errors import InputError
from mlflow_policy.policy.fields import (
    DATA_NAME_PATTERN,
    FACT_GLOB_PATTERN,
    FACT_PATH_PATTERN,
    NAME_PATTERN,
    RULE_GLOB_PATTERN,
    Null,
)
from mlflow_policy.policy.models import Condition
from mlflow_policy.yamlio import LocDict, LocList

_PATTERNS = {
    NAME_PATTERN: "a name of lower-case letters, digits and '-' (e.g. mlflow-baseline)",
    FACT_PATH_PATTERN: "a dotted fact path (e.g. env.MLFLOW_TRACKING_URI)",
    RULE_GLOB_PATTERN: "a full rule id or glob (e.g. mlflow-baseline/tracking-uri-https)",
    FACT_GLOB_PATTERN: "a dotted fact path (e.g. env.MLFLOW_TRACKING_URI, or with a glob as "
                       "its last segment, vars.*password*)",
    DATA_NAME_PATTERN: "a name of letters, digits and '_' (templates read it as data.<name>)",
}


# Union branches pydantic reports one by one, said once.
_UNIONS = {
    frozenset({"a valid integer", "a valid number", "a valid string"}):
        "a number (or a numeric string)",
}


def excerpt(value: Any, limit: int = 80) -> str:
    """A short, YAML-ish rendering of a value from a policy file, for error messages."""
    if isinstance(value, VaultedValue):
        return "a vaulted value"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        text = "a mapping {" + ", ".join(str(k) for k in value) + "}"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(str(value)) if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def human_path(parts: typing.Sequence[Any]) -> str:
    """``('spec', 'rules', 0, 'assert', 'env.X')`` -> ``spec.rules[0].assert["env.X"]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _walk(doc: Any, loc: tuple[Any, ...]) -> tuple[Location | None, list[Any], list[Any]]:
    """Follow ``loc`` through the document: (deepest location, parts found, parts not)."""
    node = doc
    where: Location | None = getattr(doc, "loc", None)
    found: list[Any] = []
    missed: list[Any] = []
    for part in loc:
        if isinstance(node, LocDict) and _hashable(part) and part in node:
            where = node.locs.get(part, where)
            node = node[part]
            found.append(part)
        elif isinstance(node, LocList) and isinstance(part, int) and 0 <= part < len(node):
            where = node.locs[part]
            node = node[part]
            found.append(part)
        elif isinstance(node, dict) and _hashable(part) and part in node:
            node = node[part]
            found.append(part)
        else:
            missed.append(part)
    return where, found, missed


def _hashable(part: Any) -> bool:
    try:
        hash(part)
    except TypeError:
        return False
    return True


def _unwrap(tp: Any) -> Iterator[Any]:
    """The concrete types inside Annotated / Optional / unions."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        for arg in typing.get_args(tp):
            if arg is not type(None):
                yield from _unwrap(arg)
    else:
        yield tp


def model_at(root: type[BaseModel], parts: typing.Sequence[Any]) -> type[BaseModel] | None:
    """The model class that validates the node at ``parts`` (None when not a model)."""
    types: list[Any] = [root]
    for part in parts:
        nxt: list[Any] = []
        for tp in types:
            for t in _unwrap(tp):
                origin = typing.get_origin(t)
                if isinstance(t, type) and issubclass(t, BaseModel):
                    for name, field in t.model_fields.items():
                        if part in (name, field.alias):
                            nxt.append(field.annotation)
                elif origin is list and isinstance(part, int):
                    nxt.append(typing.get_args(t)[0])
                elif origin is dict:
                    nxt.append(typing.get_args(t)[1])
        types = nxt
    for tp in types:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                return t
    return None


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _message(err: Any, root: type[BaseModel], found: list[Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "extra_forbidden":
        key = found[-1] if found else "?"
        parent = model_at(root, found[:-1])
        what = "operator" if parent is Condition else "key"
        text = f"unknown {what} {key!r}"
        if parent is not None:
            allowed = _allowed_keys(parent)
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            if close:
                text += f" (did you mean {close[0]!r}?)"
            elif what == "key":
                text += f" (expected one of: {', '.join(allowed)})"
        return text
    if isinstance(value, Null):
        return "needs a value (it is empty or null)"
    if kind == "missing":
        return "missing required key"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        wanted = _PATTERNS.get(pattern, f"a string matching {pattern!r}")
        return f"{excerpt(value)} is not {wanted}"
    if kind == "literal_error":
        expected = str(ctx.get("expected")).replace("True", "true").replace("False", "false")
        return f"expected {expected}, got {excerpt(value)}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty" if kind == "too_short" else "must not be empty or blank"
    if kind in {"greater_than_equal", "less_than_equal"}:
        op = ">=" if kind == "greater_than_equal" else "<="
        bound = ctx.get("ge", ctx.get("le"))
        return f"must be {op} {bound}, got {excerpt(value)}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be "):]
        if kind not in {"model_type", "dict_type"} and "input" in err:
            msg += f", got {excerpt(value)}"
    return msg[:1].lower() + msg[1:] if msg[:2] != msg[:2].upper() else msg


def custom_error(problem: PydanticCustomError, doc: Any, loc: tuple[Any, ...],
                 display: str) -> InputError:
    """A validator's error found outside pydantic (see loader.structural_errors), located
    and worded exactly as :func:`errors_from` would."""
    at = tuple((problem.context or {}).get("at", ()))
    where, found, _ = _walk(doc, loc + at)
    parts = found[: len(loc) + len(at)]
    text = problem.message()
    message = f"{human_path(parts)}: {text}" if parts else text
    if where is None:
        return InputError(message, display)
    return InputError(message, display, where.line, where.column)


def errors_from(exc: ValidationError, doc: Any, root: type[BaseModel],
                display: str, prefix: tuple[Any, ...] = ()) -> list[InputError]:
    """Every error of ``exc`` as a located :class:`InputError` (union branches merged)."""
    merged: dict[tuple[Any, ...], tuple[Location | None, str, list[str]]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("at", ()))
        where, found, missed = _walk(doc, prefix + loc)
        found = found[len(prefix):] if found[: len(prefix)] == list(prefix) else found
        text = _message(err, root, found)
        parts = list(found)
        if err["type"] == "missing" and missed:
            text = f"missing required key {missed[-1]!r}"
        elif err["type"] == "extra_forbidden" and parts:
            parts = parts[:-1]
        key = (where, tuple(parts))
        if key in merged:
            merged[key][2].append(text)
        else:
            merged[key] = (where, human_path(parts), [text])
    out: list[InputError] = []
    for where, path, texts in merged.values():
        unique = list(dict.fromkeys(texts))
        if len(unique) > 1 and all(t.startswith("expected ") for t in unique):
            # A union (e.g. min: integer | number | string): one message, not three.
            got = unique[0].rpartition(", got ")[2]
            kinds = [t[len("expected "):].rpartition(", got ")[0] for t in unique]
            wanted = _UNIONS.get(frozenset(kinds), " or ".join(kinds))
            text = f"expected {wanted}, got {got}"
        else:
            text = "; ".join(unique)
        message = f"{path}: {text}" if path else text
        if where is None:
            out.append(InputError(message, display))
        else:
            out.append(InputError(message, display, where.line, where.column))
    return out


def located(doc: Any, *keys: Any) -> Location | None:
    """The location of the value at ``keys`` in a located document, if written."""
    node, where = doc, getattr(doc, "loc", None)
    for key in keys:
        locs = getattr(node, "locs", None)
        try:
            where = locs[key] if locs is not None else where
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return where
    return where
