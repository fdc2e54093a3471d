"""``mlflow-policy remediate --apply`` as a user runs it, in a process of its own, on a host
reached with ``ansible_connection: local`` (static mode: a rule with ``remediation.set``
on the env file): without a terminal and without --yes only the check runs (exit 2, the
JSON summary says why and holds the check run's recap); on a real terminal (a pty) the
user is asked, and a "no" changes nothing (exit 1)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

TOKEN = "cli-Token-0b5e77"
POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata:
  name: cli-apply
  description: The env file of the test host points at the tracking server.
spec:
  severity: error
  rules:
    - id: tracking-uri
      title: Clients use the tracking server
      description: The test host's env file points elsewhere.
      assert:
        env.MLFLOW_TRACKING_URI: {equals: "http://tracking.example:5000"}
      remediation:
        set: {env.MLFLOW_TRACKING_URI: "http://tracking.example:5000"}
"""


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Any]:
    env_file = tmp_path / "host" / "etc" / "default" / "mlflow"
    env_file.parent.mkdir(parents=True)
    env_file.write_text(f'MLFLOW_TRACKING_URI="file:///old"\nMLFLOW_TRACKING_TOKEN="{TOKEN}"\n')
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "p.yaml").write_text(POLICY)
    inv = tmp_path / "inventories" / "lab"
    inv.mkdir(parents=True)
    (inv / "hosts.yml").write_text(json.dumps({"all": {"hosts": {"lab1": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "mlflow_python": sys.executable, "mlflow_env_file": str(env_file),
        "mlflow_env": {"MLFLOW_TRACKING_URI": "file:///old", "MLFLOW_TRACKING_TOKEN": TOKEN},
    }}}}))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"HOME": str(home), "ANSIBLE_CONFIG": str(tmp_path / "no-ansible.cfg"),
                "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "NO_COLOR": "1",
                "TMPDIR": str(tmp_path)})
    argv = [sys.executable, "-m", "mlflow_policy", "remediate", "-i", str(inv), "-p",
            str(tmp_path / "pol"), "--out", str(tmp_path / "out"), "--apply"]
    return {"argv": argv, "env": env, "env_file": env_file, "cwd": tmp_path,
            "before": env_file.read_bytes()}


def test_no_terminal_and_no_yes_stops_after_the_check(site: dict[str, Any]) -> None:
    done = subprocess.run([*site["argv"], "--format", "json"], env=site["env"],
                          cwd=site["cwd"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 2, done.stderr
    assert "pass --yes to apply without asking" in done.stderr
    assert "lab1: would change: Write the MLflow environment file" in done.stderr
    doc = json.loads(done.stdout)["apply"]
    assert doc["applied"] is False
    assert doc["stopped"] == "no-terminal"
    assert doc["hosts"] == {"lab1": {"changed": 1, "ok": 2, "failed": 0, "unreachable": 0}}
    assert site["env_file"].read_bytes() == site["before"]
    assert TOKEN not in done.stdout + done.stderr


def test_a_no_on_the_terminal_changes_nothing(site: dict[str, Any]) -> None:
    main, child = os.openpty()
    proc = subprocess.Popen(site["argv"], env=site["env"], cwd=site["cwd"], stdin=child,
                            stdout=subprocess.PIPE, stderr=child, text=False)
    os.close(child)
    seen = b""
    try:
        deadline = time.monotonic() + 600
        while b"[y/N]" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if ready:
                try:
                    seen += os.read(main, 4096)
                except OSError:  # the child is gone (EIO on the pty)
                    break
            if proc.poll() is not None and not ready:
                break
        assert b"[y/N]" in seen, seen.decode(errors="replace")
        os.write(main, b"n\n")
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        os.close(main)
    assert proc.returncode == 1
    assert b"Apply to 1 host (1 change in check mode)? [y/N]" in seen
    assert b"not applied: declined" in out
    assert b"lab1: would change: Write the MLflow environment file" in out
    assert site["env_file"].read_bytes() == site["before"]
    assert TOKEN.encode() not in out + seen
