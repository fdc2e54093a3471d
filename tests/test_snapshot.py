"""The facts document as a snapshot: write, read, write gives the same bytes, and
``check --facts FILE`` gives the report the run that wrote it gave, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from mlflow_policy.core import VaultedValue
from mlflow_policy.facts import snapshot
from mlflow_policy.facts.lookup import lookup
from mlflow_policy.report import REPORTERS
from tests.support import REPO

CASES = sorted(p for p in (REPO / "tests" / "cases").iterdir() if (p / "expected.yaml").is_file())


def _inventory_args(case: Path) -> list[str]:
    if (case / "inventory").is_dir():
        return ["-i", "inventory"]
    return [a for inv in sorted((case / "inventories").iterdir())
            for a in ("-i", f"inventories/{inv.name}")]


def _facts(tmp_path: Path, argv: list[str]) -> Path:
    out = tmp_path / "facts.json"
    assert main(["facts", "--format", "json", *argv, "-o", str(out)]) == 0
    return out


def _rewrite(path: Path) -> str:
    snap = snapshot.parse(path.read_text(), str(path))
    assert snap.diagnostics is not None
    return "".join(snapshot.write(snap.hosts, mode=snap.mode, inventories=snap.inventories,
                                  diagnostics=snap.diagnostics))


@pytest.mark.parametrize("case", [None, *CASES], ids=["examples", *(c.name for c in CASES)])
def test_write_read_write_gives_the_same_bytes(
        case: Path | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case or REPO)
    argv = _inventory_args(case) if case is not None else []
    if case is not None and (case / "vault-pass.txt").exists() and "decrypted" in case.name:
        argv += ["--vault-password-file", "vault-pass.txt"]
    written = _facts(tmp_path, argv)
    assert _rewrite(written) == written.read_text()
    if case is not None:
        import yaml

        for secret in yaml.safe_load((case / "expected.yaml").read_text()).get(
                "never_printed", []):
            assert secret not in written.read_text()


def test_the_example_snapshot_carries_no_ciphertext_and_keeps_vaults_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    written = _facts(tmp_path, [])
    text = written.read_text()
    assert "$ANSIBLE_VAULT" not in text
    assert "__ansible_vault" not in text
    snap = snapshot.parse(text, "facts.json")
    by_name = {(h.inventory, h.host): h for h in snap.hosts}
    prod = by_name[("prod", "mlflow-tracking-1")]
    staging = by_name[("staging", "mlflow-tracking-1")]
    # one vault entry shared by a group is one value; two entries are two
    uri = "server.backend_store_uri"
    assert lookup(prod, uri).value == lookup(by_name[("prod", "mlflow-tracking-2")], uri).value
    assert lookup(prod, uri).value != lookup(staging, uri).value
    assert isinstance(lookup(prod, uri).value, VaultedValue)
    # a template with a vaulted part keeps its redacted text (scheme checks still work)
    assert str(lookup(prod, uri).value).startswith("postgresql://mlflow:***@")


@pytest.mark.parametrize("fmt", list(REPORTERS))
def test_check_on_a_snapshot_gives_the_same_report(
        fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    written = _facts(tmp_path, [])
    capsys.readouterr()
    first = main(["check", "--format", fmt])
    direct = capsys.readouterr().out
    second = main(["check", "--facts", str(written), "--format", fmt])
    from_snapshot = capsys.readouterr().out
    assert (second, from_snapshot) == (first, direct)


def _snapshot_comparable(case: Path) -> bool:
    """Not a case that injects a fault into a rule kind (nothing to do with facts), nor one
    decrypting a vault: a value decrypted for the run is opaque in a snapshot, so a rule on
    its content differs by design (facts/snapshot.py)."""
    import yaml

    expected = yaml.safe_load((case / "expected.yaml").read_text())
    return "break_kind" not in expected and \
        "--vault-password-file" not in expected.get("args", [])


SNAPSHOT_CASES = [c for c in CASES if _snapshot_comparable(c)]


@pytest.mark.parametrize("case", SNAPSHOT_CASES, ids=[c.name for c in SNAPSHOT_CASES])
def test_check_on_a_case_snapshot_gives_the_same_findings(
        case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    expected = yaml.safe_load((case / "expected.yaml").read_text())
    monkeypatch.chdir(case)
    extra = list(expected.get("args", []))
    inv = _inventory_args(case)
    vault = [a for i, a in enumerate(extra) if a.startswith("--vault") or (
        i and extra[i - 1].startswith("--vault"))]
    written = _facts(tmp_path, inv + vault)
    rest = [a for a in extra if a not in vault]
    capsys.readouterr()
    first = main(["check", "-p", "policies", *inv, *extra, "--format", "json"])
    direct = capsys.readouterr().out
    second = main(["check", "-p", "policies", "--facts", str(written), *rest,
                   "--format", "json"])
    assert (second, capsys.readouterr().out) == (first, direct)


def test_check_facts_refuses_inventories_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    written = _facts(tmp_path, [])
    assert main(["check", "--facts", str(written), "-i", "inventories/prod"]) == 2
    assert "--facts" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "message"), [
    ("{", "not a facts document"),
    ('{"hosts": []}', "needs 'schema_version'"),
    ('{"schema_version": 2, "hosts": []}', "schema_version 2 is not supported"),
    ('{"schema_version": 1, "mode": "psychic", "hosts": []}', "'mode' must be one of"),
    ('{"schema_version": 1, "hosts": [{"host": "h"}]}', "hosts[0]: a host needs a 'facts'"),
    ('{"schema_version": 1, "hosts": [{"facts": {"x": {"__vault__": true, "ref": "a"}}}]}',
     "a vault 'ref' must be an integer"),
])
def test_a_bad_snapshot_is_a_located_input_error(
        text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "snap.json").write_text(text)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n  rules:\n"
        "    - {id: r, assert: {mlflow.version: {required: true}}}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--facts", "snap.json"]) == 2
    err = capsys.readouterr().err
    assert "snap.json" in err, err
    assert message in err, err


def test_a_live_snapshot_keeps_declared_only_facts_visible() -> None:
    """The old reader merged ``observed`` over ``facts`` key by key: the observed
    ``server`` mapping hid the declared ``server.url``."""
    doc = {"schema_version": 1, "mode": "live", "hosts": [{
        "host": "t", "inventory": "lab",
        "facts": {"server": {"url": "https://m.example.com", "port": 5000},
                  "mlflow": {"python": "/opt/venv/bin/python", "version": "3.17.2"}},
        "observed": {"server": {"running": True, "port": 5001},
                     "mlflow": {"version": "3.18.0"}},
        "sources": {"server": "live: ps"}, "unavailable": {"db": "no credentials"},
        "host_unavailable": None}]}
    text = json.dumps(doc)
    [host] = snapshot.parse(text, "live.json").hosts
    assert lookup(host, "server.url").value == "https://m.example.com"
    assert lookup(host, "mlflow.python").value == "/opt/venv/bin/python"
    assert lookup(host, "server.port").value == 5001
    assert lookup(host, "mlflow.version").value == "3.18.0"
    assert lookup(host, "db.revision").unavailable == "no credentials"
    assert host.observed is not None
    assert host.observed.origin("server.port") == "live: ps"
    again = "".join(snapshot.write((host,), mode="live", inventories=("lab",), diagnostics=()))
    assert snapshot.parse(again, "again.json").hosts[0].facts == host.facts
