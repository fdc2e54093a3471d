"""pre-commit integration, for real: our `.pre-commit-hooks.yaml` through `pre-commit
try-repo` on a git repository made in the test, and `mlflow-policy init` followed by
`git init`, `pre-commit run --all-files` and `mlflow-policy check`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from tests.support import REPO, skip_or_fail

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("pre-commit", path=str(BIN)) is None:
        skip_or_fail("pre-commit is not installed in the test environment")
    home = tmp_path_factory.mktemp("pre-commit-home")
    e = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    e.update(PRE_COMMIT_HOME=str(home), PATH=f"{BIN}{os.pathsep}{e.get('PATH', '')}",
             GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
             GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return e


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    proc = _run(["git", *args], cwd, env)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def user_repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """A configuration repository as `init` makes it, committed."""
    root = tmp_path / "fleet"
    assert main(["init", str(root)]) == 0
    _git(root, env, "init", "-q", "-b", "main")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-q", "-m", "init")
    return root


def test_init_repository_passes_its_own_hooks_and_check(
    user_repo: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc = _run([str(BIN / "pre-commit"), "run", "--all-files"], user_repo, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mlflow-policy validate" in proc.stdout
    assert "mlflow-policy check" in proc.stdout
    monkeypatch.chdir(user_repo)
    capsys.readouterr()
    assert main(["check"]) == 0
    assert main(["validate"]) == 0


def test_init_refuses_to_overwrite(user_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["init", str(user_repo)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["init", "--force", str(user_repo)]) == 0


def _try_repo(user_repo: Path, env: dict[str, str], hook: str) -> subprocess.CompletedProcess[str]:
    return _run([str(BIN / "pre-commit"), "try-repo", str(REPO), hook], user_repo, env)


def test_try_repo_blocks_a_violation_and_passes_a_clean_change(
    user_repo: Path, env: dict[str, str]
) -> None:
    # Remove the scaffold's own local hooks, so only the hooks under test run.
    (user_repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    vars_file = user_repo / "inventories/example/host_vars/trainer-vision-02.yml"
    vars_file.write_text("mlflow_version: latest\n")
    _git(user_repo, env, "add", "-A")
    blocked = _try_repo(user_repo, env, "mlflow-policy-check")
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "trainer-vision-02" in blocked.stdout
    assert "inventories/example/host_vars/trainer-vision-02.yml:1" in blocked.stdout

    vars_file.write_text("mlflow_version: '3.17.2'\n")
    _git(user_repo, env, "add", "-A")
    clean = _try_repo(user_repo, env, "mlflow-policy-check")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_try_repo_validate_reports_file_and_line(user_repo: Path, env: dict[str, str]) -> None:
    (user_repo / ".pre-commit-config.yaml").write_text("repos: []\n")
    bad = user_repo / "policies" / "team.yaml"
    bad.write_text("apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: team}\n"
                   "spec:\n  rules:\n    - id: x\n      title: X\n      assert:\n"
                   "        mlflow.version: {pinnned: true}\n")
    _git(user_repo, env, "add", "-A")
    proc = _try_repo(user_repo, env, "mlflow-policy-validate")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # pre-commit's "a hook failed"
    assert "exit code: 2" in proc.stdout  # ours: invalid input
    assert "policies/team.yaml:9" in proc.stdout
    assert "Traceback" not in proc.stdout


TEAM_TEST = """\
apiVersion: mlflow-policy/v1
kind: PolicyTest
metadata: {name: team-fleet-is-pinned}
spec:
  policies: [../teams/vision.yaml]
  inventory: fixtures/team/
  expect:
    - {rule: vision/pinned, host: loose}
  exhaustive: true
"""

TEAM_POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: vision}
spec:
  rules:
    - id: pinned
      title: Vision hosts pin MLflow
      assert:
        mlflow.version: {required: true, pinned: true}
"""


def test_layout_tests_and_fixtures_under_policies_work_out_of_the_box(
    user_repo: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's layout: a policy in a subfolder, a PolicyTest in policies/tests/ and its
    inventory (ordinary *.yml names) in policies/tests/fixtures/. `check -p policies/` does
    not read the fixtures as policies; the scaffold's hooks validate the subfolder and run
    the tests."""
    policies = user_repo / "policies"
    (policies / "teams").mkdir()
    (policies / "teams" / "vision.yaml").write_text(TEAM_POLICY)
    (policies / "tests" / "team-fleet.yaml").write_text(TEAM_TEST)
    fixture = policies / "tests" / "fixtures" / "team"
    (fixture / "host_vars").mkdir(parents=True)
    (fixture / "hosts.yml").write_text("all:\n  hosts:\n    pinned: {}\n    loose: {}\n")
    (fixture / "host_vars" / "pinned.yml").write_text("mlflow_version: '3.17.2'\n")
    (fixture / "host_vars" / "loose.yml").write_text("mlflow_version: '>=3'\n")
    _git(user_repo, env, "add", "-A")

    proc = _run([str(BIN / "pre-commit"), "run", "--all-files"], user_repo, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for hook in ("mlflow-policy validate", "mlflow-policy test", "mlflow-policy check"):
        assert hook in proc.stdout
    monkeypatch.chdir(user_repo)
    capsys.readouterr()
    assert main(["check", "-q", "-p", "policies/"]) == 0
    assert main(["test"]) == 0
    assert "PASS team-fleet-is-pinned" in capsys.readouterr().out

    # The validate hook sees a policy in a subfolder (it used to match policies/*.yaml only).
    (policies / "teams" / "vision.yaml").write_text(
        TEAM_POLICY.replace("pinned: true}", "pinnned: true}"))
    _git(user_repo, env, "add", "-A")
    proc = _run([str(BIN / "pre-commit"), "run", "mlflow-policy-validate", "--all-files"],
                user_repo, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "policies/teams/vision.yaml:9" in proc.stdout
    assert "fixtures" not in proc.stdout  # fixtures are never handed to validate

    # The test hook fails when a PolicyTest does.
    (policies / "teams" / "vision.yaml").write_text(TEAM_POLICY)
    (fixture / "host_vars" / "loose.yml").write_text("mlflow_version: '3.17.2'\n")
    _git(user_repo, env, "add", "-A")
    proc = _run([str(BIN / "pre-commit"), "run", "mlflow-policy-test", "--all-files"],
                user_repo, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL team-fleet-is-pinned" in proc.stdout


def test_a_stray_inventory_in_a_policy_directory_says_where_fixtures_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "policies" / "tests" / "inv").mkdir(parents=True)
    (tmp_path / "policies" / "tests" / "inv" / "hosts.yml").write_text("all: {hosts: {h: {}}}\n")
    assert main(["validate", str(tmp_path / "policies")]) == 2
    err = capsys.readouterr().err
    assert "policies/tests/inv/hosts.yml:1:1: " in err
    assert "keep test fixtures under a directory named fixtures/" in err
