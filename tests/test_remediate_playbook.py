"""Rendered playbooks pass ``ansible-playbook --syntax-check`` and ``ansible-lint`` with
the ``production`` profile: the bundled example (inventories/) and every remediation case.
Also: the command on the example, its exit codes and output, and templates overridden by
a ``templates/`` directory of the run's root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from tests.support import REPO, skip_or_fail

BIN = Path(sys.executable).parent
CASES = REPO / "tests" / "fixtures" / "remediate"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        skip_or_fail(f"{name} is not installed (pip install -e .[test])")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """remediate on the repository's example inventories, rendered once."""
    out = tmp_path_factory.mktemp("example") / "remediation"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        assert main(["remediate", "--out", str(out), "--format", "json"]) == 1
    finally:
        os.chdir(cwd)
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["NO_COLOR"] = "1"
    return env


def test_example_playbook_passes_syntax_check(example: Path) -> None:
    for inventory in ("prod", "staging"):
        done = subprocess.run(
            [_tool("ansible-playbook"), "--syntax-check", "-i",
             str(REPO / "inventories" / inventory), "playbook.yml"],
            cwd=example, capture_output=True, text=True, env=_env(), timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_rendered_playbooks_pass_ansible_lint_production(example: Path,
                                                         tmp_path: Path) -> None:
    """One ansible-lint run over the example's playbook and every case's expected one
    (copied out of the repository: ansible-lint writes a cache where it runs)."""
    targets = [example / "playbook.yml"]
    for case in sorted(CASES.iterdir()):
        playbook = case / "expected" / "playbook.yml"
        if playbook.is_file():
            copy = tmp_path / case.name
            shutil.copytree(case / "expected", copy)
            targets.append(copy / "playbook.yml")
    assert len(targets) >= 3
    for target in targets:
        done = subprocess.run(
            [_tool("ansible-playbook"), "--syntax-check", "-i", "localhost,", str(target)],
            cwd=target.parent, capture_output=True, text=True, env=_env(), timeout=300,
            check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [_tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor",
         *map(str, targets)],
        cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout + done.stderr


def test_example_summary_and_report(example: Path, capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["remediate", "--out", str(tmp_path / "r"), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    hosts = {(h["inventory"], h["host"]) for h in doc["hosts"]}
    assert ("prod", "trainer-nlp-01") in hosts
    kinds = {n["kind"] for n in doc["needs_human"]}
    assert "no-set" in kinds
    report = (tmp_path / "r" / "REPORT.md").read_text()
    assert "## Needs a human" in report
    # vaulted values of the example never reach any file
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            assert "$ANSIBLE_VAULT" not in path.read_text()


def test_nothing_to_fix_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("all:\n  hosts:\n    h:\n"
                                                "      mlflow_version: '3.17.2'\n")
    (tmp_path / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\n"
        "spec:\n  rules:\n    - id: r\n      assert: {mlflow.version: {pinned: true}}\n"
        "      remediation: {set: {mlflow.version: '3.17.2'}}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["remediate", "-i", "inv", "-p", "p.yaml", "--out", "out"]) == 0
    out = capsys.readouterr().out
    assert "0 host(s) to change" in out
    assert (tmp_path / "out" / "REPORT.md").is_file()
    assert not (tmp_path / "out" / "playbook.yml").exists()


@pytest.mark.parametrize("argv", [
    ["remediate", "--yes"],
    ["remediate", "--write", "--diff"],
    ["remediate", "--out", "afile"],
    ["remediate", "--live", "--facts", "x"],
    ["remediate", "--format", "sarif"],
    ["remediate", "-i", "inv", "--out", "inv/remediation"],
])
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("all: {hosts: {h: {}}}\n")
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_user_template_overrides_the_shipped_one_file_by_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / "static-basic"
    shutil.copytree(case / "inventories", tmp_path / "inventories")
    shutil.copytree(case / "policies", tmp_path / "policies")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "REPORT.md.j2").write_text(
        "# Our own report\n{{ plan.hosts | length }} hosts\n")
    monkeypatch.chdir(tmp_path)
    assert main(["remediate", "-i", "inventories/lab", "-p", "policies", "--out", "o"]) == 1
    assert (tmp_path / "o" / "REPORT.md").read_text() == "# Our own report\n4 hosts\n"
    # the others are still the shipped ones
    assert (tmp_path / "o" / "playbook.yml").read_text() == \
        (case / "expected" / "playbook.yml").read_text()


def test_stale_files_of_an_earlier_run_are_removed(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / "static-basic"
    monkeypatch.chdir(case)
    out = tmp_path / "o"
    assert main(["remediate", "-i", "inventories/lab", "-p", "policies", "--out",
                 str(out)]) == 1
    stale = out / "env" / "lab" / "old-host" / "mlflow.env"
    stale.parent.mkdir(parents=True)
    stale.write_text("X=1\n")
    manifest = out / ".mlflow-policy-remediation"
    manifest.write_text(manifest.read_text() + "env/lab/old-host/mlflow.env\n")
    mine = out / "notes.txt"
    mine.write_text("kept: not ours")
    assert main(["remediate", "-i", "inventories/lab", "-p", "policies", "--out",
                 str(out)]) == 1
    assert not stale.exists()
    assert mine.read_text() == "kept: not ours"
    assert oct((out / "env" / "lab" / "srv-1" / "mlflow.env").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_the_playbook_writes_the_env_file_on_a_local_host_and_is_idempotent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real ansible-playbook run on a local-connection host: the env file holds the
    inventory's environment with the change, quoted so that both env parsers read the
    same values back; mode 0600; a second run changes nothing."""
    from dotenv import dotenv_values

    from mlflow_policy.live.ansible.library.mlflow_policy_facts import parse_env_file

    env_file = tmp_path / "etc" / "mlflow.env"
    env_file.parent.mkdir()
    # a host whose inventory declares no environment: its file is someone else's
    other_file = tmp_path / "etc" / "other.env"
    other_file.write_text(
        "# theirs\nexport AWS_REGION=eu-west-1\nMLFLOW_HTTP_REQUEST_MAX_RETRIES=2\n")
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text(f"""\
all:
  hosts:
    local:
      ansible_connection: local
      ansible_python_interpreter: {sys.executable}
      mlflow_env_file: {env_file}
      mlflow_env:
        MLFLOW_HTTP_REQUEST_TIMEOUT: "120"
        MLFLOW_S3_ENDPOINT_URL: 'http://s3 "local" \\ x'
        MLFLOW_ENABLE_ASYNC_LOGGING: true
    other:
      ansible_connection: local
      ansible_python_interpreter: {sys.executable}
      mlflow_env_file: {other_file}
""")
    (tmp_path / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\n"
        "spec:\n  rules:\n    - id: retries\n"
        "      assert: {env.MLFLOW_HTTP_REQUEST_MAX_RETRIES: {required: true}}\n"
        "      remediation: {set: {env.MLFLOW_HTTP_REQUEST_MAX_RETRIES: '7'}}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["remediate", "-i", "inv", "-p", "p.yaml", "--out", "out"]) == 1
    capsys.readouterr()
    expected = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "120", "MLFLOW_ENABLE_ASYNC_LOGGING": "true",
                "MLFLOW_S3_ENDPOINT_URL": 'http://s3 "local" \\ x',
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7"}
    for run in (1, 2):
        done = subprocess.run(
            [_tool("ansible-playbook"), "-i", str(tmp_path / "inv"), "playbook.yml"],
            cwd=tmp_path / "out", capture_output=True, text=True, env=_env(), timeout=300,
            check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        recap = done.stdout[done.stdout.index("PLAY RECAP"):]
        assert recap.count(f"changed={1 if run == 1 else 0} ") == 2, done.stdout
        text = env_file.read_text()
        assert parse_env_file(text) == expected
        assert dict(dotenv_values(env_file)) == expected
        assert env_file.stat().st_mode & 0o777 == 0o600
        assert other_file.read_text() == ("# theirs\nexport AWS_REGION=eu-west-1\n"
                                          'MLFLOW_HTTP_REQUEST_MAX_RETRIES="7"\n')
