"""The live test fleet: loopback hosts reached over real SSH, with real MLflow installs, a
real PostgreSQL and a real ``mlflow server``, started by the tests and torn down after.

Hosts (all on 127.0.0.1, one sshd each, each with its own root directory):

- ``client-ok``       mlflow-skinny CURRENT, env file as declared
- ``client-behind``   mlflow-skinny BEHIND, declared CURRENT          -> mlflow.version drift
- ``client-envdrift`` mlflow-skinny CURRENT, env file's MLFLOW_TRACKING_URI differs
                      from the inventory                              -> env drift
- ``server-live``     full mlflow CURRENT, a running ``mlflow server --workers 1`` on the
                      current database, declared ``mlflow_workers: 2`` -> server.workers drift
- ``server-dbbehind`` full mlflow CURRENT, no server running (never start one on the behind
                      database: it would migrate it), env file points at the database
                      migrated by BEHIND                               -> db.revision behind
- ``down``            nothing listens on its port                      -> unreachable
- ``silent``          accepts TCP and never sends an SSH banner        -> timed out

``expected`` holds, per host, the observed values the tests assert. Secrets seeded in env
files and in the server's environment are listed in ``secrets``: they must never appear in
any output or artifact.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fleet import postgres, sshd, venvs
from tests.fleet.procs import free_port, kill_tree, wait_port

CLIENT_TOKEN = "client-Token-41c8e2"
SERVER_SECRET = "server-Secret-9b7d15"
SILENT_TIMEOUT = 5  # the silent host's connection timeout (seconds, in the inventory)
START_TIMEOUT = 300  # seconds for mlflow server to answer /health (slow under load)


class SilentListener:
    """Accepts connections and never answers: an SSH client waits for a banner.

    The kernel completes the TCP handshake of a connection waiting in the listen backlog,
    so nothing has to accept(): no thread, which would keep every later test of the
    session in one process (parallel.py does not fork while another thread runs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]

    def stop(self) -> None:
        self.sock.close()


@dataclass
class Host:
    name: str
    port: int
    root: Path | None = None  # None for the broken hosts
    python: Path | None = None
    env_file: Path | None = None
    hostvars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fleet:
    base: Path
    inventory: Path
    key: Path
    hosts: dict[str, Host]
    expected: dict[str, dict[str, Any]]
    failing: dict[str, str]  # host -> what its failure reason must mention
    secrets: tuple[str, ...]
    pg_port: int
    server_port: int
    ansible_env: dict[str, str]
    _stops: list[Any] = field(default_factory=list)

    @property
    def reachable(self) -> list[str]:
        return [n for n in self.hosts if n not in self.failing]

    def roots(self) -> dict[str, Path]:
        return {n: h.root for n, h in self.hosts.items() if h.root is not None}

    def stop(self) -> None:
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception as exc:  # teardown goes on: report, never hide the others
                print(f"fleet teardown: {exc}", file=sys.stderr)
        self._stops.clear()


def missing_services() -> str | None:
    return sshd.available() or postgres.available()


def _write_env(path: Path, env: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# managed by the fleet fixture\n" + "".join(
        f"{k}={json.dumps(v)}\n" for k, v in env.items()))


def _base_python() -> Path:
    return Path(os.path.realpath(venvs.base_python()))


def _python_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def build(base: Path, log: Path | None = None) -> Fleet:
    """Stand the fleet up under ``base``; call ``Fleet.stop`` to tear it down (also done
    here when building fails half way)."""
    base.mkdir(parents=True, exist_ok=True)
    stops: list[Any] = []
    try:
        return _build(base, log, stops)
    except BaseException:
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:
                print(f"fleet teardown: {exc}", file=sys.stderr)
        raise


def _build(base: Path, log: Path | None, stops: list[Any]) -> Fleet:
    t0 = time.monotonic()
    skinny_cur = venvs.ensure(venvs.SKINNY_CURRENT, log)
    skinny_old = venvs.ensure(venvs.SKINNY_BEHIND, log)
    full_cur = venvs.ensure(venvs.FULL_CURRENT, log)
    full_old = venvs.ensure(venvs.FULL_BEHIND, log)
    t_venvs = time.monotonic() - t0

    pg = postgres.start(
        f"{venvs.CURRENT}-{venvs.BEHIND}-v1", venvs.cache_root(),
        {postgres.CURRENT_DB: (full_cur / "bin" / "mlflow", venvs.CURRENT),
         postgres.BEHIND_DB: (full_old / "bin" / "mlflow", venvs.BEHIND)})
    stops.append(pg.stop)

    keys = base / "keys"
    keys.mkdir()
    keys.chmod(0o700)
    client_key = sshd.keygen(keys / "id_ed25519")
    host_key = sshd.keygen(keys / "host_ed25519")
    authorized = keys / "authorized_keys"
    shutil.copy(client_key.with_suffix(".pub"), authorized)

    server_port = free_port()
    tracking = f"http://127.0.0.1:{server_port}"
    base_py = _base_python()
    layout: dict[str, tuple[Path, dict[str, str]]] = {
        "client-ok": (skinny_cur, {"MLFLOW_TRACKING_URI": tracking,
                                   "MLFLOW_TRACKING_TOKEN": CLIENT_TOKEN}),
        "client-behind": (skinny_old, {"MLFLOW_TRACKING_URI": tracking}),
        "client-envdrift": (skinny_cur, {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1/old"}),
        "server-live": (full_cur, {"MLFLOW_FLASK_SERVER_SECRET_KEY": SERVER_SECRET}),
        "server-dbbehind": (full_cur, {
            "MLFLOW_BACKEND_STORE_URI": pg.uri(postgres.BEHIND_DB)}),
    }
    hosts: dict[str, Host] = {}
    for name, (venv, env) in layout.items():
        root = base / "hosts" / name / "root"
        venv_link = root / "opt" / "mlflow" / "venv"
        venv_link.parent.mkdir(parents=True)
        venv_link.symlink_to(venv)
        env_file = root / "etc" / "default" / "mlflow"
        _write_env(env_file, env)
        daemon = sshd.start(name, base / "hosts" / name / "sshd", host_key, authorized)
        stops.append(daemon.stop)
        hosts[name] = Host(name, daemon.port, root, venv_link / "bin" / "python", env_file)

    py_version = _python_version(hosts["client-ok"].python)  # type: ignore[arg-type]
    for name, host in hosts.items():
        declared_env = dict(layout[name][1])
        if name == "client-envdrift":
            declared_env["MLFLOW_TRACKING_URI"] = tracking  # what the inventory says
        host.hostvars = {
            "mlflow_version": venvs.CURRENT,
            "mlflow_package": "mlflow" if name.startswith("server") else "mlflow-skinny",
            "mlflow_python": str(host.python),
            "mlflow_python_version": py_version,
            "mlflow_env_file": str(host.env_file),
            "mlflow_env": declared_env,
        }

    # the running server, as systemd would start it: env file in its environment
    srv = hosts["server-live"]
    assert srv.root is not None
    artifacts = srv.root / "var" / "lib" / "mlflow" / "artifacts"
    artifacts.mkdir(parents=True)
    backend = pg.uri(postgres.CURRENT_DB)
    # HOME outside the host root, no .pyc writes: the root changes only if gathering writes
    server_home = base / "hosts" / "server-live" / "home"
    server_home.mkdir()
    server_env = {"PATH": "/usr/bin:/bin", "HOME": str(server_home), "LANG": "C.UTF-8",
                  "PYTHONDONTWRITEBYTECODE": "1", **layout["server-live"][1]}
    server_log = base / "hosts" / "server-live" / "mlflow-server.log"
    server = subprocess.Popen(
        [str(srv.root / "opt" / "mlflow" / "venv" / "bin" / "mlflow"), "server",
         "--backend-store-uri", backend, "--artifacts-destination", str(artifacts),
         "--host", "127.0.0.1", "--port", str(server_port), "--workers", "1"],
        cwd=str(base / "hosts" / "server-live"), env=server_env, stdin=subprocess.DEVNULL,
        stdout=server_log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    stops.append(lambda: kill_tree(server, timeout=15))
    srv.hostvars.update({
        "mlflow_role": "server",
        "mlflow_backend_store_uri": backend,
        "mlflow_artifacts_destination": str(artifacts),
        "mlflow_host": "127.0.0.1",
        "mlflow_port": server_port,
        "mlflow_workers": 2,  # seeded drift: it runs with --workers 1
        "mlflow_server_url": tracking,
    })
    hosts["server-dbbehind"].hostvars.update({
        "mlflow_role": "server",
        "mlflow_backend_store_uri": pg.uri(postgres.BEHIND_DB),
    })
    for name in ("client-ok", "client-behind", "client-envdrift"):
        hosts[name].hostvars["mlflow_role"] = "client"

    # the broken hosts
    down_port = free_port()
    hosts["down"] = Host("down", down_port, hostvars={"mlflow_version": venvs.CURRENT})
    silent = SilentListener()
    stops.append(silent.stop)
    hosts["silent"] = Host("silent", silent.port, hostvars={
        "mlflow_version": venvs.CURRENT, "ansible_timeout": SILENT_TIMEOUT})

    inventory = base / "inventory"
    inventory.mkdir()
    groups = {
        "clients": [n for n in hosts if n.startswith("client")],
        "servers": [n for n in hosts if n.startswith("server")],
        "broken": ["down", "silent"],
    }
    doc = {"all": {
        "vars": {
            "ansible_host": "127.0.0.1",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(client_key),
            "ansible_ssh_common_args":
                "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": str(base_py),
        },
        "children": {g: {"hosts": {n: {"ansible_port": hosts[n].port, **hosts[n].hostvars}
                                   for n in members}} for g, members in groups.items()},
    }}
    (inventory / "hosts.yml").write_text(json.dumps(doc, indent=2))

    if not wait_port(server_port, START_TIMEOUT, server) or not _healthy(tracking):
        raise RuntimeError("mlflow server did not become healthy: "
                           + server_log.read_text(errors="replace")[-3000:]
                           .replace(postgres.PASSWORD, "***"))

    expected = {
        "client-ok": {"mlflow.version": venvs.CURRENT, "mlflow.package": "mlflow-skinny",
                      "python.version": py_version, "server.running": False,
                      "env": layout["client-ok"][1]},
        "client-behind": {"mlflow.version": venvs.BEHIND, "mlflow.package": "mlflow-skinny",
                          "env": layout["client-behind"][1], "server.running": False},
        "client-envdrift": {"mlflow.version": venvs.CURRENT,
                            "env": {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1/old"}},
        "server-live": {"mlflow.version": venvs.CURRENT, "mlflow.package": "mlflow",
                        "server.running": True, "server.workers": 1,
                        "server.port": server_port, "server.host": "127.0.0.1",
                        "server.backend_store_uri": backend,
                        "server.artifacts_destination": str(artifacts),
                        "http.version": venvs.CURRENT, "http.healthy": True,
                        "db.revision": "dc11669786a5",
                        "env": layout["server-live"][1]},
        "server-dbbehind": {"mlflow.version": venvs.CURRENT, "mlflow.package": "mlflow",
                            "server.running": False,
                            "server.backend_store_uri": pg.uri(postgres.BEHIND_DB),
                            "db.revision": "6f8d9c3b2a1e"},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    home = base / "home"
    home.mkdir()
    env.update({"HOME": str(home), "ANSIBLE_CONFIG": str(base / "no-ansible.cfg"),
                "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "ANSIBLE_NOCOLOR": "1"})
    fleet = Fleet(
        base=base, inventory=inventory, key=client_key, hosts=hosts, expected=expected,
        failing={"down": "Connection refused", "silent": "timed out"},
        secrets=(postgres.PASSWORD, CLIENT_TOKEN, SERVER_SECRET),
        pg_port=pg.port, server_port=server_port, ansible_env=env, _stops=stops)
    print(f"fleet up in {time.monotonic() - t0:.1f}s (virtualenvs {t_venvs:.1f}s)",
          file=sys.stderr)
    return fleet


def _healthy(url: str) -> bool:
    import urllib.request

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.read().strip() == b"OK":
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


if __name__ == "__main__":  # stand the fleet up by hand: python -m tests.fleet.fleet
    where = Path(tempfile.mkdtemp(prefix="mlflow-policy-fleet-"))
    fl = build(where)
    print(json.dumps({"inventory": str(fl.inventory), "env_HOME": fl.ansible_env["HOME"]}))
    try:
        input("fleet is up; press Enter to stop\n")
    finally:
        fl.stop()
