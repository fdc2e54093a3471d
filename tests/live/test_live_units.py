"""The live code's pure parts, without a fleet: the gather module's parsers and process
matching on a fake /proc, results from recorded runner events, JSON round trips, the
progress bar, the results-directory reader and the gather-playbook files."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlflow_policy.live.result import LiveHostResult

MODULE_PATH = (Path(__file__).resolve().parents[2] / "mlflow_policy" / "live" / "ansible"
               / "library" / "mlflow_policy_facts.py")


@pytest.fixture(scope="module")
def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mlflow_policy_facts", MODULE_PATH)
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_module_secret_pattern_is_the_packages(module: ModuleType) -> None:
    from mlflow_policy import secrets

    assert module.SECRET_NAME.pattern == secrets.SECRET_NAME.pattern
    assert module.SECRET_NAME.flags == secrets.SECRET_NAME.flags


ENV_FILE = """\
# comment
; another
MLFLOW_TRACKING_URI=http://tracking:5000
export MLFLOW_A="two words \\"quoted\\" \\$HOME"
MLFLOW_B='single $literal'
MLFLOW_C=plain # trailing comment
not a line
1BAD=x
MLFLOW_EMPTY=
"""


def test_env_file_parsing(module: ModuleType) -> None:
    assert module.parse_env_file(ENV_FILE) == {
        "MLFLOW_TRACKING_URI": "http://tracking:5000",
        "MLFLOW_A": 'two words "quoted" $HOME',
        "MLFLOW_B": "single $literal",
        "MLFLOW_C": "plain",
        "MLFLOW_EMPTY": "",
    }


@pytest.mark.parametrize(("args", "expected"), [
    (["--backend-store-uri", "postgresql://u:p@db/m", "--workers", "4", "--host", "0.0.0.0",
      "--port", "5001", "--no-serve-artifacts"],
     {"server.backend_store_uri": "postgresql://u:p@db/m", "server.workers": "4",
      "server.host": "0.0.0.0", "server.port": "5001", "server.serve_artifacts": False}),
    (["--workers=2", "-p", "80", "-h", "::", "--app-name", "basic-auth", "--serve-artifacts",
      "--default-artifact-root=s3://b/x", "--artifacts-destination", "/srv/a"],
     {"server.workers": "2", "server.port": "80", "server.host": "::",
      "server.serve_artifacts": True, "server.default_artifact_root": "s3://b/x",
      "server.artifacts_destination": "/srv/a", "server.app_name": "basic-auth"}),
    (["-w8", "--gunicorn-opts", "--workers 99", "--registry-store-uri", "sqlite:///r.db"],
     {"server.workers": "8", "server.registry_store_uri": "sqlite:///r.db"}),
])
def test_server_command_line(module: ModuleType, args: list[str],
                             expected: dict[str, Any]) -> None:
    assert module.parse_server_args(args) == expected


@pytest.mark.parametrize(("argv", "start"), [
    (["/venv/bin/python", "/venv/bin/mlflow", "server", "--port", "1"], 3),
    (["/venv/bin/python", "-m", "mlflow", "server"], 4),
    (["/venv/bin/python", "-m", "mlflow", "ui"], None),
    (["/venv/bin/python", "-m", "uvicorn", "mlflow.server.fastapi_app:app"], None),
])
def test_server_command_recognised(module: ModuleType, argv: list[str],
                                   start: int | None) -> None:
    assert module.server_args_start(argv) == start


def _fake_proc(root: Path, pid: int, ppid: int, argv: list[str], env: dict[str, str]) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "environ").write_bytes(b"".join(f"{k}={v}\0".encode() for k, v in env.items()))
    (d / "stat").write_text(f"{pid} (python3 x) S {ppid} 1 1")


def test_only_this_environments_server_is_found(module: ModuleType, tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    _fake_proc(proc, 100, 1, ["/cache/v/bin/python", "/hostA/venv/bin/mlflow", "server",
                              "--workers", "1"], {"MLFLOW_X": "a"})
    # its worker inherits the command line: the parent is the server
    _fake_proc(proc, 101, 100, ["/cache/v/bin/python", "/hostA/venv/bin/mlflow", "server"], {})
    _fake_proc(proc, 200, 1, ["/hostB/venv/bin/python", "-m", "mlflow", "server"], {})
    _fake_proc(proc, 300, 1, ["/hostA/venvx/bin/python", "-m", "mlflow", "server"], {})
    found = module.find_servers("/hostA/venv", str(proc))
    assert [pid for pid, _ in found] == [100]
    assert module.read_environ(100, str(proc)) == {"MLFLOW_X": "a"}
    assert [p for p, _ in module.find_servers("/hostB/venv", str(proc))] == [200]


def test_withholding_in_the_module(module: ModuleType) -> None:
    facts = {"env": {"MLFLOW_TRACKING_PASSWORD": "pw1", "MLFLOW_X": "x",
                     "MLFLOW_BACKEND_STORE_URI": "postgresql://u:pw2@db/m",
                     "ODD_NAME": "pw3"},
             "server.backend_store_uri": "postgresql://u:pw2@db/m", "server.workers": 1}
    withheld = module.withhold(facts, {"ODD_NAME"})
    assert "pw1" not in json.dumps(facts)
    assert "pw2" not in json.dumps(facts)
    assert "pw3" not in json.dumps(facts)
    assert facts["env"]["MLFLOW_X"] == "x"
    assert withheld == sorted(["env.MLFLOW_TRACKING_PASSWORD", "env.MLFLOW_BACKEND_STORE_URI",
                               "env.ODD_NAME", "server.backend_store_uri"])


def test_module_gathers_on_this_machine_without_ansible(module: ModuleType,
                                                         tmp_path: Path) -> None:
    """The whole pass with this interpreter: every observed fact present or unavailable."""
    env_file = tmp_path / "mlflow.env"
    env_file.write_text("MLFLOW_TRACKING_URI=http://127.0.0.1:1\n")
    out = module.gather({"env_file": str(env_file), "controller_time": 1.0})
    raw = out["mlflow_policy"]
    assert out["changed"] is False
    assert raw["facts"]["env"] == {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}
    assert raw["facts"]["python.version"] == ".".join(map(str, sys.version_info[:3]))
    assert raw["facts"]["server.running"] is False
    for path in ("db.revision", "http.version", "server.workers"):
        assert path in raw["unavailable"]


# --- results from events ------------------------------------------------------------------

def _ok_res(**facts: Any) -> dict[str, Any]:
    return {"changed": False, "mlflow_policy": {
        "schema": 1, "facts": {"mlflow.version": "3.17.2", "mlflow.package": "mlflow",
                               **facts},
        "sources": {"mlflow.version": "importlib.metadata: mlflow"},
        "unavailable": {}, "withheld": [], "host_time": 1000.5, "controller_time": 1000.0}}


def test_ok_event_derives_db_and_clock() -> None:
    from mlflow_policy.live.driver import result_from_event

    res = _ok_res(**{"db.revision": "6f8d9c3b2a1e", "db.tables": ["alembic_version"]})
    r = result_from_event("h", "runner_on_ok", res, "10.0.0.1", 1000.2)
    assert r.status == "ok"
    assert r.host == "10.0.0.1"
    assert r.facts["db.expected_revision"] == "dc11669786a5"
    assert r.facts["db.schema_current"] is False
    assert "experiments" in r.facts["db.missing_tables"]
    assert "db.tables" not in r.facts
    assert r.facts["clock.offset_seconds"] == pytest.approx(0.3)
    assert r.sources["mlflow.version"].startswith("live: ")


def test_truncated_result_is_a_failure_not_no_facts() -> None:
    from mlflow_policy.live.driver import result_from_event

    r = result_from_event("h", "runner_on_ok", {}, None, None)
    assert r.status == "failed"
    assert "no facts" in (r.failure or "")


@pytest.mark.parametrize(("event", "res", "status", "text"), [
    ("runner_on_unreachable", {"msg": "Failed to connect to the host via ssh: ssh: connect "
                                      "to host 127.0.0.1 port 9: Connection refused",
                               "unreachable": True}, "unreachable", "Connection refused"),
    ("runner_on_unreachable", {"msg": "Connection timed out during banner exchange"},
     "timeout", "banner"),
    ("runner_on_failed", {"msg": "The task was terminated after 5 seconds", "timedout":
                          {"period": 5}}, "timeout", "terminated"),
    ("runner_on_failed", {"msg": "MODULE FAILURE", "module_stderr":
                          "/bin/sh: 1: /opt/mlflow/bin/python: not found\n", "rc": 127},
     "failed", "not found"),
    ("runner_on_skipped", {"skipped": True}, "failed", "interpreter discovery"),
    ("runner_on_failed", {"msg": "cannot connect to postgresql://u:hunter2@db/m"}, "failed",
     "postgresql://u:***@db/m"),
])
def test_failures_from_events(event: str, res: dict[str, Any], status: str, text: str) -> None:
    from mlflow_policy.live.driver import result_from_event

    r = result_from_event("h", event, res, None, None)
    assert r.status == status
    assert text in (r.failure or "")
    assert "hunter2" not in json.dumps(r.to_json())


def test_to_json_masks_and_lists_withheld() -> None:
    r = LiveHostResult("h", None, "ok", facts={
        "env": {"MLFLOW_TRACKING_TOKEN": "tok", "MLFLOW_TRACKING_URI": "https://u:pw@x/"},
        "server.backend_store_uri": "postgresql://u:pw@db/m", "server.workers": 2})
    doc = r.to_json()
    assert "tok" not in json.dumps(doc)
    assert ":pw@" not in json.dumps(doc)
    assert doc["withheld"] == ["env.MLFLOW_TRACKING_TOKEN", "env.MLFLOW_TRACKING_URI",
                               "server.backend_store_uri"]
    assert doc["facts"]["server.workers"] == 2
    back = LiveHostResult.from_json(doc)
    assert back.withheld == tuple(doc["withheld"])
    assert back.to_json() == doc
    assert back.nested()["server"]["workers"] == 2


@pytest.mark.parametrize("doc", [{}, {"schema": 2}, {"schema": 1, "status": "weird",
                                                      "inventory_hostname": "h"},
                                 {"schema": 1, "status": "ok"}])
def test_from_json_refuses_bad_documents(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="live result"):
        LiveHostResult.from_json(doc)


# --- progress -----------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow_policy.live.progress import Progress

    monkeypatch.delenv("CI", raising=False)
    out = _Tty()
    bar = Progress(4, out)
    assert bar.enabled
    bar.host_done(failed=False)
    bar.host_done(failed=True)
    bar.tick()
    assert "2/4 hosts, 1 failed" in out.getvalue()
    bar.close()
    assert out.getvalue().endswith("\r")


def test_no_progress_on_a_pipe_or_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow_policy.live.progress import Progress

    monkeypatch.delenv("CI", raising=False)
    pipe = io.StringIO()
    bar = Progress(3, pipe)
    bar.host_done(failed=False)
    bar.tick()
    bar.close()
    assert pipe.getvalue() == ""
    monkeypatch.setenv("CI", "true")
    tty = _Tty()
    bar = Progress(3, tty)
    bar.tick()
    assert tty.getvalue() == ""


# --- gather-playbook and the results directory ---------------------------------------------

def test_gather_playbook_writes_the_shipped_files(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from mlflow_policy.cli import main

    assert main(["gather-playbook", str(tmp_path / "gp")]) == 0
    play = yaml.safe_load((tmp_path / "gp" / "gather.yml").read_text())[0]
    assert "MLFLOW_TRACKING_PASSWORD" in play["vars"]["mlflow_policy_secret_names"]
    assert play["gather_facts"] is False
    assert (tmp_path / "gp" / "library" / "mlflow_policy_facts.py").read_text() == \
        MODULE_PATH.read_text()
    action = MODULE_PATH.parents[1] / "action_plugins" / "mlflow_policy_facts.py"
    assert (tmp_path / "gp" / "action_plugins" / "mlflow_policy_facts.py").read_text() == \
        action.read_text()
    assert "ansible-playbook -i INVENTORY" in capsys.readouterr().out


def test_gather_playbook_refuses_a_file(tmp_path: Path) -> None:
    from mlflow_policy.cli import main

    (tmp_path / "f").write_text("x")
    assert main(["gather-playbook", str(tmp_path / "f")]) == 2


def test_results_directory_reader(tmp_path: Path) -> None:
    from mlflow_policy.live.playbook import read_results

    (tmp_path / "a.json").write_text(json.dumps({
        "mlflow_policy_result": 1, "host": "a", "received": 1000.2, "result": _ok_res()}))
    (tmp_path / "b.json").write_text(json.dumps({
        "mlflow_policy_result": 1, "host": "b", "received": 1.0,
        "result": {"unreachable": True, "msg": "ssh: Connection refused", "changed": False}}))
    (tmp_path / "c.json").write_text(json.dumps({
        "mlflow_policy_result": 1, "host": "c", "result": {"skipped": True}}))
    (tmp_path / "notes.txt").write_text("ignored")
    results = read_results(tmp_path)
    assert [(r.inventory_hostname, r.status) for r in results] == [
        ("a", "ok"), ("b", "unreachable"), ("c", "failed")]
    assert results[0].facts["mlflow.version"] == "3.17.2"


def test_results_directory_errors_are_located(tmp_path: Path) -> None:
    from mlflow_policy.errors import InputErrors
    from mlflow_policy.live.playbook import read_results

    (tmp_path / "bad.json").write_text('{\n  "x": \n}')
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(InputErrors) as info:
        read_results(tmp_path)
    rendered = [e.render() for e in info.value.errors]
    assert rendered[0].startswith(f"{tmp_path / 'bad.json'}:3:")
    assert "not an mlflow-policy result" in rendered[1]


def test_live_code_is_not_imported_by_validate() -> None:
    import subprocess

    code = ("import sys; from mlflow_policy.cli import main; main(['validate', '--help']) "
            "if False else None; import mlflow_policy.live.result, mlflow_policy.live.progress;"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ansible', 'ansible_runner')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_missing_inventory_is_a_located_usage_error(tmp_path: Path) -> None:
    from mlflow_policy.live.driver import LiveError, gather

    with pytest.raises(LiveError, match="inventory not found"):
        gather([tmp_path / "nope.yml"])
    assert LiveError("x").exit_code == 2


def test_users_ansible_cfg_and_host_key_checking(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Runner runs Ansible elsewhere and would force host key checking off: the user's
    ./ansible.cfg is named explicitly and its host_key_checking kept (default on)."""
    from mlflow_policy.live.driver import ansible_settings

    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    project = tmp_path / "project"
    project.mkdir()
    project.chmod(0o755)
    assert ansible_settings(project)["ANSIBLE_HOST_KEY_CHECKING"] in ("True", "False")
    (project / "ansible.cfg").write_text("[defaults]\nhost_key_checking = False\n")
    settings = ansible_settings(project)
    assert settings == {"ANSIBLE_CONFIG": str((project / "ansible.cfg").resolve()),
                        "ANSIBLE_HOST_KEY_CHECKING": "False"}
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "True")
    assert "ANSIBLE_HOST_KEY_CHECKING" not in ansible_settings(project)
