"""The Ansible filters and tests that inventory values commonly use, reimplemented with
Ansible's semantics (``ansible/plugins/filter/core.py``, 2.19). A filter not listed here
makes the value unresolved (reported, kept as written), never silently wrong. Regular
expressions run on RE2 (linear time; see :mod:`mlflow_policy.regex` for how it differs
from Ansible's ``re``)."""

from __future__ import annotations

import base64
import json
import os.path
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from mlflow_policy.regex import compile_pattern

_TRUE = {"yes", "on", "true", "1"}
_FALSE = {"no", "off", "false", "0"}


class FilterError(Exception):
    """A filter refused its input (Ansible would fail the template)."""


def to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    check: object = value.lower() if isinstance(value, str) else (
        str(value).lower() if isinstance(value, int) else value)
    if check in _TRUE:
        return True
    if check in _FALSE:
        return False
    try:
        return bool(check == 1)
    except TypeError:
        return False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def regex_replace(  # noqa: PLR0917 - Ansible's signature
    value: Any = "", pattern: str = "", replacement: str = "", ignorecase: bool = False,
    multiline: bool = False, count: int = 0, mandatory_count: int = 0,
) -> str:
    output, subs = compile_pattern(pattern, bool(ignorecase), bool(multiline)).subn(
        replacement, _text(value), count=count)
    if mandatory_count and mandatory_count != subs:
        raise FilterError(f"'{pattern}' should match {mandatory_count} times")
    return str(output)


def regex_search(value: Any, regex: str, *args: str, **kwargs: Any) -> Any:
    groups: list[Any] = []
    for arg in args:
        m = re.match(r"\\g<(\S+)>", arg) or re.match(r"\\(\d+)", arg)
        if not m:
            raise FilterError("Unknown argument")
        groups.append(m.group(1) if arg.startswith("\\g") else int(m.group(1)))
    match = compile_pattern(regex, bool(kwargs.get("ignorecase")),
                            bool(kwargs.get("multiline"))).search(_text(value))
    if match:
        return [match.group(g) for g in groups] if groups else match.group()
    return None


def regex_findall(value: Any, regex: str, multiline: bool = False,
                  ignorecase: bool = False) -> list[Any]:
    return list(compile_pattern(regex, bool(ignorecase), bool(multiline)).findall(_text(value)))


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if bool(value) else false_val


def _merge(low: Mapping[Any, Any], high: Mapping[Any, Any], recursive: bool,
           list_merge: str) -> dict[Any, Any]:
    result = dict(low)
    for key, value in high.items():
        old = result.get(key)
        if recursive and isinstance(old, Mapping) and isinstance(value, Mapping):
            result[key] = _merge(old, value, recursive, list_merge)
        elif isinstance(old, list) and isinstance(value, list) and list_merge != "replace":
            if list_merge == "keep":
                continue
            if list_merge == "append":
                result[key] = old + value
            elif list_merge == "prepend":
                result[key] = value + old
            elif list_merge == "append_rp":
                result[key] = [x for x in old if x not in value] + value
            elif list_merge == "prepend_rp":
                result[key] = value + [x for x in old if x not in value]
            else:
                raise FilterError(f"unknown list_merge {list_merge!r}")
        else:
            result[key] = value
    return result


def combine(*terms: Any, recursive: bool = False, list_merge: str = "replace") -> Any:
    dicts: list[Any] = []
    for term in terms:
        dicts.extend(term if isinstance(term, list) else [term])
    if not dicts:
        return {}
    result = dicts[0] if len(dicts) == 1 else {}
    for d in dicts if len(dicts) > 1 else []:
        if not isinstance(d, Mapping):
            raise FilterError("combine expects dictionaries")
        result = _merge(result, d, recursive, list_merge)
    return result


def dict2items(value: Any, key_name: str = "key", value_name: str = "value") -> list[Any]:
    if not isinstance(value, Mapping):
        raise FilterError("dict2items requires a dictionary")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def items2dict(value: Any, key_name: str = "key", value_name: str = "value") -> dict[Any, Any]:
    if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
        raise FilterError("items2dict requires a list")
    return {item[key_name]: item[value_name] for item in value}


def flatten(value: Any, levels: int | None = None, skip_nulls: bool = True) -> list[Any]:
    out: list[Any] = []
    for item in value:
        if skip_nulls and item in (None, "None", "null"):
            continue
        if isinstance(item, list) and (levels is None or levels > 0):
            out.extend(flatten(item, None if levels is None else levels - 1, skip_nulls))
        else:
            out.append(item)
    return out


def mandatory(value: Any, msg: str | None = None) -> Any:
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        raise FilterError(msg or "Mandatory variable not defined.")
    return value


def to_json(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, **kwargs)


def to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kwargs: Any) -> str:
    kwargs.pop("separators", None)
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "),
                      **kwargs)


def from_json(value: str) -> Any:
    return json.loads(value)


def to_yaml(value: Any, **kwargs: Any) -> str:
    import yaml

    kwargs.setdefault("default_flow_style", None)
    return str(yaml.safe_dump(value, allow_unicode=True, **kwargs))


def to_nice_yaml(value: Any, indent: int = 4, **kwargs: Any) -> str:
    kwargs.setdefault("default_flow_style", False)
    return to_yaml(value, indent=indent, **kwargs)


def b64encode(value: Any, encoding: str = "utf-8") -> str:
    return base64.b64encode(_text(value).encode(encoding)).decode(encoding)


def b64decode(value: Any, encoding: str = "utf-8") -> str:
    return base64.b64decode(_text(value).encode(encoding)).decode(encoding)


def _is_match(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False,
              how: str = "match") -> bool:
    compiled = compile_pattern(pattern, bool(ignorecase), bool(multiline))
    fn = {"match": compiled.match, "search": compiled.search,
          "fullmatch": compiled.fullmatch}[how]
    return fn(_text(value)) is not None


def _unique(seq: Any) -> list[Any]:
    out: list[Any] = []
    for item in seq:
        if item not in out:
            out.append(item)
    return out


def _seq(value: Any, name: str) -> list[Any]:
    if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
        raise FilterError(f"{name} expects a list")
    return list(value)


def union(a: Any, b: Any) -> list[Any]:
    return _unique(_seq(a, "union") + _seq(b, "union"))


def intersect(a: Any, b: Any) -> list[Any]:
    other = _seq(b, "intersect")
    return _unique([x for x in _seq(a, "intersect") if x in other])


def difference(a: Any, b: Any) -> list[Any]:
    other = _seq(b, "difference")
    return _unique([x for x in _seq(a, "difference") if x not in other])


def symmetric_difference(a: Any, b: Any) -> list[Any]:
    left, right = _seq(a, "symmetric_difference"), _seq(b, "symmetric_difference")
    return _unique([x for x in left if x not in right] + [x for x in right if x not in left])


def _loose(version: Any) -> list[Any]:
    # distutils' LooseVersion, which Ansible's default (loose) version test uses
    parts = [p for p in re.split(r"(\d+|[a-z]+|\.)", str(version)) if p and p != "."]
    return [int(p) if p.isdigit() else p for p in parts]


_VERSION_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "eq": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "<>": lambda a, b: a != b, "ne": lambda a, b: a != b,
    "<": lambda a, b: a < b, "lt": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, "le": lambda a, b: a <= b,
    ">": lambda a, b: a > b, "gt": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "ge": lambda a, b: a >= b,
}


def version_test(value: Any, version: Any = "", operator: str = "eq", strict: Any = None,
                 version_type: Any = None) -> bool:
    if strict is not None or version_type not in (None, "loose"):
        raise FilterError("only the default (loose) version comparison is supported")
    if not version:
        raise FilterError("Version parameter to compare against cannot be empty")
    try:
        op = _VERSION_OPS[operator]
    except KeyError:
        raise FilterError(f"Invalid operator type ({operator})") from None
    try:
        return op(_loose(value), _loose(version))
    except TypeError as exc:  # 1.a vs 1.1: Ansible fails too
        raise FilterError("versions are not comparable") from exc


def hash_filter(value: Any, hashtype: str = "sha1") -> str:
    import hashlib

    try:
        h = hashlib.new(hashtype)
    except ValueError:
        raise FilterError(f"unsupported hash type {hashtype}") from None
    h.update(_text(value).encode("utf-8"))
    return h.hexdigest()


def _extract(environment: Any, item: Any, container: Any, morekeys: Any = None) -> Any:
    keys = [item] if morekeys is None else (
        [item, *morekeys] if isinstance(morekeys, list) else [item, morekeys])
    value = container
    for key in keys:
        value = environment.getitem(value, key)
    return value


def extract_filter() -> Callable[..., Any]:
    """``extract`` needs Jinja's environment (undefined handling); built when jinja2 is."""
    from jinja2 import pass_environment

    return pass_environment(_extract)


FILTERS: dict[str, Callable[..., Any]] = {
    "split": lambda s, sep=None, maxsplit=-1: _text(s).split(sep, maxsplit),
    "zip": lambda *seqs: [list(t) for t in zip(*seqs, strict=False)],
    "hash": hash_filter,
    "checksum": lambda v: hash_filter(v, "sha1"),
    "path_join": lambda parts: os.path.join(*[_text(p) for p in (
        [parts] if isinstance(parts, str) else parts)]),
    "unique": lambda seq, case_sensitive=None, attribute=None: _unique(_seq(seq, "unique")),
    "union": union,
    "intersect": intersect,
    "difference": difference,
    "symmetric_difference": symmetric_difference,
    "bool": to_bool,
    "ternary": ternary,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_escape": lambda s, re_type="python": re.escape(_text(s)),
    "combine": combine,
    "dict2items": dict2items,
    "items2dict": items2dict,
    "flatten": flatten,
    "mandatory": mandatory,
    "to_json": to_json,
    "to_nice_json": to_nice_json,
    "from_json": from_json,
    "to_yaml": to_yaml,
    "to_nice_yaml": to_nice_yaml,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "quote": lambda s: shlex.quote(_text(s)),
    "basename": lambda p: os.path.basename(_text(p)),
    "dirname": lambda p: os.path.dirname(_text(p)),
    "splitext": lambda p: list(os.path.splitext(_text(p))),
    "expanduser": lambda p: os.path.expanduser(_text(p)),
    "type_debug": lambda v: type(v).__name__,
}

TESTS: dict[str, Callable[..., bool]] = {
    "version": version_test,
    "version_compare": version_test,
    "match": lambda v, p, ignorecase=False, multiline=False: _is_match(
        v, p, ignorecase, multiline, "match"),
    "search": lambda v, p, ignorecase=False, multiline=False: _is_match(
        v, p, ignorecase, multiline, "search"),
    "regex": lambda v, p, ignorecase=False, multiline=False, match_type="search": _is_match(
        v, p, ignorecase, multiline, match_type),
    "truthy": lambda v, convert_bool=False: bool(to_bool(v) if convert_bool else v),
    "falsy": lambda v, convert_bool=False: not (to_bool(v) if convert_bool else v),
    "contains": lambda seq, item: item in seq,
}
