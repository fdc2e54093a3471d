"""Field types and validation helpers shared by the policy models (:mod:`models`).

Errors raised here are :class:`PydanticCustomError` whose context may carry ``at``: a loc
suffix (relative to the model that raised) naming the offending node, so that the loader
can point at the exact line instead of the enclosing mapping.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from mlflow_policy.policy.templating import is_template

API_VERSION = "mlflow-policy/v1"

Severity = Literal["error", "warning", "info"]
TypeName = Literal["string", "integer", "number", "boolean", "list", "mapping"]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
# A dotted fact path: `env.MLFLOW_TRACKING_URI`, `vars.mlflow_port`, `server.url`.
FACT_PATH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$"
# An assert key: a fact path whose last segment may be an fnmatch glob over the keys of an
# open mapping (`vars.*password*`, `env.MLFLOW_*_TIMEOUT`); factpaths checks which mapping.
FACT_GLOB_PATTERN = (r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*"
                     r"(\.[A-Za-z0-9_*?\[\]!-]+)?$")
# A policy's `data` entry, read by templates as `data.<name>`: a Jinja2 identifier.
DATA_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Full rule ids (`policy/rule`) or fnmatch globs over them.
RULE_GLOB_PATTERN = r"^[A-Za-z0-9*?\[\]!/_.-]+$"

Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN, max_length=100)]
FactPath = Annotated[str, StringConstraints(strict=True, pattern=FACT_PATH_PATTERN)]


def check_writable(path: str) -> str:
    """A ``remediation.set`` path must be a fact remediation can write into the inventory:
    a declared fact of the fact table (``facts/table.py``) or a hostvar (``vars.NAME``),
    not one only a live run observes (``db.revision``) nor one naming the host itself."""
    from mlflow_policy.facts.table import FACTS, fact_for

    fact = fact_for(path)
    if fact is not None and fact.path == "vars" and path != "vars":
        return path  # vars.NAME writes the hostvar NAME
    if fact is None:
        import difflib

        close = difflib.get_close_matches(
            path, [f.path for f in FACTS if f.modes in ("both", "declared")], n=1, cutoff=0.6)
        raise PydanticCustomError(
            "set_unknown_fact",
            "{path} is not a fact{hint}; remediation sets declared facts or vars.<hostvar>",
            {"path": repr(path), "hint": f" (did you mean {close[0]!r}?)" if close else ""})
    if fact.modes == "observed":
        raise PydanticCustomError(
            "set_observed_fact",
            "{path} is observed only (a live run reads it from the host); remediation sets "
            "declared facts, which the inventory holds", {"path": repr(path)})
    if fact.modes == "computed":
        raise PydanticCustomError(
            "set_computed_fact",
            "{path} is computed from other facts (mlflow.schema_head from mlflow.version); "
            "remediation sets the facts it is computed from", {"path": repr(path)})
    if fact.modes == "identity":
        raise PydanticCustomError(
            "set_identity_fact",
            "{path} is an identity fact (host, inventory, groups, role, all of vars); "
            "remediation cannot set it", {"path": repr(path)})
    return path


# a fact path remediation may write (see check_writable)
WritableFactPath = Annotated[FactPath, AfterValidator(check_writable)]
Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
NonBlank = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
RuleGlob = Annotated[str, StringConstraints(strict=True, pattern=RULE_GLOB_PATTERN)]
FactGlob = Annotated[str, StringConstraints(strict=True, pattern=FACT_GLOB_PATTERN)]
DataName = Annotated[str, StringConstraints(strict=True, pattern=DATA_NAME_PATTERN)]

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def is_numeric_string(value: str) -> bool:
    return bool(_NUMERIC.match(value))


def check_regex(pattern: str) -> None:
    """Compile ``pattern`` or raise a located-friendly error (templated ones compile later)."""
    if is_template(pattern):
        return
    from mlflow_policy.regex import check

    # RE2, as the check runs it: a pattern only Python's backtracking re accepts
    # (backreferences, lookarounds) is refused at load time
    reason = check(pattern)
    if reason is not None:
        raise PydanticCustomError(
            "bad_regex", "invalid regular expression {pattern}: {reason}",
            {"pattern": repr(pattern), "reason": reason},
        ) from None


def check_specifier(spec: str) -> None:
    """Parse ``spec`` as a PEP 440 specifier set or raise (templated ones parse later)."""
    if is_template(spec):
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    hint = ""
    try:
        if not spec.strip():
            raise InvalidSpecifier(spec)
        SpecifierSet(spec)
    except InvalidSpecifier:
        from packaging.version import InvalidVersion, Version

        try:
            Version(spec)
            hint = f" (did you mean '=={spec.strip()}'?)"
        except InvalidVersion:
            pass
        raise PydanticCustomError(
            "bad_specifier", "invalid PEP 440 version specifier {spec}{hint}",
            {"spec": repr(spec), "hint": hint},
        ) from None


class Null:
    """Stands in for an explicit null so that the field's own type check rejects it and
    reports it together with every other error of the document (a raising validator would
    hide them)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "null"


NULL = Null()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    # Keys whose null is a value (`equals: null`); any other known key written empty or
    # null is an error rather than silently "not given".
    null_ok: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, value: Any) -> Any:
        if isinstance(value, dict) and None in value.values():
            return {k: (NULL if v is None and k not in cls.null_ok and cls._known(k) else v)
                    for k, v in value.items()}
        return value

    @classmethod
    def _known(cls, key: Any) -> bool:
        return any(key in (name, f.alias) for name, f in cls.model_fields.items())


def rule_kind_problem(rule_id: Any, kinds: list[str]) -> PydanticCustomError | None:
    """Unless a rule has exactly one kind, the error (``at`` names the node to blame).

    Shared with the loader, which also asks this of rules whose other fields are invalid
    (pydantic skips a model's after-validators then), so one run reports everything.
    """
    if not kinds:
        return PydanticCustomError(
            "rule_kind_missing",
            "rule {id} has no kind: give exactly one of assert, consistent, unique, peer, "
            "promotion, aggregate",
            {"id": repr(rule_id), "at": ("id",)},
        )
    if len(kinds) > 1:
        return PydanticCustomError(
            "rule_kind_several",
            "rule {id} has several kinds ({kinds}); a rule has exactly one",
            {"id": repr(rule_id), "kinds": ", ".join(kinds), "at": (kinds[1],)},
        )
    return None


def duplicate_id_problems(ids: list[Any]) -> list[PydanticCustomError]:
    """One error per rule whose id an earlier rule of the policy has (``at`` its id)."""
    seen: dict[Any, int] = {}
    out = []
    for i, rule_id in enumerate(ids):
        if not isinstance(rule_id, str):
            continue
        if rule_id in seen:
            out.append(PydanticCustomError(
                "duplicate_rule_id",
                "duplicate rule id {id} (rule {first} of this policy has it already)",
                {"id": repr(rule_id), "first": seen[rule_id] + 1, "at": ("rules", i, "id")},
            ))
        else:
            seen[rule_id] = i
    return out
