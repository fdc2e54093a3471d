"""Issue 11 items 3-5, the must-show: a fresh `init` repository (fixtures under
policies/tests/, a PolicyTest whose fixtures live elsewhere in the repository, a waived
finding) and a feature branch that introduces one violation and fixes another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import pytest

from mlflow_policy.cli import main

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: pr}
spec:
  rules:
    - id: no-debug
      assert:
        vars.mlflow_debug: {not_equals: true}
"""

# A PolicyTest whose fixture is outside policies/: the merge base must have it too.
POLICY_TEST = """\
apiVersion: mlflow-policy/v1
kind: PolicyTest
metadata: {name: pr-catches-debug}
spec:
  policies: [../pr.yaml]
  inventory: ../../testdata/debug/
  expect:
    - {rule: pr/no-debug, host: dbg-1, fact: vars.mlflow_debug}
"""

WAIVER = """\
apiVersion: mlflow-policy/v1
kind: Waiver
metadata: {name: vision-debug}
spec:
  rules: [pr/no-debug]
  match: {hosts: [trainer-vision-01]}
  justification: Debugging a data loader.
  owner: someone@corp.example
  expires: 2999-12-31
"""

INV = "inventories/example/host_vars"


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _append(root: Path, rel: str, text: str) -> int:
    """Append ``text`` to a file; the line number of its first line."""
    path = root / rel
    before = path.read_text() if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    path.write_text(before + text)
    return before.count("\n") + 1


def _commit(repo: git.Repo, message: str) -> None:
    repo.git.add(A=True)
    repo.index.commit(message)


@pytest.fixture
def init_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str]) -> tuple[git.Repo, int]:
    root = tmp_path / "repo"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    _write(root, "policies/pr.yaml", POLICY)
    _write(root, "policies/tests/pr.yaml", POLICY_TEST)
    _write(root, "testdata/debug/hosts.yml", "all:\n  hosts:\n    dbg-1: {mlflow_debug: true}\n")
    _write(root, "waivers/w.yaml", WAIVER)
    config = root / ".mlflow-policy.yaml"
    config.write_text(config.read_text().replace("# waivers: [waivers/]", "waivers: [waivers/]"))
    # main: notebook-nlp-01 is in debug mode (fixed on the branch); a waived one stays
    _append(root, f"{INV}/notebook-nlp-01.yml", "mlflow_debug: true\n")
    _append(root, f"{INV}/trainer-vision-01.yml", "mlflow_debug: true\n")
    r = git.Repo.init(root, initial_branch="main")
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Test")
        cw.set_value("user", "email", "test@example.com")
    _commit(r, "main")
    r.git.checkout("-b", "feature")
    monkeypatch.chdir(root)
    # the feature: fixes notebook-nlp-01, puts mlflow-tracking-2 in debug mode
    nb = root / INV / "notebook-nlp-01.yml"
    nb.write_text(nb.read_text().replace("mlflow_debug: true\n", ""))
    line = _append(root, f"{INV}/mlflow-tracking-2.yml", "mlflow_debug: true\n")
    _commit(r, "feature")
    return r, line


def _check(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--format", "json", *extra])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    return code, json.loads(out.out)


def test_feature_branch_reports_one_new_and_one_fixed_on_the_changed_line(
        init_repo: tuple[git.Repo, int], capsys: pytest.CaptureFixture[str]) -> None:
    _, line = init_repo
    # the PolicyTest's fixtures outside policies/ exist at the merge base too
    assert main(["test"]) == 0, capsys.readouterr()
    capsys.readouterr()
    code, report = _check(capsys, "--diff-base", "main")
    diff = report["summary"]["diff"]
    assert (diff["new"], diff["fixed"]) == (1, 1), report
    [finding] = report["findings"]
    assert (finding["rule"], finding["host"]) == ("pr/no-debug", "mlflow-tracking-2")
    assert finding["location"]["path"].endswith(f"{INV}/mlflow-tracking-2.yml")
    assert finding["location"]["line"] == line
    assert code == 1


def test_main_against_itself_reports_nothing_new(
        init_repo: tuple[git.Repo, int], capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = init_repo
    repo.git.checkout("main")
    code, report = _check(capsys, "--diff-base", "main")
    diff = report["summary"]["diff"]
    assert (diff["new"], diff["fixed"]) == (0, 0), report
    assert report["findings"] == []
    assert code == 0
    # the plain run does have findings: one waived, one not
    _, plain = _check(capsys)
    assert sorted(f["waived"] for f in plain["findings"] if f["rule"] == "pr/no-debug") == [
        False, True]


CONSISTENT = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: fleet}
spec:
  rules:
    - id: one-package
      match: {groups: [mlflow_servers]}
      consistent: {fact: mlflow.package}
"""


def test_a_tie_the_change_caused_lands_on_the_changed_host(
        init_repo: tuple[git.Repo, int], capsys: pytest.CaptureFixture[str]) -> None:
    """Two servers; the branch changes one's package: a 1-1 tie. Outside PR mode both
    sides are reported (no side is right); in PR mode the finding is the changed host's,
    on the changed line, whichever value sorts first."""
    repo, _ = init_repo
    root = Path(repo.working_tree_dir or ".")
    repo.git.checkout("main")
    _write(root, "policies/fleet.yaml", CONSISTENT)
    _commit(repo, "main: consistent rule")
    for value, branch in (("aaa-mlflow", "low"), ("zzz-mlflow", "high")):
        repo.git.checkout("-b", branch, "main")
        line = _append(root, f"{INV}/mlflow-tracking-1.yml", f"mlflow_package: {value}\n")
        _commit(repo, branch)
        _, plain = _check(capsys)
        tie = [f for f in plain["findings"] if f["rule"] == "fleet/one-package"]
        assert sorted(f["host"] for f in tie) == ["mlflow-tracking-1", "mlflow-tracking-2"]
        assert all("no majority (a tie)" in f["message"] for f in tie)
        _, report = _check(capsys, "--diff-base", "main")
        [finding] = [f for f in report["findings"] if f["rule"] == "fleet/one-package"]
        assert finding["host"] == "mlflow-tracking-1"
        assert finding["location"]["path"].endswith(f"{INV}/mlflow-tracking-1.yml")
        assert finding["location"]["line"] == line
