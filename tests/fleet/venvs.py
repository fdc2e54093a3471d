"""Python virtualenvs of the test fleet, cached between runs keyed by what they hold.

A full ``mlflow`` environment is ~870 MB and a minute of pip; ``mlflow-skinny`` ~140 MB.
Each is built once under ``$MLFLOW_POLICY_FLEET_CACHE`` (default
``~/.cache/mlflow-policy-fleet``) into a temporary directory and renamed into place when
pip succeeded, so an interrupted build never leaves a half environment that a later run
would trust. A lock file serialises two test runs building the same environment.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The fleet's versions: the newest mlflow-skinny on the index, and an older release
# whose database schema is behind it (alembic 6f8d9c3b2a1e vs dc11669786a5).
CURRENT = "3.17.2"
BEHIND = "3.15.2"
# seconds for one pip install: ~1-2 min cold on an idle machine, far more under load
INSTALL_TIMEOUT = 2400


@dataclass(frozen=True)
class VenvSpec:
    """One environment: its cache key and the requirements pip installs into it."""

    key: str
    requirements: tuple[str, ...]


SKINNY_CURRENT = VenvSpec(f"skinny-{CURRENT}", (f"mlflow-skinny=={CURRENT}",))
SKINNY_BEHIND = VenvSpec(f"skinny-{BEHIND}", (f"mlflow-skinny=={BEHIND}",))
# SQLAlchemy 2.1 maps postgresql:// to psycopg 3: servers need psycopg[binary].
FULL_CURRENT = VenvSpec(f"full-{CURRENT}", (f"mlflow=={CURRENT}", "psycopg[binary]"))
FULL_BEHIND = VenvSpec(f"full-{BEHIND}", (f"mlflow=={BEHIND}", "psycopg[binary]"))
ALL = (SKINNY_CURRENT, SKINNY_BEHIND, FULL_CURRENT, FULL_BEHIND)


def cache_root() -> Path:
    env = os.environ.get("MLFLOW_POLICY_FLEET_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "mlflow-policy-fleet"
    root.mkdir(parents=True, exist_ok=True)
    return root


def base_python() -> str:
    """A plain interpreter to create environments from (not the test venv's own python,
    whose site-packages must not leak into a host's environment)."""
    return getattr(sys, "_base_executable", sys.executable) or sys.executable


def ensure(spec: VenvSpec, log: Path | None = None) -> Path:
    """The environment's directory, built first when the cache lacks it."""
    root = cache_root()
    final = root / spec.key
    marker = final / ".complete"
    if marker.is_file():
        return final
    with (root / f"{spec.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file():
            return final
        building = root / f"{spec.key}.building"
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        out = log.open("ab") if log else subprocess.DEVNULL
        try:
            # no ensurepip in the new environment (slow): this interpreter's pip installs
            # into it (pip >= 22.3, --python)
            subprocess.run([base_python(), "-m", "venv", "--without-pip", str(building)],
                           check=True, stdout=out, stderr=out, timeout=300)
            # The environment is later reached through per-host symlinks, so the console
            # scripts' shebangs name this final path, not the temporary one: build in place.
            building.rename(final)
            subprocess.run(
                [sys.executable, "-m", "pip", "--python", str(final / "bin" / "python"),
                 "install", "-q", "--disable-pip-version-check", *spec.requirements],
                check=True, stdout=out, stderr=out, timeout=INSTALL_TIMEOUT)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            shutil.rmtree(building, ignore_errors=True)
            raise
        finally:
            if log and not isinstance(out, int):
                out.close()
        marker.write_text(" ".join(spec.requirements) + "\n")
    return final


if __name__ == "__main__":  # prebuild: python -m tests.fleet.venvs
    for s in ALL:
        print(s.key, ensure(s), flush=True)
