"""``mlflow-policy facts`` end to end through ``main([...])``: exit code and output together."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from tests.support import REPO, report_per_jobs

BAD = Path(__file__).parent / "fixtures" / "bad_inventories"
BAD_CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_inventory_exits_2_with_file_and_line(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copytree(BAD / case, tmp_path / case, symlinks=True)
    for script in (tmp_path / case).rglob("*.sh"):
        script.chmod(0o755)
    monkeypatch.chdir(tmp_path / case)
    code = main(["facts", "-i", "inv"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    for needle in (BAD / case / "expected.txt").read_text().splitlines():
        assert needle in err, f"{needle!r} not in {err!r}"
    assert not (tmp_path / case / "RAN").exists(), "an inventory script was executed"


def test_all_inventories_errors_are_reported_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for case in ("duplicate-key", "unparseable-ini-line"):
        shutil.copytree(BAD / case / "inv", tmp_path / case)
    monkeypatch.chdir(tmp_path)
    code = main(["facts", "-i", "duplicate-key", "-i", "unparseable-ini-line"])
    err = capsys.readouterr().err
    assert code == 2
    assert "duplicate-key/group_vars/mlflow_clients.yml:4:3" in err
    assert "unparseable-ini-line/hosts.ini:4" in err
    assert "2 input errors" in err


def test_json_document_shape_and_provenance(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["facts", "-i", "inventories/prod", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert doc["mode"] == "static"
    keys = [(h["inventory"], h["host"]) for h in doc["hosts"]]
    assert keys == sorted(keys)
    assert all(inv == "prod" for inv, _ in keys)
    by_name = {h["host"]: h for h in doc["hosts"]}
    server = by_name["mlflow-tracking-2"]
    assert server["facts"]["role"] == "tracking_server"
    assert server["facts"]["mlflow"]["version"] == server["facts"]["vars"]["mlflow_version"]
    # host_vars beat group_vars, and provenance names the host_vars line.
    loc = server["provenance"]["mlflow.version"]
    assert loc["path"] == "inventories/prod/host_vars/mlflow-tracking-2.yml"
    assert loc["line"] >= 1
    assert loc["column"] >= 1
    # nested keys have provenance too, under both their fact and their vars path
    assert "env.MLFLOW_TRACKING_URI" in by_name["trainer-nlp-01"]["provenance"]
    assert "vars.mlflow_env.MLFLOW_TRACKING_URI" in by_name["trainer-nlp-01"]["provenance"]
    # observed-only facts are not invented statically (db.max_connections is declared too)
    assert set(server["facts"].get("db", {})) == {"max_connections"}
    assert "http" not in server["facts"]


def test_secrets_and_vaulted_values_never_printed(
    in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("json", "text"):
        assert main(["facts", "--format", fmt, "--vars"] if fmt == "text" else
                    ["facts", "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "$ANSIBLE_VAULT" not in out
        if fmt == "text":
            # a URI built around a vaulted password shows its redacted text
            assert "postgresql://mlflow:***@" in out
        for path in (REPO / "inventories").rglob("*.yml"):
            text = path.read_text()
            for line in text.splitlines():
                if "PASSWORD:" in line and "{{" not in line and "!vault" not in line:
                    secret = line.split(":", 1)[1].strip().strip("'\"")
                    if secret:
                        assert secret not in out, f"{secret!r} from {path} leaked in {fmt}"


def test_text_view_shows_path_and_line(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", "-i", "inventories/prod", "mlflow-tracking-2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("prod/mlflow-tracking-2\n")
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("mlflow.version ")]
    assert line.rstrip().split()[-1].startswith("inventories/prod/host_vars/mlflow-tracking-2.yml:")
    assert out.rstrip().endswith("1 host")


def test_host_globs_and_unknown_hosts(in_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", "-i", "inventories/prod", "--format", "json", "trainer-nlp-*"]) == 0
    hosts = [h["host"] for h in json.loads(capsys.readouterr().out)["hosts"]]
    assert hosts
    assert all(h.startswith("trainer-nlp-") for h in hosts)
    assert main(["facts", "-i", "inventories/prod", "no-such-host"]) == 2
    assert "no host matches no-such-host" in capsys.readouterr().err


def test_output_file_is_written_atomically(
    in_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "facts.json"
    assert main(["facts", "--format", "json", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text())["hosts"]
    assert [p.name for p in tmp_path.iterdir()] == ["facts.json"]


def test_missing_inventory_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["facts"]) == 2
    assert "no inventory" in capsys.readouterr().err
    assert main(["facts", "-i", "nope"]) == 2
    assert "inventory not found: nope" in capsys.readouterr().err


def test_internal_error_is_one_line_and_a_traceback_file(
    monkeypatch: pytest.MonkeyPatch, in_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow_policy.commands.facts as facts_cmd

    def boom(*_: object) -> str:
        raise RuntimeError("synthetic bug")

    monkeypatch.setattr(facts_cmd, "render_text", boom)
    assert main(["facts", "-i", "inventories/prod"]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "internal error" in err
    written = Path(err.rsplit(" ", 1)[-1].rstrip(")\n"))
    assert "synthetic bug" in written.read_text()
    os.unlink(written)


def test_two_processes_write_the_same_report_as_one(
    in_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large fleet's report is written by two processes; it must be byte-identical to
    the one-process report (here forced on the example inventories)."""
    from mlflow_policy import parallel

    monkeypatch.setattr(parallel, "MIN_ITEMS", 2)
    reports = report_per_jobs(["facts", "--format", "json"], 0, tmp_path, monkeypatch)
    assert len(json.loads(reports["1"])["hosts"]) > 2
    assert reports["2"] == reports["1"]


def test_provenance_follows_each_inventorys_fact_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One vars file (the playbook dir's group_vars) serves two inventories that map `env`
    to different hostvars: each host's provenance lists its own inventory's fact paths,
    sorted by path (names with spaces, '!' and quotes too)."""
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "facts:\n  inventories:\n    b:\n      env: other_env\n")
    for inv, host in (("a", "h1"), ("b", "h2")):
        (tmp_path / "inventories" / inv).mkdir(parents=True)
        (tmp_path / "inventories" / inv / "hosts").write_text(f"[web]\n{host}\n")
    (tmp_path / "pb" / "group_vars").mkdir(parents=True)
    (tmp_path / "pb" / "group_vars" / "all.yml").write_text(
        'mlflow_env:\n  X: "1"\nother_env:\n  Y: "2"\n'
        'odd:\n  "k": 1\n  "k b": 2\n  "k!": 3\n  "k\\"q": 4\n  "k#": 5\n')
    monkeypatch.chdir(tmp_path)
    assert main(["facts", "--format", "json", "--playbook-dir", "pb"]) == 0
    hosts = {h["host"]: h for h in json.loads(capsys.readouterr().out)["hosts"]}
    assert hosts["h1"]["provenance"]["env.X"]["line"] == 2
    assert "env.Y" not in hosts["h1"]["provenance"]
    assert hosts["h2"]["provenance"]["env.Y"]["line"] == 4
    assert "env.X" not in hosts["h2"]["provenance"]
    keys = list(hosts["h1"]["provenance"])
    assert keys == sorted(keys)


def test_help_names_the_environment_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "MLFLOW_POLICY_JOBS=1" in capsys.readouterr().out
