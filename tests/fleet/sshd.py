"""One sshd per fleet host on 127.0.0.1, key-only, started by the tests.

Needs openssh-server's binary, not its service: ``.ci/run`` installs the package with a
policy-rc.d that keeps apt from starting a system sshd.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.fleet.procs import free_port, kill_tree, wait_port

SSHD = "/usr/sbin/sshd"
SFTP = "/usr/lib/openssh/sftp-server"


def available() -> str | None:
    """None when sshd and ssh-keygen are there, else the reason."""
    if not Path(SSHD).is_file():
        return f"{SSHD} is missing (apt-get install openssh-server)"
    if shutil.which("ssh-keygen") is None or shutil.which("ssh") is None:
        return "ssh / ssh-keygen are missing (apt-get install openssh-client)"
    return None


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet",
                    "-f", str(path)], check=True, timeout=30)
    path.chmod(0o600)
    return path


@dataclass
class Sshd:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        kill_tree(self.proc)


def start(name: str, workdir: Path, host_key: Path, authorized_keys: Path) -> Sshd:
    """A hand-started ``sshd -D`` for one host, its config, pid file and log in ``workdir``."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "sshd_config"
    log = workdir / "sshd.log"
    config.write_text("\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {workdir / 'sshd.pid'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # host roots live under /tmp (world-writable): StrictModes would refuse them
        "StrictModes no",
        "MaxStartups 100:30:200",
        "MaxSessions 100",
        f"Subsystem sftp {SFTP}",
        "LogLevel ERROR",
        "",
    ]))
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    if not wait_port(port, 15, proc):
        kill_tree(proc)
        raise RuntimeError(f"sshd for {name} did not listen on {port}: "
                           f"{log.read_text(errors='replace') if log.exists() else ''}")
    return Sshd(name, port, proc, log)
