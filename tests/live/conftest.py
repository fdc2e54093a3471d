"""The live test fleet as a session fixture: started by the first test that needs it, torn
down after the session (see tests/fleet/fleet.py for what it holds).

Without sshd or PostgreSQL (or when the MLflow environments cannot be installed) the
fleet's tests skip, except under MLFLOW_POLICY_REQUIRE_ALL=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import skip_or_fail

# Per host, only a bound against hangs: on a loaded 2-core machine five hosts gathered at
# once take 15-20 s each. The silent host times out sooner, by its own connection timeout
# in the inventory (ansible_timeout), as a user's inventory may set it.
GATHER_TIMEOUT = 90


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.fleet import fleet as fleet_mod

    reason = fleet_mod.missing_services()
    if reason:
        skip_or_fail(reason)
    base = tmp_path_factory.mktemp("fleet")
    try:
        built = fleet_mod.build(base, log=base / "build.log")
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        log = base / "build.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        skip_or_fail(f"the live fleet could not start: {exc}\n{tail}")
        raise  # unreachable: skip_or_fail raises
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture
def ansible_env(fleet: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The fleet's clean Ansible environment (no ANSIBLE_* of the caller, private HOME),
    and a working directory without an ansible.cfg."""
    for name in list(os.environ):
        if name.startswith("ANSIBLE_"):
            monkeypatch.delenv(name)
    for name, value in fleet.ansible_env.items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work
