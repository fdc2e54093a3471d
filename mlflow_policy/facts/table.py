"""The one fact table (facts.md): every fact path, its type, the hostvar static mode reads
it from, where live mode observes it, and so in which modes it exists.

Everything that asks "does this fact exist in this mode?" (declared documents, the
``unavailable`` reasons of static runs, ``explain``, config and policy validation,
remediation's writable paths, the docs' facts reference) reads it here, not from its own
list of prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# declared: only the inventory knows it (how clients reach a server, where the env file is)
# observed: only a live run can know it (a process runs, what the database holds)
# both: declared in the inventory and observed on the host, so it can drift
# computed: derived from other facts of the same document (facts/computed.py), so it exists
#   on each side (from the declared inputs, from the observed ones) but never drifts on its
#   own and no hostvar declares it: its inputs drift
Modes = Literal["both", "declared", "observed", "identity", "computed"]


@dataclass(frozen=True, slots=True)
class Fact:
    path: str
    type: str
    modes: Modes
    hostvar: str | None  # default hostvar in static mode (None: not read from a hostvar)
    live_source: str  # where live mode reads it, for docs and explain
    # A mapping of sub-facts (``env.<NAME>``): any path below it names a fact too.
    open_mapping: bool = False

    @property
    def declared(self) -> bool:
        return self.modes in ("both", "declared", "identity", "computed")

    @property
    def observed(self) -> bool:
        return self.modes in ("both", "observed", "identity", "computed")


FACTS: tuple[Fact, ...] = (
    Fact("host", "string", "identity", None, "inventory hostname"),
    Fact("inventory", "string", "identity", None, "the inventory's name"),
    Fact("groups", "list", "identity", None, "every group of the host, all/ungrouped excluded"),
    Fact("role", "string", "identity", "mlflow_role",
         "the role hostvar, else the config's roles: table"),
    Fact("vars", "mapping", "identity", None, "every resolved hostvar", open_mapping=True),
    Fact("mlflow.version", "string", "both", "mlflow_version",
         "version of the mlflow or mlflow-skinny distribution importable by mlflow.python"),
    Fact("mlflow.package", "mlflow | mlflow-skinny", "both", "mlflow_package",
         "the distribution found"),
    Fact("mlflow.extras", "list of strings", "both", "mlflow_extras",
         "extras of the MLflow distribution whose requirements are all installed for "
         "mlflow.python (importlib.metadata), e.g. [auth] when Flask-WTF is there"),
    Fact("mlflow.schema_head", "string", "computed", None,
         "(computed) alembic head of mlflow.version in the built-in catalogue: of the "
         "declared version in static mode, of the observed one in live mode; unavailable "
         "for a version the catalogue does not know"),
    Fact("mlflow.python", "path", "declared", "mlflow_python",
         "(declared only) interpreter of the MLflow environment"),
    Fact("python.version", "string", "both", "mlflow_python_version",
         "sys.version of mlflow.python"),
    Fact("env", "mapping of strings", "both", "mlflow_env",
         "mlflow.env_file parsed as an env file, overlaid with /proc/<pid>/environ of a "
         "running mlflow server", open_mapping=True),
    Fact("mlflow.env_file", "path", "declared", "mlflow_env_file", "(declared only)"),
    Fact("server.url", "URL", "declared", "mlflow_server_url",
         "(declared only) how clients reach this server"),
    Fact("server.backend_store_uri", "URI", "both", "mlflow_backend_store_uri",
         "--backend-store-uri of the running server, else MLFLOW_BACKEND_STORE_URI"),
    Fact("server.registry_store_uri", "URI", "both", "mlflow_registry_store_uri",
         "--registry-store-uri, likewise"),
    Fact("server.default_artifact_root", "URI", "both", "mlflow_default_artifact_root",
         "--default-artifact-root, likewise"),
    Fact("server.artifacts_destination", "URI", "both", "mlflow_artifacts_destination",
         "--artifacts-destination, likewise"),
    Fact("server.serve_artifacts", "bool", "both", "mlflow_serve_artifacts",
         "--serve-artifacts / --no-serve-artifacts"),
    Fact("server.workers", "int", "both", "mlflow_workers", "--workers"),
    Fact("server.host", "string", "both", "mlflow_host", "--host"),
    Fact("server.port", "int", "both", "mlflow_port", "--port"),
    Fact("server.app_name", "string", "both", "mlflow_app_name",
         "--app-name of the running server (basic-auth, or a plugin's app)"),
    Fact("auth.database_uri", "URI", "both", "mlflow_auth_database_uri",
         "database_uri of the basic-auth config (the file MLFLOW_AUTH_CONFIG_PATH names, "
         "else the shipped basic_auth.ini: sqlite:///basic_auth.db)"),
    Fact("server.managed", "bool (default false)", "declared", "mlflow_manage_service",
         "(declared only) remediation may write systemd drop-ins and restart the service"),
    Fact("server.running", "bool", "observed", None,
         "(observed only) an mlflow server process runs"),
    Fact("http.version", "string", "observed", None, "(observed only) GET <server.url>/version"),
    Fact("http.healthy", "bool", "observed", None,
         "(observed only) GET <server.url>/health answers OK"),
    Fact("db.max_connections", "int", "both", "mlflow_db_max_connections",
         "the backend database's connection limit (PostgreSQL/MySQL max_connections, read "
         "over the server's own connection)"),
    Fact("db.revision", "string", "observed", None,
         "(observed) alembic_version.version_num in the backend store; for drift its declared "
         "value is the alembic head of the declared mlflow.version"),
    Fact("db.expected_revision", "string", "observed", None,
         "(observed only) alembic head of the observed mlflow.version"),
    Fact("db.schema_current", "bool", "observed", None,
         "(observed only) db.revision == db.expected_revision"),
    Fact("db.missing_tables", "list", "observed", None,
         "(observed only) catalogue tables of that revision missing from the backend store"),
    Fact("db.extra_tables", "list", "observed", None,
         "(observed only) backend store tables the catalogue does not know for that revision"),
    Fact("clock.offset_seconds", "number", "observed", None,
         "(observed only) host clock minus controller clock"),
)

BY_PATH: Mapping[str, Fact] = {f.path: f for f in FACTS}

# fact path -> the hostvar static mode reads it from (the config's facts: table overrides)
DEFAULT_FACT_MAPPING: Mapping[str, str] = {
    f.path: f.hostvar for f in FACTS if f.hostvar is not None
}

# The top-level segments of facts no static run can know ("db" covers db.revision...):
# a rule on one of them is skipped in static mode, never a violation.
OBSERVED_ONLY: tuple[str, ...] = tuple(dict.fromkeys(
    f.path if f.path.count(".") == 1 and any(
        g.path.startswith(f.path.split(".")[0] + ".") and g.modes != "observed" for g in FACTS)
    else f.path.split(".")[0]
    for f in FACTS if f.modes == "observed"))
# Worded to be true before live mode exists and after: no option a user could not find.
STATIC_UNAVAILABLE_REASON = "observed only: needs a live run"


def fact_for(path: str) -> Fact | None:
    """The table entry naming ``path``: itself, or an open mapping above it (``env.X``)."""
    found = BY_PATH.get(path)
    if found is not None:
        return found
    probe = path
    while "." in probe:
        probe = probe.rpartition(".")[0]
        parent = BY_PATH.get(probe)
        if parent is not None:
            return parent if parent.open_mapping else None
    return None


def is_prefix(path: str) -> bool:
    """``path`` is a group of facts (``server``, ``db``), as ``drift:`` entries may be."""
    return any(f.path.startswith(path + ".") for f in FACTS)


def known(path: str) -> bool:
    return fact_for(path) is not None or is_prefix(path)
