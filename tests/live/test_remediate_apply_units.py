"""``remediate --apply`` (mlflow_policy/remediate/apply.py) with real ansible-runner runs on
hosts reached with ``ansible_connection: local`` (each host's "root" a directory under
tmp_path), driving a stand-in playbook (tests/fixtures/apply/standin/): check mode with
the diff first, the real run only with --yes or a confirmation, the per-host recap, a
second run that changes nothing, failures that make the run fail, and no secret in
anything shown. (No terminal, and a "no" on one: test_remediate_apply_cli.py.)
The pure parts (recap from stats, diffs, masking) are tested on recorded event data.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.remediate import apply as ap
from tests.support import REPO

pytestmark = pytest.mark.slow

PLAYBOOK_DIR = REPO / "tests" / "fixtures" / "apply" / "standin"
TOKEN = "tok-Secret-5e91aa"
DB_PASSWORD = "pw-Secret-77c0de"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two local hosts: ``drifted`` (its env file differs from the desired one, and holds a
    token and a database password) and ``fine`` (already as desired); a clean Ansible
    environment, a private HOME and temp dir (to see what a run leaves behind)."""
    for name in list(os.environ):
        if name.startswith("ANSIBLE_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "no-ansible.cfg"))
    monkeypatch.setenv("ANSIBLE_LOCAL_TEMP", str(home / ".ansible-local"))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    playbook = tmp_path / "remediation"
    shutil.copytree(PLAYBOOK_DIR, playbook)

    uri = f"postgresql://mlflow:{DB_PASSWORD}@127.0.0.1:5432/mlflow"
    desired = {
        "drifted": {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
                    "MLFLOW_TRACKING_TOKEN": TOKEN, "MLFLOW_BACKEND_STORE_URI": uri},
        "fine": {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"},
    }
    hosts: dict[str, Any] = {}
    for name, env in desired.items():
        root = tmp_path / "hosts" / name
        env_file = root / "etc" / "default" / "mlflow"
        env_file.parent.mkdir(parents=True)
        hosts[name] = {"ansible_connection": "local",
                       "ansible_python_interpreter": sys.executable,
                       "mlflow_env_file": str(env_file), "mlflow_policy_env": env}
    (tmp_path / "hosts" / "drifted" / "etc" / "default" / "mlflow").write_text(
        "# managed by mlflow-policy\nMLFLOW_TRACKING_URI=\"http://127.0.0.1:1/old\"\n"
        f"MLFLOW_TRACKING_TOKEN=\"{TOKEN}\"\nMLFLOW_BACKEND_STORE_URI=\"{uri}\"\n")
    (tmp_path / "hosts" / "fine" / "etc" / "default" / "mlflow").write_text(
        "# managed by mlflow-policy\nMLFLOW_TRACKING_URI=\"http://127.0.0.1:5000\"\n")
    (tmp_path / "hosts" / "fine" / "etc" / "default" / "mlflow").chmod(0o640)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    return {"inventory": inventory, "playbook": playbook / "playbook.yml", "tmp": tmp_path,
           "temp": temp, "env_file": {n: Path(h["mlflow_env_file"]) for n, h in hosts.items()},
           "hosts": hosts}


def _apply(site: dict[str, Any], **kw: Any) -> tuple[ap.ApplyOutcome, str]:
    shown = io.StringIO()
    kw.setdefault("secrets", ())
    outcome = ap.apply(site["playbook"], [site["inventory"]], ["drifted", "fine"],
                       options=ap.ApplyOptions(forks=2, timeout=10), show=shown, **kw)
    return outcome, shown.getvalue()


def _texts(outcome: ap.ApplyOutcome, shown: str) -> list[str]:
    return [shown, json.dumps(outcome.to_json()), *ap.render_outcome(outcome)]


def test_check_diff_then_apply_then_nothing_to_change(site: dict[str, Any]) -> None:
    before = site["env_file"]["drifted"].read_text()
    asked: list[str] = []
    # confirmed on a terminal the first time, --yes the second
    outcome, shown = _apply(site, is_terminal=lambda: True,
                            confirm=lambda p: asked.append(p) is None)
    assert asked == ["Apply to 2 hosts (1 change in check mode)? [y/N] "]

    # check mode first: the diff of the env file is shown, with its secrets masked
    assert shown.index("== check mode") < shown.index("== apply")
    check_part = shown.split("== apply")[0]
    assert "drifted: would change: Write the MLflow environment file" in check_part
    assert '-MLFLOW_TRACKING_URI="http://127.0.0.1:1/old"' in check_part
    assert '+MLFLOW_TRACKING_URI="http://127.0.0.1:5000"' in check_part
    assert "fine: would change" not in check_part
    assert outcome.check_run.check
    assert outcome.check_run.hosts["drifted"].changed == 1
    # the check run changed nothing: the real run did
    assert outcome.real_run is not None
    assert outcome.real_run.hosts == {
        "drifted": ap.HostRecap(ok=1, changed=1, skipped=1),
        "fine": ap.HostRecap(ok=1, skipped=1)}
    after = site["env_file"]["drifted"].read_text()
    assert after != before
    assert 'MLFLOW_TRACKING_URI="http://127.0.0.1:5000"' in after
    assert outcome.exit_code == 0
    assert outcome.stopped is None
    doc = outcome.to_json()
    assert doc["applied"] is True
    assert doc["hosts"] == {"drifted": {"changed": 1, "ok": 1, "failed": 0, "unreachable": 0},
                            "fine": {"changed": 0, "ok": 1, "failed": 0, "unreachable": 0}}
    assert "changed=1 ok=1 failed=0 unreachable=0" in shown

    # a second apply still runs check mode first, and changes nothing anywhere
    again, shown2 = _apply(site, yes=True)
    assert "== check mode" in shown2
    assert again.check_run.changes == ()
    assert again.real_run is not None
    assert {h: r.changed for h, r in again.real_run.hosts.items()} == {"drifted": 0, "fine": 0}
    assert site["env_file"]["drifted"].read_text() == after

    for text in _texts(outcome, shown) + _texts(again, shown2):
        assert TOKEN not in text
        assert DB_PASSWORD not in text
    # runner's private directory is gone (it held the environment and every result)
    assert list(site["temp"].iterdir()) == []


def test_a_host_failing_in_the_real_run_fails_the_apply(site: dict[str, Any]) -> None:
    site["hosts"]["fine"]["fail_in_real_run"] = True
    site["hosts"]["fine"]["mlflow_policy_env"]["MLFLOW_TRACKING_TOKEN"] = TOKEN
    site["inventory"].write_text(json.dumps({"all": {"hosts": site["hosts"]}}))
    outcome, shown = _apply(site, yes=True, secrets=(TOKEN,))
    assert outcome.real_run is not None
    assert outcome.real_run.hosts["fine"].failed == 1
    assert outcome.real_run.bad_hosts == ["fine"]
    assert outcome.exit_code == 1
    text = "\n".join([shown, *ap.render_outcome(outcome)])
    assert "fine: failed (Fail in the real run where asked): refused on purpose" in text
    assert "apply failed on fine" in text
    for t in _texts(outcome, shown):
        assert TOKEN not in t


def test_an_unreachable_host_stops_before_anything_is_applied(site: dict[str, Any]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site["hosts"]["gone"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                             "ansible_port": port, "mlflow_env_file": "/nonexistent",
                             "mlflow_policy_env": {}}
    site["inventory"].write_text(json.dumps({"all": {"hosts": site["hosts"]}}))
    before = site["env_file"]["drifted"].read_bytes()
    shown = io.StringIO()
    outcome = ap.apply(site["playbook"], [site["inventory"]], ["drifted", "fine", "gone"],
                       options=ap.ApplyOptions(forks=3, timeout=5), yes=True, show=shown)
    assert outcome.stopped == "check-failed"
    assert outcome.real_run is None
    assert outcome.exit_code == 1
    assert outcome.check_run.hosts["gone"].unreachable == 1
    assert "gone: unreachable" in shown.getvalue()
    assert "not applied: check mode failed on gone" in shown.getvalue()
    assert site["env_file"]["drifted"].read_bytes() == before


def _recorded(changed: int) -> ap.Runner:
    """A runner handing back recorded runs (the decisions after the runs, alone)."""
    def run(playbook: Path, inventories: Any, *, check: bool, options: Any = None,
            expected: Any = (), redact: Any = None) -> ap.PlaybookRun:
        hosts = {h: ap.HostRecap(ok=1, changed=changed) for h in expected}
        return ap.PlaybookRun(check, "successful", 0, hosts, (), (), ())
    return run


def test_recheck_decides_the_exit_code(tmp_path: Path) -> None:
    from mlflow_policy.findings import DRIFT, UNREACHABLE, Finding, Result

    def result(*findings: Finding) -> Result:
        return Result(findings=tuple(sorted(findings)), hosts=(), rules=(), unmatched_rules=())

    def drift(host: str, fact: str) -> Finding:
        return Finding(rule=DRIFT, severity="warning", message=f"{fact} drifted", host=host,
                       inventory="inv", fact=fact)

    left = drift("a", "env.MLFLOW_TRACKING_URI")
    other = drift("a", "db.revision")
    covered = ap.covers([("a", DRIFT, "env.MLFLOW_TRACKING_URI"), ("b", "p/r", None)])
    seen_hosts: list[tuple[str, ...]] = []

    def go(*findings: Finding) -> ap.ApplyOutcome:
        def recheck(hosts: Any) -> Result:
            seen_hosts.append(tuple(hosts))
            return result(*findings)
        return ap.apply(tmp_path / "playbook.yml", [tmp_path], ["b", "a"], yes=True,
                        recheck=recheck, covered=covered, show=io.StringIO(),
                        runner=_recorded(1))

    outcome = go(left, other)
    assert seen_hosts == [("a", "b")]
    assert outcome.remaining == (left,)
    assert outcome.exit_code == 1
    assert "1 remediated finding remain (1 other finding on these hosts" in "\n".join(
        ap.render_outcome(outcome))
    assert outcome.to_json()["recheck"]["other_findings"] == 1

    fixed = go(other)
    assert fixed.remaining == ()
    assert fixed.exit_code == 0
    assert "none of the remediated findings remain" in "\n".join(ap.render_outcome(fixed))

    rule_any_fact = Finding(rule="p/r", severity="error", message="m", host="b", fact="x.y")
    waived = drift("a", "env.MLFLOW_TRACKING_URI").with_waiver("w")
    assert go(rule_any_fact).remaining == (rule_any_fact,)
    assert go(waived).exit_code == 0
    # a remediated host the re-check cannot reach is not known to be fixed
    gone = Finding(rule=UNREACHABLE, severity="error", message="refused", host="b")
    assert go(gone).remaining == (gone,)
    assert go(Finding(rule=UNREACHABLE, severity="error", message="x", host="z")).exit_code == 0


def test_a_recheck_that_cannot_run_is_not_a_success(tmp_path: Path) -> None:
    from mlflow_policy.errors import PolicyError

    def broken(hosts: Any) -> Any:
        raise PolicyError(f"ansible-playbook failed: password={TOKEN}")

    outcome = ap.apply(tmp_path / "playbook.yml", [tmp_path], ["a"], yes=True,
                       recheck=broken, show=io.StringIO(), runner=_recorded(1))
    assert outcome.real_run is not None
    assert outcome.exit_code == 1
    text = "\n".join(ap.render_outcome(outcome)) + json.dumps(outcome.to_json())
    assert "re-check (live) failed" in text
    assert TOKEN not in text


def test_nothing_to_remediate_runs_nothing(tmp_path: Path) -> None:
    def never(*a: Any, **k: Any) -> ap.PlaybookRun:
        raise AssertionError("ran")
    outcome = ap.apply(tmp_path / "p.yml", [tmp_path], [], yes=True, runner=never)
    assert outcome.stopped == "nothing-to-do"
    assert outcome.exit_code == 0
    assert list(ap.render_outcome(outcome)) == [
        "apply: nothing to apply (no host needs the playbook)"]


SIGINT_SCRIPT = """
import sys, tempfile
from pathlib import Path
tempfile.tempdir = sys.argv[3]
from mlflow_policy.remediate.apply import run_playbook
try:
    run_playbook(Path(sys.argv[1]), [sys.argv[2]], check=False, expected=["drifted"])
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def _marked() -> list[int]:
    """Processes of the slow playbook's task (``sleep 283``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == b"sleep\x00283\x00":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_ctrl_c_stops_the_run_and_removes_the_private_directory(site: dict[str, Any]) -> None:
    """A real SIGINT while a task runs: Ansible and the task are stopped, the private
    directory (the environment and results runner wrote) is gone."""
    import signal
    import subprocess
    import time

    inventory = site["tmp"] / "one.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"drifted": site["hosts"]["drifted"]}}}))
    playbook = site["playbook"].with_name("slow.yml")
    assert _marked() == [], "a sleep 283 from elsewhere: the test cannot tell its own"
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGINT_SCRIPT, str(playbook), str(inventory),
         str(site["temp"])], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not _marked():
            time.sleep(0.2)
        assert _marked(), "the task never started"
        prefix = "mlflow-policy-apply-"
        assert [p.name[:len(prefix)] for p in site["temp"].iterdir()] == [prefix]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert "interrupted" in out, err
    assert proc.returncode == 130
    assert list(site["temp"].iterdir()) == []
    deadline = time.monotonic() + 10
    while _marked() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked() == []


# --- pure parts, on recorded event data ---------------------------------------------------

def test_recap_from_stats_names_unreached_hosts() -> None:
    stats = {"ok": {"a": 3, "b": 1}, "changed": {"a": 2}, "failures": {"b": 1},
             "dark": {}, "skipped": {"a": 1}}
    got = ap.recap(stats, expected=["a", "b", "c"])
    assert got == {"a": ap.HostRecap(ok=3, changed=2, skipped=1),
                   "b": ap.HostRecap(ok=1, failed=1),
                   "c": ap.HostRecap(unreachable=1)}


def test_unreachable_event_and_stats() -> None:
    seen = ap.Seen()
    ap.keep_event(seen, {"event": "runner_on_unreachable", "event_data": {
        "host": "h", "task": "Write", "res": {"msg": "Failed to connect: Connection refused",
                                              "unreachable": True, "stdout": "x" * 10}}})
    ap.keep_event(seen, {"event": "playbook_on_stats", "event_data": {
        "ok": {}, "changed": {}, "failures": {}, "dark": {"h": 1}, "skipped": {}}})
    run = ap.playbook_run(seen, check=True, status="failed", rc=4, expected=["h"],
                          redact=ap.Redactor())
    assert run.hosts == {"h": ap.HostRecap(unreachable=1)}
    assert run.errors == (ap.HostError("h", "Write", "Failed to connect: Connection refused",
                                       True),)
    assert "stdout" not in seen.events[0][3]  # module output is not kept


def test_loop_items_and_ignored_failures() -> None:
    seen = ap.Seen()
    ap.keep_event(seen, {"event": "runner_on_ok", "event_data": {
        "host": "h", "task": "Loop", "res": {"changed": True, "results": [
            {"changed": True, "diff": {"before": "A=1\n", "after": "A=2\n"},
             "stdout": "long module output"},
            {"changed": False, "stdout": "more"}]}}})
    ap.keep_event(seen, {"event": "runner_on_failed", "event_data": {
        "host": "h", "task": "Tolerated", "ignore_errors": True, "res": {"msg": "no"}}})
    ap.keep_event(seen, {"event": "playbook_on_stats", "event_data": {
        "ok": {"h": 2}, "changed": {"h": 1}, "failures": {}, "dark": {}, "skipped": {}}})
    run = ap.playbook_run(seen, check=True, status="successful", rc=0, expected=["h"],
                          redact=ap.Redactor())
    assert [c.task for c in run.changes] == ["Loop"]
    assert "-A=1" in run.changes[0].diff
    assert run.errors == ()
    assert run.bad_hosts == []
    assert "long module output" not in repr(seen.events)


def test_a_run_cut_short_counts_unfinished_hosts_as_failed() -> None:
    seen = ap.Seen()
    ap.keep_event(seen, {"event": "runner_on_ok", "event_data": {
        "host": "a", "task": "t", "res": {"changed": True}}})
    run = ap.playbook_run(seen, check=False, status="timeout", rc=254, expected=["a", "b"],
                          redact=ap.Redactor())
    assert run.hosts["a"] == ap.HostRecap(ok=1, changed=1, failed=1)
    assert run.hosts["b"].failed == 1
    assert run.bad_hosts == ["a", "b"]


def test_no_event_at_all_is_an_error_with_ansibles_words() -> None:
    seen = ap.Seen(messages=[f"ERROR! the playbook could not be read: password={TOKEN}"])
    with pytest.raises(ap.ApplyError) as err:
        ap.playbook_run(seen, check=True, status="failed", rc=4, expected=["a"],
                        redact=ap.Redactor())
    assert "the playbook could not be read" in str(err.value)
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(("diff", "want"), [
    ({"before": "A=1\n", "after": "A=2\n", "before_header": "/etc/x", "after_header": "t.j2"},
     ["--- before: /etc/x", "+++ after: t.j2", "-A=1", "+A=2"]),
    ([{"prepared": "pre-rendered diff"}], ["pre-rendered diff"]),
    ({"before": {"state": "absent"}, "after": {"state": "file"}},
     ['-  "state": "absent"', '+  "state": "file"']),
    ({"before": "same", "after": "same"}, []),
])
def test_render_diff(diff: Any, want: list[str]) -> None:
    lines = ap.render_diff(diff).splitlines()
    for line in want:
        assert line in lines
    if not want:
        assert lines == []


@pytest.mark.parametrize("line", [
    f'+MLFLOW_TRACKING_TOKEN="{TOKEN}"',
    f"-export AWS_SECRET_ACCESS_KEY={TOKEN}",
    f' MLFLOW_FLASK_SERVER_SECRET_KEY="{TOKEN} with spaces"',
    f'+MLFLOW_BACKEND_STORE_URI="postgresql://u:{TOKEN}@db/mlflow"',
    f'+Environment="MLFLOW_TRACKING_PASSWORD={TOKEN}"',
])
def test_redactor_masks_env_lines_and_uris(line: str) -> None:
    masked = ap.Redactor()(line)
    assert TOKEN not in masked
    assert "***" in masked


def test_redactor_masks_known_secrets_anywhere() -> None:
    masked = ap.Redactor(["s3cr3t-value"])("the value is s3cr3t-value, in plain text")
    assert masked == "the value is ***, in plain text"
    assert ap.Redactor()("MLFLOW_TRACKING_URI=http://x") == "MLFLOW_TRACKING_URI=http://x"
