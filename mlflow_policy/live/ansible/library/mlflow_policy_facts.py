#!/usr/bin/python
"""mlflow_policy_facts: read-only gathering of a host's observed MLflow facts.

Shipped in the mlflow-policy package and run by its gathering playbook with the host's own
MLflow interpreter (``mlflow.python``), so ``importlib.metadata`` sees that environment's
distributions and the backend store is read with that environment's own SQLAlchemy and
driver. One round trip collects every observed fact; a fact this module cannot read is
returned in ``unavailable`` with the reason, never left out.

Read-only: no file is written and no package installed; the database is read in a
read-only transaction with a statement timeout, using the credentials the server itself
uses (its command line or environment), which never appear on any command line of ours.

Stdlib only (plus Ansible's module_utils), and importable without Ansible for unit tests
(``gather()`` is the whole collector; ``main()`` is the Ansible entry point).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import sys
import time
from typing import Any

DOCUMENTATION = r"""
module: mlflow_policy_facts
short_description: Gather the observed MLflow facts of a host (read-only)
description:
  - Installed mlflow / mlflow-skinny version, Python version, the service environment
    (env file overlaid with a running mlflow server's environment), the running server's
    options, its /version and /health, the backend store's alembic revision and tables,
    and the host clock.
options:
  env_file: {type: str, default: /etc/default/mlflow}
  server_url: {type: str}
  env_names: {type: list, elements: str, default: []}
  controller_time: {type: float}
  http_timeout: {type: float, default: 3}
  db_timeout: {type: float, default: 5}
  withhold_secrets: {type: bool, default: false}
  secret_names: {type: list, elements: str, default: []}
author: mlflow-policy
"""

# Kept identical to mlflow_policy.secrets.SECRET_NAME (a test compares them).
SECRET_NAME = re.compile(
    r"(?<!NO)(?<!NO_)(?:PASSWORD|PASSWD)|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|PRIVATE_KEY"
    r"|API_KEY|APIKEY|ACCESS_KEY(?!_ID)|CONNECTION_STRING|SAS_KEY|AUTH_KEY"
    r"|(?:^|_)PASS(?:$|_)|_PWD$|^AUTHORIZATION$",
    re.IGNORECASE,
)
# The password of a URI, also when it holds '@', '/' or '#' (as mlflow_policy.secrets).
URI_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)(?!\d{1,5}(?:[/?#]|$))\S+(?=@)")
MASK = "***"

# `mlflow server` options that are facts, with the environment variable click also reads
# for each (the server's own environment decides when the command line is silent).
VALUE_OPTIONS = {
    "--backend-store-uri": ("server.backend_store_uri", "MLFLOW_BACKEND_STORE_URI"),
    "--registry-store-uri": ("server.registry_store_uri", "MLFLOW_REGISTRY_STORE_URI"),
    "--default-artifact-root": ("server.default_artifact_root", "MLFLOW_DEFAULT_ARTIFACT_ROOT"),
    "--artifacts-destination": ("server.artifacts_destination", "MLFLOW_ARTIFACTS_DESTINATION"),
    "--workers": ("server.workers", "MLFLOW_WORKERS"),
    "-w": ("server.workers", None),
    "--host": ("server.host", "MLFLOW_HOST"),
    "-h": ("server.host", None),
    "--port": ("server.port", "MLFLOW_PORT"),
    "-p": ("server.port", None),
    "--app-name": ("server.app_name", None),
}
# Options taking a value that are not facts: skipped with their value when parsing.
OTHER_VALUE_OPTIONS = frozenset({
    "--static-prefix", "--gunicorn-opts", "--waitress-opts", "--uvicorn-opts",
    "--expose-prometheus", "--allowed-hosts", "--cors-allowed-origins", "--x-frame-options",
    "--secrets-cache-ttl", "--secrets-cache-max-size",
})
INT_FACTS = frozenset({"server.workers", "server.port"})


class Gathered:
    """Facts and unavailable reasons of one host, by fact path."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}
        self.unavailable: dict[str, str] = {}
        self.sources: dict[str, str] = {}

    def set(self, path: str, value: Any, source: str) -> None:
        self.facts[path] = value
        self.sources[path] = source
        self.unavailable.pop(path, None)

    def missing(self, path: str, reason: str) -> None:
        if path not in self.facts:
            self.unavailable[path] = reason


# --- the MLflow distribution and Python ------------------------------------------------

def gather_package(out: Gathered) -> None:
    from importlib import metadata

    out.set("python.version", platform.python_version(), "sys.version")
    for dist in ("mlflow", "mlflow-skinny"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        out.set("mlflow.version", version, f"importlib.metadata: {dist}")
        out.set("mlflow.package", dist, f"importlib.metadata: {dist}")
        out.set("mlflow.extras", installed_extras(dist), f"importlib.metadata: {dist} extras")
        return
    reason = f"neither mlflow nor mlflow-skinny is installed for {sys.executable}"
    out.missing("mlflow.version", reason)
    out.missing("mlflow.package", reason)
    out.missing("mlflow.extras", reason)


def installed_extras(dist: str) -> list[str]:
    """The extras of ``dist`` whose requirements are all installed (``auth`` when Flask-WTF
    is there): what ``pip install mlflow[auth]`` left behind, read without importing it."""
    from importlib import metadata

    requires = metadata.requires(dist) or []
    extras = metadata.metadata(dist).get_all("Provides-Extra") or []
    # each requirement parsed once (two patterns), not one search per extra and requirement
    name_re = re.compile(r"[A-Za-z0-9_.\-]+")
    extra_re = re.compile(r"extra\s*==\s*[\"']([^\"']+)[\"']")
    by_extra: dict[str, list[str]] = {}
    for req in requires:
        head = name_re.match(req)
        if head is not None:
            for extra in extra_re.findall(req):
                by_extra.setdefault(extra, []).append(head.group(0))
    found: list[str] = []
    for extra in extras:
        names = by_extra.get(extra)
        if not names:
            continue
        try:
            for name in names:
                metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(extra)
    return sorted(found)


def gather_auth(out: Gathered) -> None:
    """auth.database_uri: the basic-auth config's database_uri (MLFLOW_AUTH_CONFIG_PATH, else
    the basic_auth.ini MLflow ships), read as text: never the auth database itself."""
    import configparser
    from importlib import metadata

    env = out.facts.get("env") or {}
    path = env.get("MLFLOW_AUTH_CONFIG_PATH") if isinstance(env, dict) else None
    if not path:
        dist = out.facts.get("mlflow.package")
        if not isinstance(dist, str):
            out.missing("auth.database_uri", "no MLflow distribution installed")
            return
        path = str(metadata.distribution(dist).locate_file("mlflow/server/auth/basic_auth.ini"))
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        out.missing("auth.database_uri", f"cannot read the basic-auth config {path}: "
                    f"{exc.strerror}")
        return
    except configparser.Error as exc:
        out.missing("auth.database_uri", f"the basic-auth config {path} is not an INI file "
                    f"({type(exc).__name__})")
        return
    uri = parser.get("mlflow", "database_uri", fallback=None)
    if uri is None:
        out.missing("auth.database_uri", f"no [mlflow] database_uri in {path}")
    else:
        out.set("auth.database_uri", uri, f"basic-auth config {path}")


# --- the environment: env file, then the running server's /proc/<pid>/environ ---------

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "$": "$", "`": "`"}


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile and a shell read them: comments,
    ``export``, single quotes literal, double quotes with backslash escapes."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            body, chars, i = value[1:-1], [], 0
            while i < len(body):
                if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in _ESCAPES:
                    chars.append(_ESCAPES[body[i + 1]])
                    i += 2
                else:
                    chars.append(body[i])
                    i += 1
            value = "".join(chars)
        else:
            value = re.sub(r"\s+#.*$", "", value)
        env[name] = value
    return env


def find_servers(prefix: str, proc: str = "/proc") -> list[tuple[int, list[str]]]:
    """``mlflow server`` processes run from the MLflow environment at ``prefix``: the
    python or the ``mlflow`` script on their command line lies inside it. (A host may run
    several environments; only this one's server is this fact document's server.)"""
    found = []
    try:
        pids = [int(p) for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return []
    own = os.getpid()
    for pid in pids:
        if pid == own:
            continue
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        start = server_args_start(argv)
        if start is None:
            continue
        launcher = argv[:start]
        if any(a == prefix or a.startswith(prefix.rstrip("/") + "/") for a in launcher):
            found.append((pid, argv))
    # the parent `mlflow server`, not a worker that inherited its command line
    pids_found = {p for p, _ in found}
    roots = [(p, a) for p, a in found if _ppid(p, proc) not in pids_found]
    return sorted(roots or found)


def server_args_start(argv: list[str]) -> int | None:
    """Index of the first argument after ``mlflow server`` in ``argv``, else None."""
    for i, arg in enumerate(argv[:-1]):
        is_mlflow = os.path.basename(arg) == "mlflow" or (
            arg == "mlflow" and i > 0 and argv[i - 1] == "-m")
        if is_mlflow and argv[i + 1] == "server":
            return i + 2
    return None


def _ppid(pid: int, proc: str) -> int | None:
    try:
        with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def read_environ(pid: int, proc: str = "/proc") -> dict[str, str]:
    with open(f"{proc}/{pid}/environ", "rb") as f:
        data = f.read()
    env = {}
    for item in data.split(b"\0"):
        name, sep, value = item.decode("utf-8", "replace").partition("=")
        if sep and name:
            env[name] = value
    return env


def parse_server_args(args: list[str]) -> dict[str, Any]:
    """The fact-valued options of an ``mlflow server`` command line (click syntax)."""
    facts: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in ("--serve-artifacts", "--no-serve-artifacts"):
            facts["server.serve_artifacts"] = name == "--serve-artifacts"
        elif name in VALUE_OPTIONS or name in OTHER_VALUE_OPTIONS:
            if eq:
                value = inline
            elif i + 1 < len(args):
                value = args[i + 1]
                i += 1
            else:
                break
            if name in VALUE_OPTIONS:
                facts[VALUE_OPTIONS[name][0]] = value
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and arg[:2] in VALUE_OPTIONS:
            facts[VALUE_OPTIONS[arg[:2]][0]] = arg[2:]  # -w4
        i += 1
    return facts


def _typed(path: str, value: Any) -> Any:
    if path in INT_FACTS:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def gather_environment(out: Gathered, params: dict[str, Any]) -> dict[str, Any] | None:
    """The env and server.* facts; returns the running server's parsed options (or None)."""
    env_file = params.get("env_file") or "/etc/default/mlflow"
    env: dict[str, str] = {}
    env_reasons = []
    try:
        with open(env_file, encoding="utf-8", errors="replace") as f:
            env.update(parse_env_file(f.read()))
        out.sources["env"] = f"env file {env_file}"
    except FileNotFoundError:
        env_reasons.append(f"no env file {env_file}")
    except OSError as exc:
        env_reasons.append(f"cannot read env file {env_file}: {exc.strerror}")

    prefix = os.path.dirname(os.path.dirname(sys.executable))
    servers = find_servers(prefix)
    options: dict[str, Any] | None = None
    out.set("server.running", bool(servers), f"/proc: mlflow server from {prefix}")
    if servers:
        pid, argv = servers[0]
        start = server_args_start(argv) or len(argv)
        options = parse_server_args(argv[start:])
        keep = set(params.get("env_names") or ()) | set(env)
        try:
            environ = read_environ(pid)
        except OSError as exc:
            env_reasons.append(f"cannot read /proc/{pid}/environ: {exc.strerror}")
        else:
            for name, value in environ.items():
                if name.startswith("MLFLOW_") or name in keep:
                    env[name] = value
            where = out.sources.get("env")
            out.sources["env"] = (f"{where} overlaid with " if where else "") + (
                f"/proc/{pid}/environ")
    if env or not env_reasons:
        out.facts["env"] = env
        out.sources.setdefault("env", "no env file, no running server")
    else:
        out.unavailable["env"] = "; ".join(env_reasons)

    for opt, (path, var) in VALUE_OPTIONS.items():
        if path in out.facts:
            continue
        if options is not None and path in options:
            out.set(path, _typed(path, options[path]), f"mlflow server command line {opt}")
        elif var and var in env:
            out.set(path, _typed(path, env[var]), f"environment {var}")
    for opt, (path, _var) in VALUE_OPTIONS.items():
        if path not in out.facts:
            out.missing(path, f"not on a running server's command line ({opt}) nor in its "
                              "environment" if servers else
                        "no mlflow server running from this environment, and not in the "
                        "env file")
    if options is not None and "server.serve_artifacts" in options:
        out.set("server.serve_artifacts", options["server.serve_artifacts"],
                "mlflow server command line")
    elif env.get("MLFLOW_SERVE_ARTIFACTS", "").lower() in ("true", "false", "1", "0"):
        out.set("server.serve_artifacts",
                env["MLFLOW_SERVE_ARTIFACTS"].lower() in ("true", "1"),
                "environment MLFLOW_SERVE_ARTIFACTS")
    else:
        out.missing("server.serve_artifacts", "no --serve-artifacts/--no-serve-artifacts on "
                    "a running server's command line" if servers else
                    "no mlflow server running from this environment")
    return options


# --- HTTP: /version and /health --------------------------------------------------------

def server_base_url(params: dict[str, Any], options: dict[str, Any] | None) -> str | None:
    if params.get("server_url"):
        return str(params["server_url"]).rstrip("/")
    if options is None:
        return None
    host = str(options.get("server.host") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    port = options.get("server.port") or 5000
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def gather_http(out: Gathered, params: dict[str, Any], options: dict[str, Any] | None) -> None:
    base = server_base_url(params, options)
    if base is None:
        for path in ("http.version", "http.healthy"):
            out.missing(path, "no server.url declared and no mlflow server running")
        return
    # here, not at the top: a client without a server never pays for urllib's imports
    import urllib.error
    import urllib.request

    timeout = float(params.get("http_timeout") or 3)
    for path, endpoint in (("http.version", "/version"), ("http.healthy", "/health")):
        url = base + endpoint
        shown = URI_PASSWORD.sub(lambda m: m.group("head") + MASK, url)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                body = resp.read(4096).decode("utf-8", "replace").strip()
                status = resp.status
        except urllib.error.HTTPError as exc:
            if path == "http.healthy":
                out.set(path, False, f"GET {shown}: HTTP {exc.code}")
            else:
                out.missing(path, f"GET {shown}: HTTP {exc.code}")
            continue
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            out.missing(path, f"GET {shown}: {reason}")
            continue
        if path == "http.version":
            if status == 200 and body:
                out.set(path, body, f"GET {shown}")
            else:
                out.missing(path, f"GET {shown}: HTTP {status}, empty body")
        else:
            out.set(path, status == 200 and body == "OK", f"GET {shown}")


# --- the backend store -----------------------------------------------------------------

def gather_db(out: Gathered, params: dict[str, Any]) -> None:
    uri = out.facts.get("server.backend_store_uri")
    paths = ("db.revision", "db.tables", "db.max_connections")
    if not uri:
        for path in paths:
            out.missing(path, "no backend store URI (no running server's --backend-store-uri "
                        "and no MLFLOW_BACKEND_STORE_URI)")
        return
    scheme = str(uri).split(":", 1)[0].lower()
    if "://" not in str(uri) or scheme in ("file", ""):
        for path in paths:
            out.missing(path, f"the backend store is not a database ({scheme or 'a path'})")
        return
    timeout = float(params.get("db_timeout") or 5)
    limit: int | None
    try:
        if scheme == "sqlite":
            revision, tables = read_sqlite(str(uri), timeout)
            limit = None
            out.missing("db.max_connections", "SQLite has no connection limit")
        elif scheme.split("+", 1)[0] in ("postgresql", "postgres"):
            revision, tables, limit = read_postgres(str(uri), scheme, timeout)
        else:
            revision, tables, limit = read_sqlalchemy(str(uri), scheme, timeout)
    except NoDriver as exc:
        for path in paths:
            out.missing(path, f"unavailable: no driver ({exc})")
        return
    except Exception as exc:
        msg = URI_PASSWORD.sub(lambda m: m.group("head") + MASK, str(exc).splitlines()[0]
                               if str(exc) else type(exc).__name__)
        pw = _uri_password(str(uri))
        if pw:
            msg = msg.replace(pw, MASK)
        for path in paths:
            out.missing(path, f"backend store query failed: {type(exc).__name__}: {msg}")
        return
    source = "backend store (read-only transaction)"
    out.set("db.tables", sorted(tables), source)
    if limit is not None:
        out.set("db.max_connections", limit, source + ": max_connections")
    else:
        out.missing("db.max_connections", "the database did not say its connection limit")
    if revision is None:
        out.missing("db.revision", "the backend store has no alembic_version table")
    else:
        out.set("db.revision", revision, source + ": alembic_version")


class NoDriver(Exception):
    pass


def _uri_password(uri: str) -> str | None:
    m = re.match(r"[^:]+://[^:/@]*:([^@/]+)@", uri)
    return m.group(1) if m else None


def read_sqlite(uri: str, timeout: float) -> tuple[str | None, list[str]]:
    import sqlite3

    path = uri.split(":///", 1)[1] if ":///" in uri else ""
    if not path or path == ":memory:":
        raise ValueError("no database file in the sqlite URI")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        revision = None
        if "alembic_version" in tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        return revision, tables
    finally:
        conn.close()


def read_postgres(uri: str, scheme: str, timeout: float
                  ) -> tuple[str | None, list[str], int | None]:
    """PostgreSQL with psycopg (3, else 2) directly: a fraction of SQLAlchemy's import
    time. The session is read-only and every statement bounded before the first runs."""
    try:
        import psycopg as driver  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            import psycopg2 as driver  # type: ignore[import-not-found,import-untyped,no-redef,unused-ignore]
        except ImportError:
            return read_sqlalchemy(uri, scheme, timeout)
    dsn = "postgresql://" + uri.split("://", 1)[1]  # libpq knows no "+driver" scheme
    ms = int(timeout * 1000)
    conn = driver.connect(dsn, connect_timeout=max(1, int(timeout)),
                          options=f"-c default_transaction_read_only=on "
                                  f"-c statement_timeout={ms}")
    try:
        cur = conn.cursor()
        cur.execute("SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
        tables = [r[0] for r in cur.fetchall()]
        revision = None
        if "alembic_version" in tables:
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            revision = row[0] if row else None
        cur.execute("SHOW max_connections")
        row = cur.fetchone()
        limit = int(row[0]) if row else None
        conn.rollback()
        return revision, tables, limit
    finally:
        conn.close()


def read_sqlalchemy(uri: str, scheme: str, timeout: float
                    ) -> tuple[str | None, list[str], int | None]:
    try:
        import sqlalchemy  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise NoDriver("sqlalchemy is not installed in this MLflow environment") from exc
    ms = int(timeout * 1000)
    connect_args: dict[str, Any] = {}
    if scheme.startswith("postgresql"):
        # read-only and bounded before the first statement runs
        connect_args = {"connect_timeout": max(1, int(timeout)),
                        "options": f"-c default_transaction_read_only=on "
                                   f"-c statement_timeout={ms}"}
    elif scheme.startswith("mysql"):
        connect_args = {"connect_timeout": max(1, int(timeout))}
    elif not scheme.startswith("mssql"):
        raise NoDriver(f"no read-only access known for {scheme}")
    try:
        engine = sqlalchemy.create_engine(uri, connect_args=connect_args, poolclass=getattr(
            sqlalchemy.pool, "NullPool", None))
    except ImportError as exc:  # the dialect's DBAPI module is missing
        raise NoDriver(str(exc)) from exc
    try:
        with engine.connect() as conn:
            if scheme.startswith("mysql"):
                conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
                conn.exec_driver_sql(f"SET SESSION MAX_EXECUTION_TIME={ms}")
            elif scheme.startswith("mssql"):
                conn.exec_driver_sql(f"SET LOCK_TIMEOUT {ms}")
            tables = sqlalchemy.inspect(conn).get_table_names()
            revision = None
            if "alembic_version" in tables:
                row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
                revision = row[0] if row else None
            limit = None
            if scheme.startswith("postgresql"):
                row = conn.exec_driver_sql("SHOW max_connections").first()
                limit = int(row[0]) if row else None
            elif scheme.startswith("mysql"):
                row = conn.exec_driver_sql("SELECT @@max_connections").first()
                limit = int(row[0]) if row else None
            conn.rollback()
        return revision, list(tables), limit
    finally:
        engine.dispose()


# --- secrets (gather-playbook results are files: they never hold a secret) ------------

def withhold(facts: dict[str, Any], secret_names: set[str]) -> list[str]:
    """Mask secret values in place; return the fact paths whose value was withheld."""
    withheld = []

    def secret(name: str) -> bool:
        return bool(SECRET_NAME.search(name)) or name in secret_names

    env = facts.get("env")
    if isinstance(env, dict):
        for name, value in list(env.items()):
            if secret(name):
                env[name] = MASK
                withheld.append(f"env.{name}")
            elif isinstance(value, str) and URI_PASSWORD.search(value):
                env[name] = URI_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
                withheld.append(f"env.{name}")
    for path, value in list(facts.items()):
        if path != "env" and isinstance(value, str) and URI_PASSWORD.search(value):
            facts[path] = URI_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
            withheld.append(path)
    return sorted(withheld)


# --- the whole pass --------------------------------------------------------------------

STEP_FACTS = {
    "mlflow": ("mlflow.version", "mlflow.package", "mlflow.extras", "python.version"),
    "environment": ("env", "server.running", "server.serve_artifacts",
                    *sorted({p for p, _ in VALUE_OPTIONS.values()})),
    "http": ("http.version", "http.healthy"),
    "db": ("db.revision", "db.tables", "db.max_connections"),
    "auth": ("auth.database_uri",),
}


def gather(params: dict[str, Any]) -> dict[str, Any]:
    host_time = time.time()
    out = Gathered()
    options: dict[str, Any] | None = None
    for name, paths in STEP_FACTS.items():
        try:
            if name == "mlflow":
                gather_package(out)
            elif name == "environment":
                options = gather_environment(out, params)
            elif name == "http":
                gather_http(out, params, options)
            elif name == "auth":
                gather_auth(out)
            else:
                gather_db(out, params)
        except Exception as exc:  # one broken source must not hide the others
            for path in paths:
                out.missing(path, f"gathering failed: {type(exc).__name__}: {exc}")
    withheld: list[str] = []
    if params.get("withhold_secrets"):
        withheld = withhold(out.facts, set(params.get("secret_names") or ()))
    return {
        "changed": False,
        "mlflow_policy": {
            "schema": 1,
            "facts": out.facts,
            "sources": out.sources,
            "unavailable": out.unavailable,
            "withheld": withheld,
            "host_time": host_time,
            "host_time_end": time.time(),
            "controller_time": params.get("controller_time"),
            "gather_seconds": round(time.time() - host_time, 3),
            "python": sys.executable,
        },
    }


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "env_file": {"type": "str", "default": "/etc/default/mlflow"},
            "server_url": {"type": "str"},
            "env_names": {"type": "list", "elements": "str", "default": []},
            "controller_time": {"type": "float"},
            "http_timeout": {"type": "float", "default": 3.0},
            "db_timeout": {"type": "float", "default": 5.0},
            "withhold_secrets": {"type": "bool", "default": False},
            "secret_names": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    with contextlib.suppress(Exception):
        os.umask(0o077)
    module.exit_json(**gather(dict(module.params)))


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--local-json":  # debugging aid, no Ansible
        print(json.dumps(gather({}), indent=2, default=str))
    else:
        main()
