"""Live gathering against the real test fleet (tests/fleet): seeded observed values come
back exactly, failures carry Ansible's reason, hosts are not written to, and no observed
secret reaches an artifact or an output."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_policy.facts.table import FACTS
from tests.live.conftest import GATHER_TIMEOUT

pytestmark = pytest.mark.slow

OBSERVED = sorted(f.path for f in FACTS if f.modes in ("both", "observed"))


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under a host root (following its MLflow environment link) with size,
    mtime and mode: a write anywhere shows up."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture(scope="session")
def gathered(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One live run over the whole fleet, shared by the tests below; with the host roots
    before and after it and the temp directory runner used."""
    from mlflow_policy.live.driver import LiveOptions, gather

    saved = dict(os.environ)
    os.environ.update(fleet.ansible_env)
    tmp = tmp_path_factory.mktemp("live-tmp")
    old_tempdir = tempfile.tempdir
    tempfile.tempdir = str(tmp)
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("live-cwd"))
    try:
        before = {n: snapshot(r) for n, r in fleet.roots().items()}
        t0 = time.monotonic()
        results = gather([fleet.inventory], LiveOptions(forks=10, timeout=GATHER_TIMEOUT),
                         expected_hosts=fleet.hosts)
        elapsed = time.monotonic() - t0
        after = {n: snapshot(r) for n, r in fleet.roots().items()}
        left = sorted(str(p) for p in tmp.rglob("*"))
    finally:
        tempfile.tempdir = old_tempdir
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    return {"results": {r.inventory_hostname: r for r in results}, "before": before,
           "after": after, "tmp_left": left, "elapsed": elapsed}


def test_every_host_has_one_result(fleet: Any, gathered: dict[str, Any]) -> None:
    assert sorted(gathered["results"]) == sorted(fleet.hosts)


@pytest.mark.parametrize("host", ["client-ok", "client-behind", "client-envdrift",
                                  "server-live", "server-dbbehind"])
def test_seeded_values_are_observed(fleet: Any, gathered: dict[str, Any], host: str) -> None:
    result = gathered["results"][host]
    assert result.status == "ok", result.failure
    for path, value in fleet.expected[host].items():
        assert result.facts.get(path) == value, (path, result.unavailable.get(path))


@pytest.mark.parametrize("host", ["client-ok", "client-behind", "client-envdrift",
                                  "server-live", "server-dbbehind"])
def test_every_observed_fact_is_there_or_unavailable_with_a_reason(
        gathered: dict[str, Any], host: str) -> None:
    result = gathered["results"][host]
    for path in OBSERVED:
        if path == "mlflow.python":
            continue
        assert (path in result.facts) != (path in result.unavailable), path
        if path in result.unavailable:
            assert result.unavailable[path].strip(), path
        else:
            assert result.sources.get(path, "").startswith(("live: ", "catalogue: ")), path


def test_db_facts_of_the_behind_database(gathered: dict[str, Any]) -> None:
    behind = gathered["results"]["server-dbbehind"].facts
    assert behind["db.expected_revision"] == "dc11669786a5"
    assert behind["db.schema_current"] is False
    # 3.15.2's schema lacks tables 3.17.2 added; measured against its own revision it is whole
    assert behind["db.missing_tables"] == []
    live = gathered["results"]["server-live"].facts
    assert live["db.schema_current"] is True
    assert live["db.extra_tables"] == []
    assert live["db.missing_tables"] == []


def test_clients_have_no_server_and_say_why(gathered: dict[str, Any]) -> None:
    client = gathered["results"]["client-ok"]
    assert client.facts["server.running"] is False
    assert "no backend store URI" in client.unavailable["db.revision"]
    assert "no mlflow server running" in client.unavailable["server.workers"]
    assert client.unavailable["http.version"]


def _bracket(source: str) -> tuple[float, float]:
    low, high = re.findall(r"between (-?[0-9.]+)s and (-?[0-9.]+)s", source)[0]
    return float(low), float(high)


def test_clock_offset_brackets_zero_on_one_machine(gathered: dict[str, Any]) -> None:
    """Every host is this machine: the true offset is 0, so it lies in the bracket, and the
    estimate (the bracket's low end) errs only by the reply's transit."""
    for host in ("client-ok", "server-live"):
        result = gathered["results"][host]
        low, high = _bracket(result.sources["clock.offset_seconds"])
        assert low <= 0 <= high
        assert result.facts["clock.offset_seconds"] == pytest.approx(low, abs=0.001)
        assert low > -5


def test_failures_carry_ansibles_reason(fleet: Any, gathered: dict[str, Any]) -> None:
    down = gathered["results"]["down"]
    assert down.status == "unreachable"
    assert "Connection refused" in (down.failure or "")
    silent = gathered["results"]["silent"]
    assert silent.status == "timeout"
    assert "timed out" in (silent.failure or "")
    assert not down.facts
    assert not silent.facts


def test_hosts_are_not_written_to(gathered: dict[str, Any]) -> None:
    assert gathered["before"] == gathered["after"]


def test_runner_artifacts_are_removed(gathered: dict[str, Any]) -> None:
    assert gathered["tmp_left"] == []


def test_secrets_are_seen_in_process_and_never_serialised(
        fleet: Any, gathered: dict[str, Any]) -> None:
    from tests.fleet.fleet import CLIENT_TOKEN, SERVER_SECRET

    results = gathered["results"]
    # the run itself saw them (so drift on a secret can be decided in-process) ...
    assert results["client-ok"].facts["env"]["MLFLOW_TRACKING_TOKEN"] == CLIENT_TOKEN
    assert results["server-live"].facts["env"]["MLFLOW_FLASK_SERVER_SECRET_KEY"] == SERVER_SECRET
    # ... and a snapshot never carries them
    text = json.dumps([r.to_json() for r in results.values()])
    for secret in fleet.secrets:
        assert secret not in text
    doc = results["server-live"].to_json()
    assert "env.MLFLOW_FLASK_SERVER_SECRET_KEY" in doc["withheld"]
    assert "server.backend_store_uri" in doc["withheld"]


def test_no_secret_in_ansibles_own_temp_dirs(fleet: Any, gathered: dict[str, Any]) -> None:
    home = Path(fleet.ansible_env["HOME"])
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for secret in fleet.secrets:
                assert secret.encode() not in data, path


def test_json_round_trip(gathered: dict[str, Any]) -> None:
    from mlflow_policy.live.result import LiveHostResult

    for result in gathered["results"].values():
        doc = json.loads(json.dumps(result.to_json()))
        back = LiveHostResult.from_json(doc)
        assert back.to_json() == doc


SIGINT_SCRIPT = """
import sys, tempfile
tempfile.tempdir = sys.argv[2]
from mlflow_policy.live.driver import LiveOptions, gather
try:
    gather([sys.argv[1]], LiveOptions(forks=2, timeout=90), expected_hosts=["silent"])
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def test_ctrl_c_removes_the_private_directory(fleet: Any, tmp_path: Path) -> None:
    """A real SIGINT while Ansible waits on the silent host: the run is cancelled, the
    private directory (with the environment runner wrote) is gone, no ansible-playbook
    is left behind."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # The fleet's silent host gives up after a few seconds; here it must still be waiting
    # when the signal comes, however slow the machine: the same inventory, a longer timeout.
    doc = json.loads((fleet.inventory / "hosts.yml").read_text())
    doc["all"]["children"]["broken"]["hosts"]["silent"]["ansible_timeout"] = 60
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(json.dumps(doc))
    env = {**fleet.ansible_env, "ANSIBLE_TIMEOUT": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGINT_SCRIPT, str(inventory), str(tmp)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        private: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            private = [p for p in tmp.glob("mlflow-policy-live-*")
                       if (p / "artifacts").exists()]
            if private and _ansible_running(private[0]):
                break
            time.sleep(0.2)
        assert private, "the run never started"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "interrupted" in out, err
    assert proc.returncode == 130
    assert list(tmp.iterdir()) == []
    assert not _ansible_running(private[0]), _ansible_processes(private[0])


def _ansible_running(pdd: Path) -> bool:
    return bool(_ansible_processes(pdd))


def _ansible_processes(pdd: Path) -> list[str]:
    """Whether an Ansible process of that run lives (runner points Ansible's callback at
    the run's artifacts directory through the environment). SSH ControlPersist masters
    inherit that environment and outlive runs by design (the user's SSH settings): not
    counted."""
    needle = str(pdd).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if os.path.basename(os.readlink(entry / "exe")) == "ssh":
                    continue
                if needle in (entry / "environ").read_bytes():
                    found.append((entry / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    return found


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A result document without what differs between two runs (clock readings)."""
    facts = {k: v for k, v in doc["facts"].items() if k != "clock.offset_seconds"}
    unavailable = {k: v for k, v in doc["unavailable"].items() if k != "clock.offset_seconds"}
    return {"status": doc["status"], "facts": facts, "unavailable": unavailable,
            "withheld": doc["withheld"]}


def test_gather_playbook_with_plain_ansible_playbook(
        fleet: Any, gathered: dict[str, Any], tmp_path: Path) -> None:
    """gather-playbook's files run by a plain ansible-playbook leave per-host documents
    that read back as the same results as the runner-driven run, with no secret in them."""
    from mlflow_policy.cli import main
    from mlflow_policy.live.playbook import read_results

    gp = tmp_path / "gp"
    assert main(["gather-playbook", str(gp)]) == 0
    playbook = Path(sys.executable).with_name("ansible-playbook")
    done = subprocess.run(
        [str(playbook), "-i", str(fleet.inventory), "gather.yml", "--forks", "10",
         "-e", f"mlflow_policy_timeout={GATHER_TIMEOUT}"],
        cwd=gp, env=fleet.ansible_env, capture_output=True, text=True, timeout=600,
        check=False)
    results_dir = gp / "mlflow-policy-facts"
    files = sorted(p.name for p in results_dir.glob("*.json"))
    assert files == sorted(f"{h}.json" for h in fleet.hosts), done.stdout[-3000:]
    for secret in fleet.secrets:
        assert secret not in done.stdout + done.stderr
        for path in results_dir.iterdir():
            assert secret not in path.read_text(), path
    assert (results_dir.stat().st_mode & 0o777) == 0o700
    from_files = {r.inventory_hostname: r for r in read_results(results_dir)}
    for host, result in gathered["results"].items():
        if result.ok:
            assert _comparable(from_files[host].to_json()) == _comparable(result.to_json())
        else:
            assert from_files[host].status == result.status, from_files[host].failure
            assert from_files[host].failure == result.failure
    low, high = _bracket(from_files["client-ok"].sources["clock.offset_seconds"])
    assert low <= 0 <= high

    # -e mlflow_policy_results=DIR puts them elsewhere
    elsewhere = tmp_path / "elsewhere"
    subprocess.run(
        [str(playbook), "-i", str(fleet.inventory), "gather.yml", "--limit", "client-behind",
         "-e", f"mlflow_policy_results={elsewhere}"],
        cwd=gp, env=fleet.ansible_env, capture_output=True, text=True, timeout=600,
        check=False)
    [only] = read_results(elsewhere)
    assert only.facts["mlflow.version"] == fleet.expected["client-behind"]["mlflow.version"]
