"""The value operators of a condition: what each tests, and how findings describe it.

Pure functions over (operator, rendered argument, present value); the absence rule,
templates, vaulted values and combinators are :mod:`conditions`' business.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.facts.lookup import vaulted_at
from mlflow_policy.regex import RegexError, compile_pattern
from mlflow_policy.secrets import MASK, SECRET_NAME, is_secret_name, mask_text

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):")
_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
# Bare words MLflow itself takes as a scheme (tracking / registry URIs without "://").
_BARE_SCHEMES = frozenset({"databricks", "databricks-uc", "uc"})
_MAX_SHOWN = 120


# Shown as *** wherever an argument is printed (fmt prints every VaultedValue so).
MASKED = VaultedValue("")


def mentions_secret(value: Any) -> bool:
    """Whether a (template) argument names a secret-looking variable anywhere in it."""
    if isinstance(value, str):
        return bool(SECRET_NAME.search(value))
    if isinstance(value, list | tuple):
        return any(mentions_secret(v) for v in value)
    if isinstance(value, Mapping):
        return any(mentions_secret(v) for v in value.values())
    return False


class Verdict(NamedTuple):
    holds: bool
    mismatch: str | None = None  # what the value was, when its type does not fit the operator
    problem: str | None = None  # the (rendered) argument itself is unusable


# ------------------------------------------------------------------------------- showing


def fmt(value: Any) -> str:
    """A value as messages quote it: strings quoted, YAML spellings for true/false/null."""
    if isinstance(value, VaultedValue):
        return MASK if value.redacted is None else repr(mask_text(value.redacted))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(mask_text(str(value)))
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(fmt(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _masked(value: Any, name: str) -> Any:
    if isinstance(value, VaultedValue):
        return value
    if is_secret_name(name) and value is not None and not isinstance(
            value, Mapping | list | tuple):
        return VaultedValue("")  # prints as ***
    if isinstance(value, Mapping):
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v, name) for v in value]
    return value


def show_value(value: Any, path: str, facts: HostFacts) -> str:
    """The fact's value for a message, secrets masked: vaulted values (and values of a
    decrypted vault file), secret-named variables and URI passwords."""
    if vaulted_at(facts, path) or isinstance(value, VaultedValue):
        return f"{MASK} (vaulted)"
    return fmt(_masked(value, path.rpartition(".")[2]))


def redacted_text(value: Any) -> str | None:
    """The text of a vaulted value with its secret parts masked, when it has one: an
    opaque value's rendered redaction, or decrypted plaintext with URI passwords masked."""
    if isinstance(value, VaultedValue):
        return value.redacted
    return mask_text(value) if isinstance(value, str) else None


def kind_of(value: Any) -> str:
    """What a value is, in YAML words, for type-mismatch messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def short(op: str, arg: Any) -> str:
    """The operator with its argument, as `expected` shows it."""
    if op in ("required", "forbidden"):
        return op
    if op in ("pinned", "empty", "vaulted"):
        return op if arg else f"not {op}"
    if op == "type":
        return f"type {arg}"
    if op == "not_vulnerable":
        return f"no known {arg} advisory"
    if op in ("min", "max"):
        return f"{'>=' if op == 'min' else '<='} {fmt(arg)}"
    if op in ("scheme", "not_scheme"):
        return f"scheme {'not ' if op == 'not_scheme' else ''}in {fmt(arg)}"
    if op in ("all_of", "any_of"):
        return f"{op.replace('_', ' ')} ({'; '.join(arg)})"
    if op == "not":
        return f"not ({arg})"
    return f"{op.replace('_', ' ')} {fmt(arg)}"


_PHRASES = {
    "equals": "to equal {}", "not_equals": "to differ from {}", "one_of": "to be one of {}",
    "not_one_of": "not to be one of {}", "matches": "to match {}",
    "not_matches": "not to match {}", "prefix": "to start with {}", "suffix": "to end with {}",
    "version": "to be a version satisfying {}", "scheme": "to have a URI scheme in {}",
    "not_scheme": "not to have a URI scheme in {}", "min": "to be >= {}", "max": "to be <= {}",
    "contains": "to contain {}",
}


def phrase(op: str, arg: Any) -> str:
    """What the operator wants, as the end of "<fact> is <value>, expected ..."."""
    if op == "type":
        return f"to be of type {arg}"
    if op == "pinned":
        return "to be pinned to one exact version" if arg else "not to be pinned"
    if op == "empty":
        return "to be empty" if arg else "not to be empty"
    if op == "vaulted":
        return "to be vault-encrypted" if arg else "not to be vault-encrypted"
    if op == "not_vulnerable":
        return f"an MLflow version no published advisory affects on a {arg}"
    return _PHRASES[op].format(fmt(arg))


# ----------------------------------------------------------------------------- semantics


def same(a: Any, b: Any) -> bool:
    """Equality with YAML's types kept apart: "1" != 1 and true != 1 (but 1 == 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def number(value: Any) -> float | None:
    """``value`` as a number when it is one (or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if not isinstance(value, float) or math.isfinite(value) else None
    if isinstance(value, str) and _NUMERIC.match(value):
        return float(value)
    return None


def scheme_of(uri: str) -> str | None:
    """The URI's scheme, lower case: ``postgresql+psycopg2://`` is ``postgresql+psycopg2``
    (callers also accept its base ``postgresql``); a bare path or a Windows drive path is
    ``file``; None for an empty string."""
    text = uri.strip()
    if not text:
        return None
    if _DRIVE.match(text):
        return "file"
    if text.lower() in _BARE_SCHEMES:
        return text.lower()
    m = _SCHEME.match(text)
    return m.group("scheme").lower() if m else "file"


def is_pinned(text: str) -> bool:
    """Exactly one PEP 440 version: no operator, range, wildcard or ``latest``."""
    from packaging.version import InvalidVersion, Version

    if text != text.strip() or not text:
        return False
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _regex(pattern: str) -> Any:
    # linear time (RE2): a pattern from a pull request cannot hang the run
    return compile_pattern(pattern)


def _type_holds(name: Any, value: Any) -> bool:
    if name == "string":
        return isinstance(value, str | VaultedValue)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "list":
        return isinstance(value, list | tuple)
    if name == "mapping":
        return isinstance(value, Mapping)
    return False


def _string_op(op: str, arg: Any, value: Any) -> Verdict:
    if not isinstance(value, str):
        if op in ("version", "pinned") and number(value) is not None:
            return Verdict(False, f"{kind_of(value)}, not a version string (quote it in YAML)")
        return Verdict(False, f"{kind_of(value)}, not a string")
    text = str(value)
    if op in ("matches", "not_matches"):
        try:
            found = _regex(str(arg)).search(text) is not None
        except RegexError as exc:
            return Verdict(False, problem=f"invalid regular expression {fmt(arg)}: {exc}")
        return Verdict(found if op == "matches" else not found)
    if op == "prefix":
        return Verdict(text.startswith(str(arg)))
    if op == "suffix":
        return Verdict(text.endswith(str(arg)))
    if op == "pinned":
        return Verdict(is_pinned(text) is bool(arg))
    if op in ("scheme", "not_scheme"):
        scheme = scheme_of(text)
        if scheme is None:
            return Verdict(False, "an empty string, not a URI")
        wanted = {str(s).lower() for s in (arg if isinstance(arg, list) else [arg])}
        listed = scheme in wanted or scheme.split("+", 1)[0] in wanted
        return Verdict(listed if op == "scheme" else not listed)
    try:
        return _version_op(arg, text)
    except TypeError:  # an unhashable argument: nothing to share
        return _version_op.__wrapped__(arg, text)


@functools.lru_cache(maxsize=4096, typed=True)
def _version_op(arg: Any, text: str) -> Verdict:
    """``version``: a fleet checks a few distinct versions against a few specifiers, on
    thousands of hosts (the peer rule renders the specifier per server)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        spec = SpecifierSet(str(arg))
    except InvalidSpecifier:
        return Verdict(False, problem=f"invalid PEP 440 version specifier {fmt(arg)}")
    try:
        version = Version(text)
    except InvalidVersion:
        return Verdict(False, "not a PEP 440 version")
    return Verdict(spec.contains(version, prereleases=True))


def _advisories(scope: str, value: Any) -> Verdict:
    """``not_vulnerable``: the catalogue's advisories (OSV ranges) of ``scope`` that hold
    the version, named in the message with their fixes (the way out is the newest fix)."""
    from mlflow_policy import catalogue

    if not isinstance(value, str):
        return Verdict(False, f"{kind_of(value)}, not a version string")
    if not is_pinned(value):
        return Verdict(True)  # a range is unknowable here; `pinned` is the rule that says so
    hits = catalogue.advisories_affecting(value, scope)
    if not hits:
        return Verdict(True)
    return Verdict(False, "affected by " + "; ".join(a.label for a in hits))


def evaluate(op: str, arg: Any, value: Any) -> Verdict:
    """Operator ``op`` with (rendered) argument ``arg`` on a present, non-vaulted value."""
    if op == "type":
        return Verdict(_type_holds(arg, value))
    if op == "equals":
        return Verdict(same(value, arg))
    if op == "not_equals":
        return Verdict(not same(value, arg))
    if op in ("one_of", "not_one_of"):
        items = arg if isinstance(arg, list) else [arg]
        listed = any(same(value, item) for item in items)
        return Verdict(listed if op == "one_of" else not listed)
    if op == "not_vulnerable":
        return _advisories(str(arg), value)
    if op in ("matches", "not_matches", "prefix", "suffix", "version", "pinned", "scheme",
              "not_scheme"):
        return _string_op(op, arg, value)
    if op in ("min", "max"):
        bound = number(arg)
        if bound is None:
            return Verdict(False, problem=f"{op} needs a number, got {fmt(arg)}")
        got = number(value)
        if got is None:
            what = "a string that is not a number" if isinstance(value, str) else \
                f"{kind_of(value)}, not a number"
            return Verdict(False, what)
        return Verdict(got >= bound if op == "min" else got <= bound)
    if op == "contains":
        if isinstance(value, list | tuple):
            return Verdict(any(same(item, arg) for item in value))
        if isinstance(value, str):
            if not isinstance(arg, str):
                return Verdict(False, f"a string; it cannot contain {kind_of(arg)}")
            return Verdict(str(arg) in str(value))
        return Verdict(False, f"{kind_of(value)}, not a list or a string")
    if op == "empty":
        if value is None:
            return Verdict(bool(arg))
        if isinstance(value, str | list | tuple | Mapping):
            return Verdict((len(value) == 0) is bool(arg))
        return Verdict(False, f"{kind_of(value)}, not a list, mapping or string")
    raise ValueError(f"not a value operator: {op}")
