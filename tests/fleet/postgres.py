"""A real PostgreSQL on a loopback port for the fleet, run as the ``postgres`` user.

``initdb``/``postgres`` refuse to run as root, so the cluster lives in a directory the
``postgres`` user owns (not under pytest's 0700 tmp root, which it could not traverse).
The ``mlflow`` role logs in with a password over TCP (scram), so the gather module really
uses the server's credentials; the ``postgres`` role keeps trust for the fixture's setup.

A cluster with both databases migrated is cached (keyed by the two MLflow versions) so a
rerun copies it instead of running two ``mlflow db upgrade`` again.
"""

from __future__ import annotations

import grp
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.fleet.procs import free_port, kill_tree, wait_port

ROLE = "mlflow"
# A password the tests look for in every output and artifact: it must never appear.
PASSWORD = "pg-Secret-7f3a9c"
CURRENT_DB = "mlflow_current"
BEHIND_DB = "mlflow_behind"


def bindir() -> Path | None:
    for d in [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                                              reverse=True)]:
        if (d / "postgres").is_file() and (d / "initdb").is_file():
            return d
    return None


def available() -> str | None:
    if bindir() is None:
        return "PostgreSQL binaries missing (apt-get install postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user (apt-get install postgresql)"
    return None


def _as_postgres() -> dict[str, object]:
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _chown_tree(path: Path) -> None:
    user = pwd.getpwnam("postgres")
    group = grp.getgrgid(user.pw_gid).gr_name
    shutil.chown(path, "postgres", group)
    for p in path.rglob("*"):
        shutil.chown(p, "postgres", group)


def uri(port: int, db: str, password: str = PASSWORD) -> str:
    return f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{db}"


@dataclass
class Postgres:
    port: int
    base: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        kill_tree(self.proc, timeout=20)
        shutil.rmtree(self.base, ignore_errors=True)

    def uri(self, db: str) -> str:
        return uri(self.port, db)


def _init(data: Path, log: Path) -> None:
    binaries = bindir()
    assert binaries is not None
    subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--no-sync"],
                   check=True, timeout=120, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                   **_as_postgres())  # type: ignore[call-overload]
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all postgres 127.0.0.1/32 trust\n"
        f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n")
    with (data / "postgresql.conf").open("a") as f:
        f.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 32MB\nmax_connections = 60\n"
                "password_encryption = 'scram-sha-256'\n")


def start(cache_key: str, cache_root: Path,
          migrate: dict[str, tuple[Path, str]]) -> Postgres:
    """Start the cluster; ``migrate`` maps database name -> (mlflow executable, label) of
    the MLflow whose ``mlflow db upgrade`` creates it (run only when not cached).
    ``setup_python`` runs the SQL that creates the role and databases."""
    binaries = bindir()
    assert binaries is not None
    base = Path(tempfile.mkdtemp(prefix="mlflow-policy-pg-"))
    base.chmod(0o755)
    data = base / "data"
    sock = base / "sock"
    sock.mkdir()
    log = base / "postgres.log"
    log.touch()
    cached = cache_root / f"pgdata-{cache_key}"
    fresh = not (cached / ".complete").is_file()
    if fresh:
        data.mkdir()
        _chown_tree(base)
        _init(data, log)
    else:
        shutil.copytree(cached, data, symlinks=True)
        (data / ".complete").unlink()
        (data / "postmaster.pid").unlink(missing_ok=True)
    data.chmod(0o700)
    _chown_tree(base)
    port = free_port()
    proc = subprocess.Popen(
        [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
         "-k", str(sock)],
        stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True, **_as_postgres())  # type: ignore[call-overload]
    pg = Postgres(port, base, proc)
    if not wait_port(port, 30, proc):
        pg.stop()
        raise RuntimeError(f"postgres did not start: {log.read_text(errors='replace')[-2000:]}")
    if fresh:
        try:
            _create(pg, migrate)
            _save(pg, data, cached, binaries, sock)
        except BaseException:
            pg.stop()
            raise
        # _save stopped the server cleanly to copy a consistent cluster: start again
        return start(cache_key, cache_root, migrate)
    return pg


def _sql(python: Path, port: int, statements: list[str]) -> None:
    """Run SQL as the postgres superuser with a host environment's psycopg (the fixture
    has no client binaries: /usr/local/bin ships only the server)."""
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(host='127.0.0.1', port=int(sys.argv[1]), user='postgres',"
        " dbname='postgres', autocommit=True, connect_timeout=10) as c:\n"
        "    for s in sys.argv[2:]:\n"
        "        c.execute(s)\n")
    subprocess.run([str(python), "-c", script, str(port), *statements], check=True,
                   timeout=60, capture_output=True)


def _create(pg: Postgres, migrate: dict[str, tuple[Path, str]]) -> None:
    any_mlflow = next(iter(migrate.values()))[0]
    python = any_mlflow.parent / "python"
    _sql(python, pg.port, [f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"]
         + [f"CREATE DATABASE {db} OWNER {ROLE}" for db in migrate])
    for db, (mlflow, _label) in migrate.items():
        done = subprocess.run([str(mlflow), "db", "upgrade", pg.uri(db)], timeout=600,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mlflow db upgrade of {db} failed:\n"
                               f"{done.stderr[-3000:].replace(PASSWORD, '***')}")


def _save(pg: Postgres, data: Path, cached: Path, binaries: Path, sock: Path) -> None:
    subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60",
                    "stop"], check=True, timeout=90, capture_output=True,
                   **_as_postgres())  # type: ignore[call-overload]
    pg.proc.wait(timeout=30)
    tmp = cached.with_name(cached.name + ".saving")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(data, tmp, symlinks=True)
    (tmp / "postmaster.pid").unlink(missing_ok=True)
    (tmp / ".complete").touch()
    shutil.rmtree(cached, ignore_errors=True)
    tmp.rename(cached)
    shutil.rmtree(pg.base, ignore_errors=True)
