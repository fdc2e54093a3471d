"""The model of the run configuration file (``.mlflow-policy.yaml`` / ``[tool.mlflow-policy]``)
and its JSON Schema.

:mod:`mlflow_policy.config` validates a config file with :class:`ConfigFile` (imported only
when there is a file: a run without one never loads pydantic), so that ``facts:`` keys and
``drift:`` entries are checked against the one fact table, and every error is located.
The schema ships as ``config.schema.json`` beside this module (``mlflow-policy schema
--config`` prints it); a test fails when it drifts from the model. Regenerate with
``python -m mlflow_policy.configmodel --write``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mlflow_policy.errors import InputError
from mlflow_policy.facts import table

SCHEMA_ID = "urn:mlflow-policy:config-schema:v1"
SCHEMA_FILE = Path(__file__).with_name("config.schema.json")
FAIL_ON = ("error", "warning", "info", "never")

# Open mappings of the fact table (env.<NAME>): any key below them names a fact.
_OPEN = [f.path for f in table.FACTS if f.open_mapping]
_OPEN_PATTERN = "^(" + "|".join(p.replace(".", r"\.") for p in _OPEN) + r")\.[^.]+(\..+)?$"
# Facts static mode reads from a hostvar: what a facts: entry may map to another hostvar.
DECLARABLE = tuple(f.path for f in table.FACTS if f.hostvar is not None)


def _hint(path: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(path, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _known(path: str) -> str:
    if not table.known(path):
        choices = [f.path for f in table.FACTS] + sorted(
            {f.path.split(".")[0] for f in table.FACTS if "." in f.path})
        raise PydanticCustomError("unknown_fact", "unknown fact path {path}{hint}",
                                  {"path": repr(path), "hint": _hint(path, choices)})
    return path


def _declarable(path: str) -> str:
    fact = table.fact_for(path)
    if fact is None and table.is_prefix(path):
        raise PydanticCustomError(
            "undeclarable_fact", "{path} is a group of facts: map each fact of it",
            {"path": repr(path)})
    if fact is None:
        raise PydanticCustomError("unknown_fact", "unknown fact path {path}{hint}",
                                  {"path": repr(path), "hint": _hint(path, DECLARABLE)})
    if fact.hostvar is None:
        why = {"observed": "observed only",
               "computed": "computed from other facts"}.get(fact.modes, "not read from a hostvar")
        raise PydanticCustomError(
            "undeclarable_fact", "{path} is {why}: no hostvar declares it",
            {"path": repr(path), "why": why})
    return path


_FACT_NAMES = {"anyOf": [{"enum": [f.path for f in table.FACTS]},
                         {"enum": sorted({f.path.split(".")[0] for f in table.FACTS})},
                         {"pattern": _OPEN_PATTERN}]}
_DECLARABLE_NAMES = {"anyOf": [{"enum": list(DECLARABLE)}, {"pattern": _OPEN_PATTERN}]}

KnownFact = Annotated[str, StringConstraints(strict=True, min_length=1),
                      AfterValidator(_known), WithJsonSchema({"type": "string", **_FACT_NAMES})]
DeclarableFact = Annotated[str, StringConstraints(strict=True, min_length=1),
                           AfterValidator(_declarable)]
NonEmpty = Annotated[str, StringConstraints(strict=True, min_length=1)]
PathList = NonEmpty | list[NonEmpty]
Hostvar = Annotated[str, StringConstraints(strict=True, min_length=1),
                    Field(description="hostvar name, dotted for a nested hostvar")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_HOSTVAR_MAP = {"type": "object", "propertyNames": _DECLARABLE_NAMES,
                "additionalProperties": {"type": "string", "minLength": 1}}


class FactsSection(_Closed):
    """``facts:``: fact path -> hostvar, and per-inventory overrides under ``inventories``."""

    mapping: dict[DeclarableFact, Hostvar] = Field(default_factory=dict)
    inventories: dict[NonEmpty, dict[DeclarableFact, Hostvar]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # one mapping in the file: the fact paths beside the 'inventories' key
        if isinstance(value, Mapping):
            out: dict[str, Any] = {"mapping": {k: v for k, v in value.items()
                                               if k != "inventories"}}
            if "inventories" in value:
                out["inventories"] = value["inventories"]
            return out
        return value


_FACTS_SCHEMA = {
    "type": "object",
    "description": "fact path -> the hostvar static mode reads it from (dotted for a nested "
                   "hostvar); 'inventories' holds per-inventory overrides",
    "propertyNames": {"anyOf": [{"const": "inventories"}, _DECLARABLE_NAMES]},
    "properties": {"inventories": {"type": "object", "additionalProperties": _HOSTVAR_MAP}},
    "additionalProperties": {"type": "string", "minLength": 1},
}


_RULES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "turn rules off or re-grade them, permanently (not a waiver): full rule "
                   "ids (policy/rule, mlflow-policy/... for built-ins) or fnmatch globs",
    "propertyNames": {"type": "string", "pattern": "/"},
    "additionalProperties": {
        "type": "object", "additionalProperties": False, "minProperties": 1,
        "properties": {
            "enabled": {"type": "boolean"},
            "severity": {"enum": ["error", "warning", "info"]},
            "reason": {"type": "string", "minLength": 1},
        },
    },
}


class ConfigFile(_Closed):
    """The run configuration; paths are relative to the file that holds it."""

    policies: PathList | None = Field(None, description="default policy paths")
    inventories: PathList | None = Field(
        None, description="default inventories (default: every directory under inventories/)")
    waivers: PathList | None = Field(None, description="waiver files or directories")
    fail_on: Literal["error", "warning", "info", "never"] | None = None
    playbook_dir: NonEmpty | None = Field(
        None, description="also read group_vars/ and host_vars/ next to the playbooks")
    facts: Annotated[FactsSection | None, WithJsonSchema(_FACTS_SCHEMA)] = None
    roles: dict[NonEmpty, list[NonEmpty]] | None = Field(
        None, description="the role fact when the role hostvar is unset: role -> groups, "
                          "first match wins")
    drift: list[KnownFact] | None = Field(
        None, description="fact paths (or groups of them: server, env) compared in drift")
    # validated with located messages by policy/ruleconfig.parse_rule_settings
    rules: Annotated[dict[str, Any] | None, WithJsonSchema(_RULES_SCHEMA)] = None


# --------------------------------------------------------------------------- errors

# Each field's message when its value has the wrong shape (the texts config errors have
# always had); a fact path the table does not know gets its own message instead.
_SHAPE = {
    "policies": "'policies' must be a path or a list of paths",
    "inventories": "'inventories' must be a path or a list of paths",
    "waivers": "'waivers' must be a path or a list of paths",
    "playbook_dir": "'playbook_dir' must be a path",
    "roles": "'roles' must map each role to a list of group names",
    "drift": "'drift' must be a list of fact paths",
    "rules": "'rules' must map rule ids (or globs) to {enabled, severity, reason}",
}
_FACT_ERRORS = ("unknown_fact", "undeclarable_fact")


def _doc_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A model loc as a path in the file: facts' paths sit beside 'inventories' (no
    'mapping'), and a dict key's error names the key (no '[key]' marker)."""
    return tuple(part for i, part in enumerate(loc)
                 if part != "[key]" and not (i == 1 and loc[0] == "facts"
                                            and part == "mapping"))


def _where(data: Any, path: tuple[Any, ...], line: int | None) -> tuple[int | None, int | None]:
    """The line and column of the deepest node of ``path`` the file says where it is."""
    found: tuple[int | None, int | None] = (line, None)
    node = data
    for part in path:
        locs = getattr(node, "locs", None)
        if isinstance(node, Mapping) and part in node:
            if locs is not None and part in locs:
                found = (locs[part].line, locs[part].column)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if locs is not None and part < len(locs):
                found = (locs[part].line, locs[part].column)
            node = node[part]
        else:
            break
    return found


def _message(err: Any, path: tuple[Any, ...], data: Mapping[Any, Any]) -> str:
    field = path[0] if path else None
    if err["type"] == "extra_forbidden" and len(path) == 1:
        allowed = ", ".join(sorted(ConfigFile.model_fields))
        return f"unknown key '{field}' (allowed: {allowed})"
    if err["type"] in _FACT_ERRORS:
        where = "'facts'" if field == "facts" else f"'{field}'"
        if field == "facts" and len(path) > 2 and path[1] == "inventories":
            where = f"'facts.inventories.{path[2]}'"
        return f"{where}: {err['msg']}"
    if field == "fail_on":
        return (f"'fail_on' must be one of {', '.join(FAIL_ON)}, "
                f"not {data.get('fail_on')!r}")
    if field == "facts":
        if len(path) == 1:
            return "'facts' must be a mapping of fact paths to hostvar names"
        if path[1] == "inventories":
            if len(path) == 2:
                return "'facts.inventories' must map inventory names to mappings"
            return f"'{path[2]}' must map fact paths to hostvar names"
        return "'facts' must map fact paths to hostvar names"
    return _SHAPE.get(str(field), f"'{field}': {err['msg']}")


def validate(data: Mapping[Any, Any], display: str, line: int | None) -> ConfigFile:
    """The config ``data`` as a model, or ``InputErrors`` with every problem located
    (``line``: where the table starts, for a TOML file that keeps no positions)."""
    from mlflow_policy.errors import InputErrors

    try:
        return ConfigFile.model_validate(dict(data))
    except ValidationError as exc:
        errors: dict[tuple[str, int | None], InputError] = {}
        for err in exc.errors(include_url=False):
            path = _doc_path(tuple(err["loc"]))
            message = _message(err, path, data)
            at_line, col = _where(data, path, line)
            errors.setdefault((message, at_line),
                              InputError(message, display, at_line, col))
        raise InputErrors(list(errors.values())) from None


# --------------------------------------------------------------------------- schema


def generate() -> dict[str, Any]:
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
    from pydantic_core import core_schema

    class _Generator(GenerateJsonSchema):
        # absent, never null (a key written empty is treated as absent)
        def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
            return self.generate_inner(schema["schema"])

    body = ConfigFile.model_json_schema(schema_generator=_Generator)

    def tidy(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: tidy(v) for k, v in node.items() if not (k == "default" and v is None)}
        if isinstance(node, list):
            return [tidy(v) for v in node]
        return node

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **tidy(body),
        "title": "mlflow-policy run configuration (.mlflow-policy.yaml or "
                 "[tool.mlflow-policy] in pyproject.toml)",
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def shipped() -> str:
    """The config.schema.json shipped with the package, as text."""
    return resources.files("mlflow_policy").joinpath("config.schema.json").read_text("utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    from mlflow_policy.policy.schema import schema_tool

    return schema_tool(argv, prog="python -m mlflow_policy.configmodel",
                       what="the run configuration", schema_file=SCHEMA_FILE, text=render())


if __name__ == "__main__":
    raise SystemExit(main())
