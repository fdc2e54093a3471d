"""Process helpers for the fleet: bounded waits and killing a whole process tree.

sshd forks a child per connection that leaves the process group (setsid), and Ansible's
ControlPersist keeps such children alive after a run; ``mlflow server`` starts a uvicorn
child. Teardown therefore walks /proc for every descendant, not just the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from mlflow_policy.live.driver import proc_children


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    """Whether 127.0.0.1:port accepts within ``timeout`` (False early if ``proc`` died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def descendants(pid: int) -> list[int]:
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def kill_tree(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM the process and all its descendants, SIGKILL what is left after ``timeout``."""
    if proc.poll() is not None:
        return
    pids = [proc.pid, *descendants(proc.pid)]
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    for p in pids:
        while time.monotonic() < deadline and Path(f"/proc/{p}").exists():
            state = ""
            with contextlib.suppress(OSError):
                state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
