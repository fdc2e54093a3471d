"""The advisory table (``mlflow_policy/catalogue/advisories.json``) is what its OSV sources
(``tools/advisories/``) say, and the catalogue reads OSV ranges the way OSV defines them."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from mlflow_policy import catalogue
from tests.support import REPO, load_tool

SOURCES = REPO / "tools" / "advisories"
TABLE = REPO / "mlflow_policy" / "catalogue" / "advisories.json"


def generator() -> ModuleType:
    return load_tool("generate_advisories")


def source_docs() -> list[dict[str, object]]:
    return [yaml.safe_load(p.read_text(encoding="utf-8"))
            for d in ("pypa", "verified") for p in sorted((SOURCES / d).glob("*.yaml"))]


def test_shipped_table_is_what_the_sources_generate() -> None:
    assert TABLE.read_text(encoding="utf-8") == generator().generate()


def test_every_source_advisory_is_in_the_table_with_its_aliases_and_fixes() -> None:
    table = {a["id"]: a for a in json.loads(TABLE.read_text(encoding="utf-8"))["advisories"]}
    docs = source_docs()
    assert len(docs) == len(table) == 13
    for doc in docs:
        entry = table[str(doc["id"])]
        assert entry["aliases"] == sorted(doc.get("aliases") or [])  # type: ignore[call-overload]
        fixed = {str(e["fixed"]) for a in doc["affected"]  # type: ignore[attr-defined]
                 for r in a["ranges"] if r["type"] == "ECOSYSTEM"
                 for e in r["events"] if "fixed" in e}
        assert set(entry["fixed"]) == fixed
        assert entry["url"].startswith("https://")


def test_scopes_name_only_known_advisories() -> None:
    scopes = yaml.safe_load((SOURCES / "scope.yaml").read_text(encoding="utf-8"))
    assert set(scopes) == {str(d["id"]) for d in source_docs()}


def test_pypa_snapshot_ships_with_its_licence() -> None:
    readme = (SOURCES / "README.md").read_text(encoding="utf-8")
    assert "CC-BY-4.0" in readme
    assert "3ccb612573e2511ab5cad7dafecd838605c80cda" in readme


@pytest.mark.parametrize(("version", "scope", "ids"), [
    ("2.9.0", "server", {"PYSEC-2023-260", "PYSEC-2023-252", "PYSEC-2023-253",
                         "PYSEC-2024-51", "CVE-2025-14279", "CVE-2026-4137",
                         "GHSA-gq3w-7jj3-x7gr"}),
    ("2.9.0", "client", {"CVE-2026-4137"}),
    ("3.4.0", "server", {"CVE-2025-14279", "CVE-2026-4137", "GHSA-gq3w-7jj3-x7gr"}),
    ("3.5.0", "server", {"CVE-2026-4137", "GHSA-gq3w-7jj3-x7gr"}),
    ("3.16.0", "server", {"GHSA-gq3w-7jj3-x7gr"}),
    ("3.16.1", "server", set()),
    ("3.11.0", "client", set()),
    ("1.23.0", "client", {"PYSEC-2022-28", "CVE-2026-4137"}),
    ("not-a-version", "server", set()),
])
def test_advisories_affecting(version: str, scope: str, ids: set[str]) -> None:
    assert {a.id for a in catalogue.advisories_affecting(version, scope)} == ids


def test_a_newer_osv_export_updates_the_table(tmp_path: Path) -> None:
    # A new advisory in OSV's own shape, unscoped: it counts for servers and clients, and
    # an introduced / last_affected range is read as OSV defines it.
    (tmp_path / "GHSA-test-0000-0000.json").write_text(json.dumps({
        "id": "GHSA-test-0000-0000", "aliases": ["CVE-2099-0001"],
        "details": "Something bad. More words.",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "mlflow"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "3.17.0"}, {"last_affected": "3.17.2"}]}]}],
        "references": [{"type": "WEB", "url": "https://example.com/a"}],
    }), encoding="utf-8")
    gen = generator()
    doc = gen.build(gen.load_sources([tmp_path]), gen.load_scopes())
    [entry] = doc["advisories"]
    assert entry["summary"] == "Something bad"
    assert entry["database_specific"] == {"scope": ["client", "server"]}
    ranges = catalogue._ranges_of(entry)
    assert ranges == (("3.17.0", "", "3.17.2"),)
    assert catalogue._affected(ranges, "3.17.2")
    assert not catalogue._affected(ranges, "3.18.0")
    assert not catalogue._affected(ranges, "3.16.1")


def test_other_packages_and_git_ranges_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "X.yaml").write_text(yaml.safe_dump({
        "id": "X", "affected": [
            {"package": {"ecosystem": "PyPI", "name": "not-mlflow"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
            {"package": {"ecosystem": "PyPI", "name": "mlflow"},
             "ranges": [{"type": "GIT", "repo": "r", "events": [{"introduced": "0"}]}]}]}),
        encoding="utf-8")
    gen = generator()
    assert gen.build(gen.load_sources([tmp_path]), {})["advisories"] == []
