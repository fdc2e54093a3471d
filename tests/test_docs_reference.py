"""The generated reference pages (docs/reference/) are what tools/gen_docs.py makes from
the code now: the fact table, the config model, the CLI parsers, the bundled pack. A
change to any of them without `python tools/gen_docs.py --write` fails here."""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import replace
from types import ModuleType

import pytest

from mlflow_policy import cli
from mlflow_policy.configmodel import ConfigFile
from mlflow_policy.facts import table
from mlflow_policy.findings import BUILTIN_RULES
from tests.support import REPO, load_tool

REFERENCE = REPO / "docs" / "reference"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return load_tool("gen_docs")


@pytest.fixture(scope="module")
def generated(gen: ModuleType) -> dict[object, str]:
    pages: dict[object, str] = gen.pages()
    return pages


def test_committed_pages_are_the_generated_ones(gen: ModuleType,
                                                generated: dict[object, str]) -> None:
    assert gen.stale(generated) == [], "run python tools/gen_docs.py --write"
    assert gen.main([]) == 0


def test_a_changed_or_removed_rule_makes_the_pages_stale(gen: ModuleType,
                                                         generated: dict[object, str]) -> None:
    rules = gen.pack_rules()
    first = rules[0]
    renamed = replace(first, rule=first.rule.model_copy(update={"title": "Another title"}))
    assert gen.rule_page(renamed) != generated[gen.rule_page_path(first)]
    fewer = {p: t for p, t in generated.items() if p != gen.rule_page_path(first)}
    problems = gen.stale(fewer)
    assert problems == [f"{gen.rule_page_path(first).relative_to(REPO)}: left over (no such rule)"]
    # the index lists the rules it is given
    assert f"[`{first.rule.id}`]" not in gen.rules_index(rules[1:])


def _all_parsers() -> dict[str, argparse.ArgumentParser]:
    _parser, commands = cli.build_parser()
    for name, (module, _help) in cli.COMMANDS.items():
        importlib.import_module(module).add_arguments(commands[name])
    return commands


def test_cli_reference_has_every_command_and_option() -> None:
    page = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    for name, parser in _all_parsers().items():
        section = page.split(f"## `{name}`\n", 1)[1].split("\n## `", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in section, f"{name} {option}"
            if action.help and action.help != argparse.SUPPRESS and not isinstance(
                    action, argparse._HelpAction):
                assert " ".join(action.help.split()[:4]).replace("|", "\\|") in section, \
                    f"{name}: {action.dest}"


def test_facts_reference_has_every_fact_with_its_hostvar_and_source() -> None:
    page = (REFERENCE / "facts.md").read_text(encoding="utf-8")
    for fact in table.FACTS:
        row = next((line for line in page.splitlines()
                    if line.startswith(f"| `{fact.path}`") or line.startswith(
                        f"| `{fact.path}.<")), None)
        assert row is not None, fact.path
        assert fact.modes in row
        assert (f"`{fact.hostvar}`" if fact.hostvar else "(none)") in row
        assert " ".join(fact.live_source.split()[:3]) in row
    assert "## Remapping a fact to another hostvar" in page


def test_config_reference_has_every_key() -> None:
    page = (REFERENCE / "configuration.md").read_text(encoding="utf-8")
    for key in ConfigFile.model_fields:
        assert f"| `{key}` |" in page, key
    assert (REPO / "mlflow_policy" / "config.schema.json").read_text(
        encoding="utf-8").rstrip() in page


def test_every_bundled_rule_has_a_page_with_what_explain_prints(gen: ModuleType) -> None:
    from mlflow_policy.commands.explain import describe

    rules = gen.pack_rules()
    assert rules
    index = (REFERENCE / "rules" / "index.md").read_text(encoding="utf-8")
    for rule in rules:
        page = gen.rule_page_path(rule).read_text(encoding="utf-8")
        assert describe(rule) in page + "\n"
        for url in rule.rule.references or []:
            assert f"<{url}>" in page
        policy = rule.full_id.split("/")[0]
        assert f"]({policy}/{rule.rule.id}.md)" in index
    builtin = (REFERENCE / "rules" / "builtin.md").read_text(encoding="utf-8")
    for rule_id in BUILTIN_RULES:
        assert f"## `{rule_id}`" in builtin


def test_policy_language_page_covers_every_operator_kind_and_selector() -> None:
    """The language page is written by hand: a new operator, rule kind, selector key or
    document field the page does not mention fails here."""
    from mlflow_policy.policy import models

    page = (REPO / "docs" / "policy-language.md").read_text(encoding="utf-8")
    for op in models.OPERATORS:
        assert f"| `{op}" in page or f"/ `{op}" in page, f"operator {op}"
    for kind in models.RULE_KINDS:
        assert f"### `{kind}`" in page, f"rule kind {kind}"
    for model, where in ((models.Selector, "selector"), (models.Rule, "rule"),
                         (models.WaiverSpec, "waiver"), (models.PolicyTestSpec, "policy test"),
                         (models.ExpectedFinding, "expected finding"),
                         (models.PolicySpec, "policy spec"), (models.Remediation, "remediation"),
                         (models.PeerSpec, "peer"), (models.UniqueSpec, "unique"),
                         (models.ConsistentSpec, "consistent"),
                         (models.PromotionSpec, "promotion")):
        for name, field in model.model_fields.items():
            key = field.alias or name
            assert re.search(rf"\b{re.escape(key)}\b", page), f"{where} field {key}"
    for state in ("Absent", "Unavailable", "Vaulted"):
        assert f"**{state}**" in page
