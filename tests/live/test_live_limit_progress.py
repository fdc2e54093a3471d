"""``--limit`` and the progress bar, through the real CLI on the real test fleet.

- ``check --live --limit clients``: only the three clients are contacted (SSH's
  ControlPersist leaves one master socket per host it connected to, in a control-path
  directory of the run's own) and reported; the broken hosts outside the limit are not
  "unreachable".
- The progress bar: with stderr on a pseudo-terminal, a ``check --live`` run over the whole
  fleet draws hosts done / total, failures and elapsed seconds; with stderr on a pipe (the
  ``--limit`` run) it draws nothing.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import GATHER_TIMEOUT

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("mlflow-policy")
PACK = Path(__file__).resolve().parents[2] / "policies" / "mlflow-baseline.yaml"
RUN_LIMIT = 600  # seconds, a bound for one run on a loaded machine
BAR = re.compile(r"live: \[([#.]{24})\] (\d+)/(\d+) hosts(?:, (\d+) failed)?, (\d+\.\d)s")


def _env(fleet: Any, control: Path) -> dict[str, str]:
    env = {k: v for k, v in fleet.ansible_env.items() if k != "CI"}  # CI hides the bar
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control)
    return env


def _argv(fleet: Any, *extra: str) -> list[str]:
    return [str(CLI), "check", "--live", "-i", str(fleet.inventory), "--forks", "10",
            "--timeout", str(GATHER_TIMEOUT), "-p", str(PACK), "--rule", "mlflow-policy/*",
            "--format", "json", *extra]


@pytest.fixture(scope="module")
def limited(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("limit")
    control = work / "cp"
    control.mkdir()
    done = subprocess.run(_argv(fleet, "--limit", "clients"), cwd=work,
                          env=_env(fleet, control), capture_output=True, text=True,
                          timeout=RUN_LIMIT, check=False)
    return {"code": done.returncode, "report": json.loads(done.stdout or "{}"),
            "stderr": done.stderr, "sockets": sorted(p.name for p in control.iterdir())}


def test_limit_reports_only_the_limited_hosts(limited: dict[str, Any]) -> None:
    report = limited["report"]
    assert report, limited["stderr"]
    assert report["summary"]["hosts"] == 3, report["summary"]
    found = {(f["rule"], f["host"], f["fact"]) for f in report["findings"]}
    assert found == {("mlflow-policy/drift", "client-behind", "mlflow.version"),
                     ("mlflow-policy/drift", "client-envdrift", "env.MLFLOW_TRACKING_URI")}
    # drift is a warning: nothing unreachable outside the limit, so no error
    assert limited["code"] == 0, limited["stderr"]


def test_limit_contacts_only_the_limited_hosts(limited: dict[str, Any]) -> None:
    """One SSH master per host connected to: the three clients, not the servers."""
    assert len(limited["sockets"]) == 3, limited["sockets"]


def test_no_progress_bar_on_a_pipe(limited: dict[str, Any]) -> None:
    assert "live:" not in limited["stderr"]
    assert "\r" not in limited["stderr"]


def _run_on_a_terminal(argv: list[str], cwd: Path, env: dict[str, str]
                       ) -> tuple[int, str, bytes]:
    """Run with stderr on a pseudo-terminal (stdout to a file); what the terminal showed."""
    master, slave = os.openpty()
    out = cwd / "stdout.json"
    with out.open("wb") as stdout:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=slave)
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + RUN_LIMIT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, out.read_text(), bytes(shown)


def test_progress_bar_on_a_terminal(fleet: Any, tmp_path: Path) -> None:
    control = tmp_path / "cp"
    control.mkdir()
    code, stdout, shown = _run_on_a_terminal(_argv(fleet), tmp_path, _env(fleet, control))
    assert code == 1, shown[-2000:]  # the two broken hosts are errors
    assert json.loads(stdout)["summary"]["hosts"] == 7
    text = shown.decode("utf-8", "replace")
    bars = [m.groups() for m in BAR.finditer(text)]
    assert bars, text[-2000:]
    totals = {total for _, _, total, _, _ in bars}
    assert totals == {"7"}
    done = [int(d) for _, d, _, _, _ in bars]
    assert done == sorted(done)  # redrawn as hosts finish, never backwards
    filled, last_done, _, failures, elapsed = bars[-1]
    assert last_done == "7"
    assert filled == "#" * 24
    assert failures == "2"  # down and silent
    assert float(elapsed) > 0
    seconds = [float(e) for *_, e in bars]
    assert seconds == sorted(seconds)
    # one line redrawn in place (carriage returns, no newline), blanked at the end
    assert "\n" not in text
    assert text.count("\r") >= len(bars)
    assert text.endswith("\r")
    assert text.rsplit("live:", 1)[1].split("\r", 1)[1].strip("\r ") == ""
