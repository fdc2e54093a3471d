"""The rule reference's baseline-pack table (docs/reference/rules/index.md) is generated
from the pack (tools/pack_table.py) and what `explain` shows comes from the same rule
metadata."""

from __future__ import annotations

from types import ModuleType

import pytest

from mlflow_policy.cli import main
from mlflow_policy.policy.loader import load_paths
from tests.support import REPO, load_tool

RULES = load_paths([REPO / "policies" / "mlflow-baseline.yaml"], REPO).rules


def tool() -> ModuleType:
    return load_tool("pack_table")


INDEX = REPO / "docs" / "reference" / "rules" / "index.md"


def test_rule_index_table_is_the_generated_one() -> None:
    readme = INDEX.read_text(encoding="utf-8")
    assert tool().render(readme, RULES) == readme, "run python tools/gen_docs.py --write"


def test_a_changed_rule_makes_the_table_stale() -> None:
    readme = INDEX.read_text(encoding="utf-8")
    fewer = tool().render(readme, RULES[:-1])
    assert fewer != readme
    assert f"{len(RULES) - 1} rules;" in fewer


def test_every_rule_has_a_row_with_its_versions_and_references() -> None:
    table = tool().table(RULES)
    for rule in RULES:
        row = next(line for line in table.splitlines() if f"`{rule.rule.id}`" in line)
        assert rule.severity in row
        for i, url in enumerate(rule.rule.references or [], 1):
            assert f"[{i}]({url})" in row
    assert "| `server-allowed-hosts` | assert | error | >=3.5.0 |" in table
    assert "| `server-not-vulnerable` | assert | error | affected releases (advisories) |" \
        in table


@pytest.mark.parametrize("rule", ["server-allowed-hosts", "basic-auth-admin-password"])
def test_explain_shows_why_versions_fix_and_references(
        rule: str, capsys: pytest.CaptureFixture[str]) -> None:
    loaded = next(r for r in RULES if r.rule.id == rule)
    assert main(["explain", rule]) == 0
    out = capsys.readouterr().out
    assert " ".join((loaded.rule.description or "").split()[:6]) in " ".join(out.split())
    assert f"versions:   MLflow {tool().applies_to_versions(loaded)}" in out
    assert "hint: " in out
    assert "references:" in out
    for url in loaded.rule.references or []:
        assert f"  {url}" in out


def test_explain_lists_the_advisories_a_vulnerability_rule_reads(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "client-not-vulnerable"]) == 0
    out = capsys.readouterr().out
    assert "published advisories that hurt a client" in out
    assert "CVE-2026-4137, fixed in 3.11.0: https://nvd.nist.gov/vuln/detail/CVE-2026-4137" in out
    assert "PYSEC-2023-260" not in out  # a server-only advisory
