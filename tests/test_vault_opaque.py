"""Issue 11 items 1-2: decrypted vault content stays opaque to rules (no guessing oracle),
and `vaulted: true` holds for indirections into a whole-file vault with or without the
password. Real ansible-vault files, real CLI runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.cli import main

SECRET_URI = "postgresql://mlflow:Sup3rSecret@db/mlflow"


def _repo(tmp_path: Path, guess: str, *, direct: bool) -> Path:
    from ansible.parsing.vault import VaultLib, VaultSecret

    inv = tmp_path / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text('all:\n  hosts:\n    h-1: {mlflow_version: "3.1.0"}\n')
    if direct:  # the fact's own var is set in the vault file
        plain = f"mlflow_backend_store_uri: '{SECRET_URI}'\n"
    else:  # the standard vars.yml + vault.yml layout
        plain = f"vault_db_uri: '{SECRET_URI}'\n"
        (inv / "group_vars" / "all" / "vars.yml").write_text(
            'mlflow_backend_store_uri: "{{ vault_db_uri }}"\n')
    (inv / "group_vars" / "all" / "vault.yml").write_bytes(
        VaultLib([("default", VaultSecret(b"pw"))]).encrypt(plain.encode()))
    (tmp_path / "vault-pass.txt").write_text("pw\n")
    pol = tmp_path / "policies"
    pol.mkdir()
    (pol / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: v}\nspec:\n  rules:\n"
        "    - id: guess\n      assert:\n"
        f"        server.backend_store_uri: {{not_matches: '{guess}'}}\n"
        "    - id: vaulted\n      assert:\n"
        "        server.backend_store_uri: {vaulted: true}\n")
    return tmp_path


def _run(repo: Path, password: bool, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    monkeypatch.chdir(repo)
    argv = ["check", "-p", "policies", "-i", "inventory", "--format", "json"]
    if password:
        argv += ["--vault-password-file", "vault-pass.txt"]
    code = main(argv)
    out = capsys.readouterr()
    return code, json.loads(out.out), out.out + out.err


def _outcome(report: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return sorted((f["rule"], f.get("fact"), f["severity"]) for f in report["findings"])


@pytest.mark.parametrize(("password", "direct"), [
    pytest.param(True, True, id="password-direct"),
    pytest.param(True, False, id="password-templated"),
    pytest.param(False, True, id="no-password-direct"),
    pytest.param(False, False, id="no-password-templated"),
])
def test_a_guessing_rule_gives_the_same_result_whatever_the_guess(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        password: bool, direct: bool) -> None:
    results = []
    for i, guess in enumerate(["Sup3rSecret", "WrongGuess", "^postgresql://mlflow:S"]):
        repo = _repo(tmp_path / str(i), guess, direct=direct)
        code, report, text = _run(repo, password, monkeypatch, capsys)
        if guess != "Sup3rSecret":
            assert "Sup3rSecret" not in text
        results.append((code, _outcome(report), report["summary"].get("skipped")))
    assert results[0] == results[1] == results[2]
    # no guessing rule fires, and `vaulted: true` holds
    assert not [f for f in results[0][1] if f[0].startswith("v/")]


def test_reports_say_a_decrypted_value_was_not_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path, "Sup3rSecret", direct=True)
    monkeypatch.chdir(repo)
    main(["check", "-p", "policies", "-i", "inventory", "--vault-password-file",
          "vault-pass.txt", "--format", "junit"])
    out = capsys.readouterr().out
    assert "server.backend_store_uri: not checked: vaulted (" in out


def test_no_unresolved_template_warning_for_vars_and_vault_without_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path, "x", direct=False)
    _code, report, _ = _run(repo, False, monkeypatch, capsys)
    rules = [f["rule"] for f in report["findings"]]
    assert "mlflow-policy/unresolved-template" not in rules
    assert "v/vaulted" not in rules


@pytest.mark.parametrize("password", [True, False], ids=["password", "no-password"])
def test_messages_never_quote_the_unrendered_template(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        password: bool) -> None:
    """A disagreement over a value rendered from the vault quotes its redacted form, never
    '{{ vault_db_uri }}', with or without the password."""
    repo = _repo(tmp_path, "x", direct=False)
    (repo / "inventory" / "hosts.yml").write_text(
        'all:\n  hosts:\n    h-1: {mlflow_version: "3.1.0"}\n'
        '    h-2: {mlflow_version: "3.1.0", mlflow_backend_store_uri: "sqlite:///x.db"}\n')
    with (repo / "policies" / "p.yaml").open("a") as fh:
        fh.write("    - id: same-store\n      consistent: {fact: server.backend_store_uri}\n")
    _, report, text = _run(repo, password, monkeypatch, capsys)
    same = [f for f in report["findings"] if f["rule"] == "v/same-store"]
    assert sorted(f["host"] for f in same) == ["h-1", "h-2"]
    assert "{{" not in text
    assert "Sup3rSecret" not in text
