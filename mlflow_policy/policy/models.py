"""The three document kinds of policy-language.md (Policy, Waiver, PolicyTest) as pydantic v2
models: the one source of truth for the loader and for the shipped JSON Schema.

Every model is frozen and refuses unknown keys. Load-time checks that a JSON Schema cannot
express (regexes compile, PEP 440 specifiers parse, exactly one rule kind, unique rule ids)
are validators here, so anything that builds a model gets them, not only the loader.

Field types and the validator helpers live in :mod:`fields`.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.policy.fields import (
    API_VERSION,
    FACT_PATH_PATTERN,
    DataName,
    FactGlob,
    FactPath,
    Name,
    NonBlank,
    RuleGlob,
    Severity,
    Text,
    TypeName,
    WritableFactPath,
    _Strict,
    check_regex,
    check_specifier,
    duplicate_id_problems,
    is_numeric_string,
    rule_kind_problem,
)
from mlflow_policy.policy.templating import is_template

__all__ = [
    "API_VERSION", "KINDS", "OPERATORS", "RULE_KINDS", "Condition", "Conditions",
    "ConsistentSpec", "Document", "ExpectedFinding", "Metadata", "PeerSpec", "PeerTarget",
    "Policy", "PolicySpec", "PolicyTest", "PolicyTestSpec", "PromotionSpec", "Remediation",
    "Rule", "RuleKind", "Selector", "Severity", "UniqueSpec", "Waiver", "WaiverMetadata",
    "WaiverSpec",
]

# --------------------------------------------------------------------------- conditions

OPERATORS: tuple[str, ...] = (
    "required", "forbidden", "type", "equals", "not_equals", "one_of", "not_one_of",
    "matches", "not_matches", "prefix", "suffix", "version", "pinned", "scheme",
    "not_scheme", "min", "max", "contains", "empty", "vaulted", "not_vulnerable", "all_of",
    "any_of", "not",
)

Bound = StrictInt | StrictFloat | StrictStr


class Condition(_Strict):
    """Operators on one fact; all given must hold. A bare scalar means {equals: <scalar>}."""

    # `equals: null` is a real operator, so "not given" is told apart through
    # model_fields_set (see `operators`), never by a None value.
    null_ok: ClassVar[frozenset[str]] = frozenset({"equals", "not_equals", "contains"})

    required: Literal[True] | None = None
    forbidden: Literal[True] | None = None
    type: TypeName | None = None
    equals: Any = None
    not_equals: Any = None
    one_of: Annotated[list[Any], Field(min_length=1)] | None = None
    not_one_of: Annotated[list[Any], Field(min_length=1)] | None = None
    matches: StrictStr | None = None
    not_matches: StrictStr | None = None
    prefix: StrictStr | None = None
    suffix: StrictStr | None = None
    version: StrictStr | None = None
    pinned: StrictBool | None = None
    scheme: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    not_scheme: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    min: Bound | None = None
    max: Bound | None = None
    contains: Any = None
    empty: StrictBool | None = None
    vaulted: StrictBool | None = None
    # an MLflow version no catalogued advisory of that scope affects (catalogue/advisories)
    not_vulnerable: Literal["server", "client"] | None = None
    all_of: Annotated[list[Condition], Field(min_length=1)] | None = None
    any_of: Annotated[list[Condition], Field(min_length=1)] | None = None
    not_: Condition | None = Field(default=None, alias="not")
    # a function of the fields set, so equal conditions stay equal
    _operators: tuple[str, ...] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, VaultedValue):
            raise PydanticCustomError(
                "condition_vaulted", "a condition cannot be a vaulted value", {})
        if isinstance(value, str | int | float | bool):
            return {"equals": value}
        if value is None:
            raise PydanticCustomError(
                "condition_empty",
                "empty condition: give operators (e.g. {required: true}) or a value to equal",
                {},
            )
        if isinstance(value, list):
            raise PydanticCustomError(
                "condition_list",
                "a condition is a mapping of operators or a bare scalar, not a list "
                "(did you mean one_of: [...]?)",
                {},
            )
        return value

    @field_validator("matches", "not_matches", "prefix", "suffix", "version", mode="wrap")
    @classmethod
    def _keep_unsafe(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # StrictStr hands back a plain str; keep the !unsafe mark (never templated).
        out = handler(value)
        return value if isinstance(value, Unsafe) else out

    @field_validator("matches", "not_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            check_regex(value)
        return value

    @field_validator("version")
    @classmethod
    def _specifier(cls, value: str | None) -> str | None:
        if value is not None:
            check_specifier(value)
        return value

    @field_validator("min", "max")
    @classmethod
    def _bound(cls, value: Bound | None) -> Bound | None:
        if isinstance(value, str) and not is_template(value) and not is_numeric_string(value):
            raise PydanticCustomError(
                "bad_bound", "expected a number (or a numeric string), got {value}",
                {"value": repr(value)},
            )
        return value

    @model_validator(mode="after")
    def _sane(self) -> Condition:
        if not self.model_fields_set:
            raise PydanticCustomError(
                "condition_empty", "a condition needs at least one operator ({ops})",
                {"ops": ", ".join(OPERATORS)},
            )
        if self.required and self.forbidden:
            raise PydanticCustomError(
                "condition_contradiction", "required and forbidden contradict each other",
                {"at": ("forbidden",)},
            )
        self._operators = self._given()
        return self

    @property
    def operators(self) -> tuple[str, ...]:
        """The operators written, by their YAML names, in the order of :data:`OPERATORS`."""
        # computed once by _sane: every host's check asks for it (model_construct skips
        # validation, hence the fallback)
        private = self.__pydantic_private__  # direct: pydantic's __getattr__ is slow
        cached = private.get("_operators") if private else None
        return cached if cached is not None else self._given()

    def _given(self) -> tuple[str, ...]:
        given = {("not" if f == "not_" else f) for f in self.model_fields_set}
        return tuple(op for op in OPERATORS if op in given)

    def arg(self, op: str) -> Any:
        """The value of operator ``op`` (its YAML name)."""
        return getattr(self, "not_" if op == "not" else op)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The before-validator accepts a bare scalar as {equals: X}; say so in the schema.
        obj = handler.resolve_ref_schema(handler(schema))
        obj["minProperties"] = 1
        return {
            "anyOf": [
                dict(obj),
                {"type": ["string", "number", "integer", "boolean"],
                 "description": "shorthand for {equals: <value>}"},
            ],
        }


Conditions = Annotated[dict[FactPath, Condition], Field(min_length=1)]
# assert: a key's last segment may be a glob over the keys of vars / env (every matching fact
# is checked on its own); where only vars.* and env.* may be globbed is a load check
# (factpaths), so that the error can say which mappings are open.
AssertConditions = Annotated[dict[FactGlob, Condition], Field(min_length=1)]


# --------------------------------------------------------------------------- selectors


class Selector(_Strict):
    """Which hosts: all keys given must hold (AND); any entry of one list may hold (OR)."""

    hosts: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    groups: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    roles: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    inventories: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    where: Conditions | None = None


class Remediation(_Strict):
    hint: Text | None = None
    set: Annotated[dict[WritableFactPath, Any], Field(min_length=1)] | None = None


# --------------------------------------------------------------------------- rule kinds


class ConsistentSpec(_Strict):
    fact: FactPath
    by: FactPath | None = None


class UniqueSpec(_Strict):
    fact: FactPath
    max: Annotated[StrictInt, Field(ge=1)] = 1
    by: FactPath | None = None


class PeerTarget(_Strict):
    match: Selector
    # One fact path or several (a server known under several aliases); each fact may hold
    # one address or a list of them.
    key: FactPath | Annotated[list[FactPath], Field(min_length=1)]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.key) if isinstance(self.key, list) else (self.key,)

    @property
    def key_text(self) -> str:
        """``server.url``, or ``server.url or vars.mlflow_aliases`` for messages."""
        return " or ".join(self.keys)


class PeerSpec(_Strict):
    via: FactPath
    target: PeerTarget
    assert_: dict[FactPath, Condition] = Field(default_factory=dict, alias="assert")
    unresolved: Literal["error", "warning", "info", "ignore"] = "error"


class PromotionSpec(_Strict):
    fact: FactPath
    from_: Selector = Field(alias="from")


class AggregateSpec(_Strict):
    """Hosts that share something are checked against a total over all of them (the
    connections every replica of one database opens): ``sum`` is each host's number (a fact
    path, or a template over the host's facts), ``by`` partitions the hosts (as in
    consistent), and ``assert`` checks each host of a partition, with ``aggregate.sum`` and
    ``aggregate.count`` (the partition's total and number of hosts) in its templates."""

    sum: NonBlank = Field(description="each host's number: a fact path, or a template such "
                                      "as \"{{ server.workers * 10 }}\"")
    by: FactPath | None = None
    assert_: Conditions = Field(alias="assert")

    @field_validator("sum")
    @classmethod
    def _path_or_template(cls, value: str) -> str:
        if not is_template(value) and re.fullmatch(FACT_PATH_PATTERN, value) is None:
            raise PydanticCustomError(
                "sum_value", "sum must be a fact path or a template ({{ ... }}), got {value}",
                {"value": repr(value)})
        return value


RuleKind = Literal["assert", "consistent", "unique", "peer", "promotion", "aggregate"]
# kind name -> attribute holding its spec
RULE_KINDS: dict[str, str] = {
    "assert": "assert_", "consistent": "consistent", "unique": "unique", "peer": "peer",
    "promotion": "promotion", "aggregate": "aggregate",
}


class Rule(_Strict):
    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": [kind]} for kind in RULE_KINDS]})

    id: Name
    title: Text | None = None
    description: Text | None = None
    severity: Severity | None = None
    # where the failure is documented: docs / issue / advisory URLs (explain, README, SARIF)
    references: Annotated[list[NonBlank], Field(min_length=1)] | None = None
    match: Selector | None = None
    exclude: Selector | None = None
    remediation: Remediation | None = None
    assert_: AssertConditions | None = Field(default=None, alias="assert")
    consistent: ConsistentSpec | None = None
    unique: UniqueSpec | None = None
    peer: PeerSpec | None = None
    promotion: PromotionSpec | None = None
    aggregate: AggregateSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        problem = rule_kind_problem(
            self.id, [k for k, attr in RULE_KINDS.items() if getattr(self, attr) is not None])
        if problem is not None:
            raise problem
        return self

    @property
    def kind(self) -> RuleKind:
        for name, attr in RULE_KINDS.items():
            if getattr(self, attr) is not None:
                return name  # type: ignore[return-value]
        raise AssertionError("validated rules have a kind")  # pragma: no cover

    @property
    def spec(self) -> (dict[str, Condition] | ConsistentSpec | UniqueSpec | PeerSpec
                       | PromotionSpec | AggregateSpec):
        value = getattr(self, RULE_KINDS[self.kind])
        assert value is not None
        return value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- documents


class Metadata(_Strict):
    name: Name
    description: Text | None = None
    labels: dict[StrictStr, StrictStr] | None = None


class PolicySpec(_Strict):
    severity: Severity = "error"
    match: Selector | None = None
    # Policy-level values (maps, lists, scalars) that the templates of its rules read as
    # `data.<name>`: `equals: "{{ data.tracking_uris[vars.team] }}"`. Literal: never
    # rendered themselves.
    data: dict[DataName, Any] | None = None
    rules: Annotated[list[Rule], Field(min_length=1)]

    @field_validator("data")
    @classmethod
    def _plain_data(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # A policy is public (reports quote rendered values): no vaulted secrets in it.
        stack: list[tuple[tuple[Any, ...], Any]] = [((k,), v) for k, v in (value or {}).items()]
        while stack:
            at, node = stack.pop()
            if isinstance(node, VaultedValue):
                raise PydanticCustomError(
                    "data_vaulted", "spec.data cannot hold a vaulted value", {"at": at})
            if isinstance(node, dict):
                stack.extend(((*at, k), v) for k, v in node.items())
            elif isinstance(node, list):
                stack.extend(((*at, i), v) for i, v in enumerate(node))
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicySpec:
        problems = duplicate_id_problems([rule.id for rule in self.rules])
        if problems:
            raise problems[0]
        return self


class Policy(_Strict):
    apiVersion: Literal["mlflow-policy/v1"]
    kind: Literal["Policy"]
    metadata: Metadata
    spec: PolicySpec


class WaiverMetadata(_Strict):
    name: Name
    description: Text | None = None
    labels: dict[StrictStr, StrictStr] | None = None


class WaiverSpec(_Strict):
    rules: Annotated[list[RuleGlob], Field(min_length=1)]
    match: Selector | None = None
    justification: NonBlank
    owner: NonBlank
    expires: _dt.date
    ticket: NonBlank | None = None

    @field_validator("expires", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        # pydantic's lax date would take a Unix timestamp; a waiver's end is a calendar day.
        if isinstance(value, _dt.datetime):
            raise PydanticCustomError(
                "expires_day", "expires is a day (YYYY-MM-DD), not a timestamp", {})
        if isinstance(value, _dt.date):
            return value
        if isinstance(value, str):
            try:
                return _dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise PydanticCustomError(
            "expires_day", "expires must be a day written YYYY-MM-DD, got {value}",
            {"value": repr(value)},
        )


class Waiver(_Strict):
    apiVersion: Literal["mlflow-policy/v1"]
    kind: Literal["Waiver"]
    metadata: WaiverMetadata
    spec: WaiverSpec


class ExpectedFinding(_Strict):
    """One finding a PolicyTest expects (fields left out match anything)."""

    rule: RuleGlob
    host: NonBlank | None = None
    inventory: NonBlank | None = None
    fact: FactPath | None = None
    severity: Severity | None = None
    waived: StrictBool | None = None


class PolicyTestSpec(_Strict):
    policies: Annotated[list[NonBlank], Field(min_length=1)]
    inventory: NonBlank
    expect: list[ExpectedFinding] = Field(default_factory=list)
    exhaustive: StrictBool = False


class PolicyTest(_Strict):
    apiVersion: Literal["mlflow-policy/v1"]
    kind: Literal["PolicyTest"]
    metadata: WaiverMetadata
    spec: PolicyTestSpec


Document = Policy | Waiver | PolicyTest
KINDS: dict[str, type[Policy] | type[Waiver] | type[PolicyTest]] = {
    "Policy": Policy, "Waiver": Waiver, "PolicyTest": PolicyTest,
}
