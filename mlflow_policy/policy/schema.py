"""The JSON Schema of policy files, generated from the models (the one source of truth).

The generated schema ships as ``schema.json`` next to this module (``mlflow-policy schema``
prints it, so that command needs no pydantic); a test fails when the two drift. Regenerate
with ``python -m mlflow_policy.policy.schema --write``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

SCHEMA_ID = "urn:mlflow-policy:schema:v1"  # not hosted anywhere: a URN, not a made-up URL
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def shipped() -> str:
    """The schema.json shipped with the package, as text."""
    return resources.files("mlflow_policy.policy").joinpath("schema.json").read_text("utf-8")


def _tidy(node: Any) -> Any:
    """Drop ``default: null`` (absent is not null) and close pattern-keyed objects (the
    models refuse a key that is not a fact path)."""
    if isinstance(node, dict):
        out = {k: _tidy(v) for k, v in node.items() if not (k == "default" and v is None)}
        if "patternProperties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def generate() -> dict[str, Any]:
    from pydantic import Field, TypeAdapter
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
    from pydantic_core import core_schema

    from mlflow_policy.policy.models import Policy, PolicyTest, Waiver

    class _Generator(GenerateJsonSchema):
        # Optional keys are "absent", never null: the models refuse an explicit null
        # (except where null is a value, which is typed Any), so the schema does too.
        def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
            return self.generate_inner(schema["schema"])

    adapter: TypeAdapter[Any] = TypeAdapter(
        Annotated[Policy | Waiver | PolicyTest, Field(discriminator="kind")])
    body = _tidy(adapter.json_schema(schema_generator=_Generator))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mlflow-policy document (Policy, Waiver or PolicyTest), apiVersion "
                 "mlflow-policy/v1",
        **body,
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def schema_tool(argv: Sequence[str] | None, *, prog: str, what: str, schema_file: Path,
                text: str) -> int:
    """``python -m <module> [--write]``: regenerate, or check, a shipped JSON Schema file
    (the policy schema here, the run configuration's in configmodel)."""
    parser = argparse.ArgumentParser(
        prog=prog, description=f"Regenerate or check the shipped JSON Schema of {what}.")
    parser.add_argument("--write", action="store_true", help=f"write {schema_file.name}")
    args = parser.parse_args(argv)
    if args.write:
        schema_file.write_text(text, encoding="utf-8")
        print(f"wrote {schema_file}")
        return 0
    if schema_file.exists() and schema_file.read_text(encoding="utf-8") == text:
        print(f"{schema_file.name} is up to date")
        return 0
    print(f"{schema_file.name} is out of date; run with --write", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return schema_tool(argv, prog="python -m mlflow_policy.policy.schema",
                       what="policy files", schema_file=SCHEMA_FILE, text=render())


if __name__ == "__main__":
    raise SystemExit(main())
