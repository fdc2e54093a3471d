"""``check --diff-base``: real git repositories made in the test (gitpython), evaluated
through ``main([...])``."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from mlflow_policy.cli import main

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {name: pr}
spec:
  severity: error
  rules:
    - id: https
      title: Tracking over HTTPS
      assert:
        env.MLFLOW_TRACKING_URI: {required: true, matches: '^https://'}
    - id: pinned
      title: Pinned
      assert:
        mlflow.version: {required: true, pinned: true}
"""

HOSTS = """\
all:
  children:
    mlflow_servers:
      hosts:
        tracking-1:
    clients:
      hosts:
        client-1:
        client-2:
"""

SERVERS = "mlflow_role: tracking_server\nmlflow_version: '{version}'\n" \
          "mlflow_backend_store_uri: postgresql://db/mlflow\n"
CLIENTS = "mlflow_version: '3.17.2'\nmlflow_env:\n  MLFLOW_TRACKING_URI: {uri}\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _commit(repo: git.Repo, message: str) -> None:
    repo.git.add(A=True)
    repo.index.commit(message)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> git.Repo:
    root = tmp_path / "repo"
    root.mkdir()
    r = git.Repo.init(root, initial_branch="main")
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Test")
        cw.set_value("user", "email", "test@example.com")
    _write(root, {
        "policies/pr.yaml": POLICY,
        "inventories/prod/hosts.yml": HOSTS,
        "inventories/prod/group_vars/mlflow_servers.yml": SERVERS.format(version="3.17.2"),
        # client-1 and client-2 both break `https` on main.
        "inventories/prod/group_vars/clients.yml": CLIENTS.format(uri="http://mlflow:5000"),
    })
    _commit(r, "main: http clients")
    r.git.checkout("-b", "feature")
    monkeypatch.chdir(root)
    return r


def _run(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, object]]:
    code = main(["check", "--format", "json", "--diff-base", "main", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def test_fix_one_add_another_reports_exactly_the_new_one(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    # Fix the clients' URI for everyone...
    _write(root, {"inventories/prod/group_vars/clients.yml":
                  CLIENTS.format(uri="https://mlflow.corp")})
    # ...and unpin one client in host_vars: one new finding.
    _write(root, {"inventories/prod/host_vars/client-2.yml": "mlflow_version: '>=3.0'\n"})
    _commit(repo, "feature: https, but unpin client-2")
    code, doc = _run(capsys)
    assert code == 1
    findings = doc["findings"]
    assert [(f["rule"], f["host"]) for f in findings] == [("pr/pinned", "client-2")]
    assert doc["summary"]["diff"]["fixed"] == 2
    assert doc["summary"]["diff"]["new"] == 1
    assert doc["summary"]["diff"]["merge_base"] == repo.commit("main").hexsha


def test_uncommitted_working_tree_counts_as_head(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    _write(root, {"inventories/prod/host_vars/client-1.yml": "mlflow_version: latest\n"})
    code, doc = _run(capsys)
    assert code == 1
    assert [(f["rule"], f["host"]) for f in doc["findings"]] == [("pr/pinned", "client-1")]


def test_moving_lines_reports_nothing_new(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    moved = "# moved around\n\n\n" + "mlflow_env:\n  MLFLOW_TRACKING_URI: http://mlflow:5000\n" \
            "mlflow_version: '3.17.2'\n"
    _write(root, {"inventories/prod/group_vars/clients.yml": moved})
    _commit(repo, "feature: reorder")
    code, doc = _run(capsys)
    assert doc["findings"] == []
    assert doc["summary"]["diff"] == {
        "base": "main", "merge_base": repo.commit("main").hexsha, "new": 0, "fixed": 0}
    assert code == 0


def test_new_inventory_and_policy_only_on_the_branch(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    _write(root, {
        "inventories/dev/hosts.yml": "all:\n  hosts:\n    dev-1:\n",
        "inventories/dev/host_vars/dev-1.yml": "mlflow_version: '3.17.2'\n",
    })
    _commit(repo, "feature: a dev inventory")
    code, doc = _run(capsys)
    assert [(f["rule"], f["inventory"], f["host"]) for f in doc["findings"]] == [
        ("pr/https", "dev", "dev-1")]
    assert code == 1


def test_schema_migration_and_downgrade(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    _write(root, {"inventories/prod/group_vars/mlflow_servers.yml":
                  SERVERS.format(version="2.20.1")})
    _commit(repo, "feature: downgrade the server")
    code, doc = _run(capsys)
    [finding] = [f for f in doc["findings"] if f["rule"] == "mlflow-policy/schema-migration"]
    assert finding["severity"] == "error"
    assert finding["host"] == "tracking-1"
    assert "cannot downgrade" in finding["message"]
    assert finding["location"]["path"] == "inventories/prod/group_vars/mlflow_servers.yml"
    assert code == 1


def test_schema_upgrade_counts_revisions(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    repo.git.checkout("main")
    _write(root, {"inventories/prod/group_vars/mlflow_servers.yml":
                  SERVERS.format(version="2.18.0")})
    _commit(repo, "main: server on 2.18.0")
    repo.git.checkout("-b", "upgrade")
    _write(root, {"inventories/prod/group_vars/mlflow_servers.yml":
                  SERVERS.format(version="3.17.2")})
    _commit(repo, "upgrade the server")
    code, doc = _run(capsys)
    [finding] = [f for f in doc["findings"] if f["rule"] == "mlflow-policy/schema-migration"]
    assert finding["severity"] == "warning"
    assert "39 schema migration(s)" in finding["message"]
    assert code == 0


def test_shallow_clone_without_merge_base_is_exit_2(
    repo: git.Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(repo.working_tree_dir or ".")
    _write(root, {"inventories/prod/host_vars/client-1.yml": "mlflow_version: latest\n"})
    _commit(repo, "feature: one")
    _write(root, {"inventories/prod/host_vars/client-2.yml": "mlflow_version: latest\n"})
    _commit(repo, "feature: two")
    clone = tmp_path / "shallow"
    git.Repo.clone_from(f"file://{root}", clone, depth=1, branch="feature",
                        no_single_branch=True)
    monkeypatch.chdir(clone)
    code = main(["check", "--diff-base", "origin/main"])
    err = capsys.readouterr().err
    assert code == 2
    assert "fetch more history" in err
    assert "Traceback" not in err


def test_unknown_ref_and_not_a_repository(
    repo: git.Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--diff-base", "no-such-branch"]) == 2
    assert "unknown revision 'no-such-branch'" in capsys.readouterr().err
    elsewhere = tmp_path / "plain"
    (elsewhere / "policies").mkdir(parents=True)
    (elsewhere / "policies" / "pr.yaml").write_text(POLICY)
    (elsewhere / "inventories" / "x").mkdir(parents=True)
    (elsewhere / "inventories" / "x" / "hosts.yml").write_text("all:\n  hosts:\n    h:\n")
    monkeypatch.chdir(elsewhere)
    assert main(["check", "--diff-base", "main"]) == 2
    assert "needs a git repository" in capsys.readouterr().err


WAIVE_MIGRATION = """\
apiVersion: mlflow-policy/v1
kind: Waiver
metadata: {name: planned-upgrade}
spec:
  rules: [mlflow-policy/schema-migration]
  justification: the migration is scheduled with a backup
  owner: ml-platform@example.com
  expires: 2999-01-01
"""


@pytest.mark.parametrize(("extra", "waiver", "expected"), [
    # the built-in goes through the engine: --skip-rule and --rule filter it like a rule
    ((), False, [("mlflow-policy/schema-migration", False, None)]),
    (("--skip-rule", "mlflow-policy/schema-migration"), False, []),
    (("--rule", "pr/*"), False, []),
    # and a waiver waives it (it used to be added after waivers were applied)
    ((), True, [("mlflow-policy/schema-migration", True, "planned-upgrade")]),
], ids=["reported", "skip-rule", "rule-glob", "waived"])
def test_schema_migration_is_filtered_and_waived_like_a_rule(
    repo: git.Repo, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], waiver: bool,
    expected: list[tuple[str, bool, str | None]],
) -> None:
    root = Path(repo.working_tree_dir or ".")
    _write(root, {"inventories/prod/group_vars/mlflow_servers.yml":
                  SERVERS.format(version="2.20.1")})
    if waiver:
        _write(root, {"policies/waivers.yaml": WAIVE_MIGRATION})
    _commit(repo, "feature: downgrade the server")
    _, doc = _run(capsys, *extra)
    findings = doc["findings"]
    assert isinstance(findings, list)
    got = [(f["rule"], f["waived"], f["waiver"]) for f in findings
           if f["rule"].startswith("mlflow-policy/")]
    assert got == expected


def test_the_merge_base_is_evaluated_without_changing_directory(
    repo: git.Repo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    root = Path(repo.working_tree_dir or ".")
    _write(root, {"inventories/prod/host_vars/client-1.yml": "mlflow_version: latest\n"})
    calls: list[object] = []
    monkeypatch.setattr(os, "chdir", lambda *a: calls.append(a))
    code, doc = _run(capsys)
    assert calls == []
    assert code == 1
    findings = doc["findings"]
    assert isinstance(findings, list)
    assert [(f["rule"], f["host"]) for f in findings] == [("pr/pinned", "client-1")]


def test_a_branch_that_fixes_a_misspelt_fact_path_is_compared_with_its_base(
        repo: git.Repo, capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown fact paths are load errors, but the merge base is history: its typo (loaded
    before that check existed) must not stop the PR that fixes it."""
    root = Path(repo.working_tree_dir or ".")
    repo.git.checkout("main")
    _write(root, {"policies/pr.yaml": POLICY.replace("mlflow.version:", "mlflow.verison:")})
    _commit(repo, "main: a typo that silently passed")
    repo.git.checkout("-b", "fix-typo")
    _write(root, {"policies/pr.yaml": POLICY})
    _commit(repo, "fix the typo")
    capsys.readouterr()
    assert main(["check", "--diff-base", "main", "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)["summary"]["diff"]
    # nothing new; the base's rule on the absent `mlflow.verison` failed `required` on all
    # three hosts, and the fixed rule passes
    assert (diff["new"], diff["fixed"]) == (0, 3)
    # and the typo itself is still an error on the branch that has it
    repo.git.checkout("main")
    assert main(["check"]) == 2
    assert "did you mean 'mlflow.version'?" in capsys.readouterr().err


@pytest.mark.parametrize(("version", "error"), [
    ("3.16.1", True),   # an older alembic head than the backend's database: refused
    ("3.17.0", False),  # another release with 3.17.2's head: one schema, nothing to say
])
def test_a_new_replica_with_an_older_schema_is_a_downgrade_of_its_backend(
    repo: git.Repo, capsys: pytest.CaptureFixture[str], version: str, error: bool
) -> None:
    """No server changes version, yet the change moves the backend's replicas to a release
    with an older head: the added replica cannot serve the database 3.17.2 migrated."""
    root = Path(repo.working_tree_dir or ".")
    _write(root, {
        "inventories/prod/hosts.yml": HOSTS.replace("tracking-1:\n",
                                                    "tracking-1:\n        tracking-2:\n"),
        "inventories/prod/host_vars/tracking-2.yml": f"mlflow_version: '{version}'\n",
    })
    _commit(repo, "feature: a second replica")
    _, doc = _run(capsys)
    found = [f for f in doc["findings"] if f["rule"] == "mlflow-policy/schema-migration"]
    if not error:
        assert found == []
        return
    [finding] = found
    assert (finding["host"], finding["severity"]) == ("tracking-2", "error")
    assert finding["message"] == (
        "the server is added to a backend store whose servers ran MLflow 3.17.2 at the merge "
        "base (schema dc11669786a5), but runs 3.16.1, whose schema (b7e2c1a4d9f3) is 2 "
        "revision(s) older: MLflow cannot downgrade a database, so this server will refuse it")
    assert finding["location"]["path"] == "inventories/prod/host_vars/tracking-2.yml"


def test_a_server_moved_onto_a_newer_backend_is_a_downgrade_of_that_backend(
    repo: git.Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(repo.working_tree_dir or ".")
    repo.git.checkout("main")
    _write(root, {
        "inventories/prod/hosts.yml": HOSTS.replace("tracking-1:\n",
                                                    "tracking-1:\n        tracking-old:\n"),
        "inventories/prod/host_vars/tracking-old.yml":
            "mlflow_version: '3.16.1'\nmlflow_backend_store_uri: postgresql://old-db/mlflow\n",
    })
    _commit(repo, "main: an old server on its own database")
    repo.git.checkout("-b", "move")
    _write(root, {"inventories/prod/host_vars/tracking-old.yml": "mlflow_version: '3.16.1'\n"})
    _commit(repo, "move the old server to the shared database")
    _, doc = _run(capsys)
    [finding] = [f for f in doc["findings"] if f["rule"] == "mlflow-policy/schema-migration"]
    assert finding["host"] == "tracking-old"
    assert finding["message"].startswith("the server moves to a backend store whose servers "
                                         "ran MLflow 3.17.2")
