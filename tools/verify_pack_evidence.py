#!/usr/bin/env python3
"""Check the baseline pack's claims about MLflow against MLflow's own wheels.

    python tools/verify_pack_evidence.py [--cache DIR] [--offline]

Each claim names a wheel, a file inside it and a regular expression that must (or must not)
match a line there. Wheels come from the catalogue generator's cache (``pip download
--no-deps``, see tools/generate_catalogue.py); nothing is installed or imported. The output
(``OK rule  wheel  file:line  text``) is the evidence column of the pack's review table;
the exit code is 1 when a claim does not hold.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_catalogue import DEFAULT_CACHE, fetch

SKINNY, FULL = "mlflow-skinny", "mlflow"
AUTH_DB = "auth-db-networked auth-db-per-backend"
KEK = "kek-passphrase-set kek-passphrase-per-backend"


@dataclass(frozen=True)
class Claim:
    rules: str  # the pack rules relying on it (space-separated ids)
    package: str
    version: str
    file: str  # path inside the wheel (a suffix is enough for dist-info files)
    pattern: str
    present: bool = True


CLAIMS: tuple[Claim, ...] = (
    # allowed hosts / CORS / middleware / X-Frame-Options (>= 3.5.0)
    Claim("server-allowed-hosts", SKINNY, "3.17.2", "mlflow/server/security_utils.py",
          r"fnmatch\.fnmatch\(host, allowed\) if \"\*\" in allowed else host == allowed"),
    Claim("server-allowed-hosts", SKINNY, "3.17.2", "mlflow/server/security_utils.py",
          r"def get_default_allowed_hosts"),
    Claim("server-allowed-hosts", SKINNY, "3.5.0", "mlflow/server/security_utils.py",
          r"def is_allowed_host_header"),
    Claim("server-allowed-hosts", SKINNY, "3.3.0", "mlflow/server/security_utils.py",
          r".", present=False),
    Claim("server-no-wildcard-hosts", SKINNY, "3.17.2", "mlflow/server/security_utils.py",
          r'if "\*" in allowed_hosts:'),
    Claim("server-cors-explicit", SKINNY, "3.17.2", "mlflow/server/security_utils.py",
          r'if "\*" in allowed_origins:'),
    Claim("server-security-middleware-on", SKINNY, "3.17.2", "mlflow/server/security.py",
          r'MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE\.get\(\) == "true"'),
    Claim("server-security-middleware-on", SKINNY, "3.17.2", "mlflow/server/fastapi_security.py",
          r'MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE\.get\(\) == "true"'),
    Claim("server-x-frame-options", SKINNY, "3.17.2", "mlflow/server/security.py",
          r'x_frame_options\.upper\(\) != "NONE"'),
    # basic auth
    Claim("basic-auth-secret-key", SKINNY, "3.17.2", "mlflow/server/auth/__init__.py",
          r"A static secret key needs to be set for CSRF protection"),
    Claim("basic-auth-secret-key", SKINNY, "2.20.2", "mlflow/environment_variables.py",
          r"MLFLOW_FLASK_SERVER_SECRET_KEY = "),
    Claim("basic-auth-extra-installed", SKINNY, "3.17.2", "mlflow/server/auth/__init__.py",
          r"requires the Flask-WTF package"),
    Claim("basic-auth-extra-installed", FULL, "3.18.0", ".dist-info/METADATA",
          r'^Requires-Dist: Flask-WTF<2; extra == "auth"'),
    Claim("basic-auth-admin-password", SKINNY, "2.20.2", "mlflow/server/auth/basic_auth.ini",
          r"^admin_password = password$"),
    Claim("basic-auth-admin-password", SKINNY, "3.16.0", "mlflow/server/auth/basic_auth.ini",
          r"^admin_password = password1234$"),
    Claim("basic-auth-admin-password", SKINNY, "3.16.1", "mlflow/server/auth/basic_auth.ini",
          r"^admin_password =", present=False),
    Claim("basic-auth-admin-password", SKINNY, "3.16.1", "mlflow/environment_variables.py",
          r"MLFLOW_AUTH_ADMIN_PASSWORD = "),
    Claim(AUTH_DB, SKINNY, "3.17.2", "mlflow/server/auth/basic_auth.ini",
          r"^database_uri = sqlite:///basic_auth\.db"),
    Claim("graphql-auth-on", SKINNY, "3.17.2", "mlflow/environment_variables.py",
          r'"MLFLOW_SERVER_ENABLE_GRAPHQL_AUTH", True'),
    Claim("auth-fail-closed", SKINNY, "3.17.2", "mlflow/environment_variables.py",
          r'_BooleanEnvironmentVariable\("MLFLOW_BASIC_AUTH_FAIL_CLOSED", True\)'),
    # secrets shared by replicas
    Claim("webhook-key-set webhook-key-per-backend", SKINNY, "3.17.2",
          "mlflow/store/model_registry/dbmodels/models.py",
          r"MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY\.get\(\) or Fernet\.generate_key\(\)"),
    Claim(KEK, SKINNY, "3.17.2", "mlflow/utils/crypto.py",
          r'DEFAULT_KEK_PASSPHRASE = "mlflow-default-kek-passphrase-for-development-only"'),
    Claim(KEK, SKINNY, "3.17.2", "mlflow/utils/crypto.py",
          r"os\.environ\.get\(CRYPTO_KEK_PASSPHRASE_ENV_VAR\)"),
    # storage
    Claim("s3-tls-verified", SKINNY, "3.17.2", "mlflow/store/artifact/s3_artifact_repo.py",
          r"do_verify = not MLFLOW_S3_IGNORE_TLS\.get\(\)"),
    Claim("db-pool-sized db-connections-fit db-connections-fit-backend", SKINNY, "3.17.2",
          "mlflow/store/db/utils.py", r"if pool_max_overflow:"),
    Claim("db-pool-sized db-connections-fit db-connections-fit-backend", SKINNY, "3.17.2",
          "mlflow/store/db/utils.py", r"if pool_size:"),
    # 3.3.0 made uvicorn (a FastAPI app) the default; gunicorn serves the Flask app only,
    # without the routers the FastAPI app mounts
    Claim("server-uvicorn", SKINNY, "3.3.0", "mlflow/server/__init__.py",
          r"instead of '--gunicorn-opts'"),
    Claim("server-uvicorn", SKINNY, "3.2.0", "mlflow/server/__init__.py",
          r"instead of '--gunicorn-opts'", present=False),
    Claim("server-uvicorn", SKINNY, "3.17.2", "mlflow/cli/__init__.py",
          r"using_flask_only = gunicorn_opts is not None"),
    Claim("server-uvicorn", SKINNY, "3.17.2", "mlflow/server/__init__.py",
          r'app = "mlflow\.server\.fastapi_app:app" if using_uvicorn else f"\{__name__\}:app"'),
    Claim("server-uvicorn", SKINNY, "3.3.0", "mlflow/server/fastapi_app.py",
          r"include_router\(otel_router", present=False),
    Claim("server-uvicorn", SKINNY, "3.5.0", "mlflow/server/fastapi_app.py",
          r"fastapi_app\.include_router\(otel_router"),
    Claim("server-uvicorn", SKINNY, "3.17.2", "mlflow/server/fastapi_app.py",
          r"fastapi_app\.include_router\(otel_router"),
    Claim("server-uvicorn", SKINNY, "3.17.2", "mlflow/server/fastapi_app.py",
          r"fastapi_app\.include_router\(job_api_router"),
    # uvicorn (the 3.x default) runs 4 workers unless --workers says otherwise
    Claim("db-connections-fit db-connections-fit-backend", SKINNY, "3.17.2",
          "mlflow/server/__init__.py", r"uvicorn_opts, host, port, workers or 4, app"),
    # a server refuses a database at any other alembic revision than its own head, older
    # or newer: what must agree across a backend's replicas is the head (and what the
    # built-in mlflow-policy/schema-migration of pull-request mode relies on)
    Claim("one-version-per-backend", SKINNY, "3.17.2",
          "mlflow/store/db/utils.py", r"if current_rev != head_revision:"),
    Claim("one-version-per-backend", SKINNY, "3.17.2",
          "mlflow/store/db/utils.py", r"Detected out-of-date database schema"),
    Claim("one-version-per-backend", SKINNY, "2.22.5",
          "mlflow/store/db/utils.py", r"if current_rev != head_revision:"),
    Claim("serve-artifacts-proxied-root", SKINNY, "3.17.2", "mlflow/utils/server_cli_utils.py",
          r"def resolve_default_artifact_root"),
    Claim("artifact-root-remote", SKINNY, "3.17.2", "mlflow/utils/server_cli_utils.py",
          r"default_artifact_root = DEFAULT_ARTIFACTS_URI"),
    # clients
    Claim("client-retry-limits", SKINNY, "3.17.2", "mlflow/environment_variables.py",
          r'"_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT", int, 10'),
    Claim("client-retry-limits", SKINNY, "3.17.2", "mlflow/environment_variables.py",
          r'"_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT", int, 120'),
    Claim("client-retry-limits", SKINNY, "3.17.2", "mlflow/utils/rest_utils.py",
          r"if max_retries > max_retry_limit:"),
    Claim("client-retry-limits", SKINNY, "3.17.2", "mlflow/utils/rest_utils.py",
          r"if backoff_factor > max_backoff_factor_limit:"),
    # packages
    Claim("supported-python", SKINNY, "3.17.2", ".dist-info/METADATA",
          r"^Requires-Python: >=3\.10$"),
    Claim("supported-python", SKINNY, "3.3.0", ".dist-info/METADATA",
          r"^Requires-Python: >=3\.10$"),
    Claim("supported-python", SKINNY, "3.2.0", ".dist-info/METADATA",
          r"^Requires-Python: >=3\.10$"),
    Claim("supported-python", SKINNY, "3.1.4", ".dist-info/METADATA",
          r"^Requires-Python: >=3\.9$"),
    Claim("supported-python", SKINNY, "2.22.5", ".dist-info/METADATA",
          r"^Requires-Python: >=3\.9$"),
    Claim("server-full-package", FULL, "3.18.0", ".dist-info/METADATA",
          r"^Requires-Dist: alembic"),
    Claim("server-full-package", SKINNY, "3.17.2", ".dist-info/METADATA",
          r"^Requires-Dist: alembic", present=False),
    # advisories written by this project (tools/advisories/verified/)
    Claim("server-not-vulnerable", SKINNY, "3.3.0", "mlflow/server/security_utils.py", r".",
          present=False),  # CVE-2025-14279: no Host/Origin checks before 3.5.0
    Claim("server-not-vulnerable", SKINNY, "3.16.0", "mlflow/server/auth/basic_auth.ini",
          r"^admin_password = password1234$"),  # CVE-2026-2635, fixed in 3.16.1 (above)
    Claim("client-not-vulnerable", SKINNY, "3.10.0", "mlflow/utils/file_utils.py",
          r"os\.chmod\(tmp_nfs_dir, 0o777\)"),  # CVE-2026-4137
    Claim("client-not-vulnerable", SKINNY, "3.11.0", "mlflow/utils/file_utils.py",
          r"os\.chmod\(tmp_nfs_dir, 0o750\)"),
    Claim("client-not-vulnerable", SKINNY, "3.11.0", "mlflow/utils/file_utils.py",
          r"0o777\)", present=False),
    # telemetry
    Claim("otel-endpoint", SKINNY, "3.17.2", "mlflow/tracing/utils/otlp.py",
          r"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
    Claim("otel-endpoint", SKINNY, "3.17.2", "mlflow/tracing/utils/otlp.py",
          r'def _get_otlp_protocol\(default_value: str = "grpc"\)'),
    Claim("otel-dual-export", SKINNY, "3.17.2", "mlflow/tracing/provider.py",
          r"should_use_otlp_exporter\(\) and MLFLOW_TRACE_ENABLE_OTLP_DUAL_EXPORT\.get\(\)"),
)


def _lines(zf: zipfile.ZipFile, file: str) -> tuple[str, list[str]] | None:
    names = [n for n in zf.namelist() if n == file or (file.startswith(".") and n.endswith(file))]
    if not names:
        return None
    return names[0], zf.read(names[0]).decode("utf-8", "replace").splitlines()


def verify(claim: Claim, cache: Path, offline: bool) -> tuple[bool, str]:
    wheel = fetch(cache, claim.package, claim.version, offline)
    with zipfile.ZipFile(wheel) as zf:
        found = _lines(zf, claim.file)
    label = f"{claim.package}-{claim.version}"
    if found is None:
        return (not claim.present), f"{label}  {claim.file}: (no such file)"
    name, lines = found
    rx = re.compile(claim.pattern)
    hits = [(i, line) for i, line in enumerate(lines, 1) if rx.search(line)]
    if claim.present and hits:
        i, line = hits[0]
        return True, f"{label}  {name}:{i}  {line.strip()[:110]}"
    if not claim.present and not hits:
        return True, f"{label}  {name}: no line matches {claim.pattern!r}"
    where = f"{name}:{hits[0][0]}" if hits else name
    return False, f"{label}  {where}: expected {'a' if claim.present else 'no'} match"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--offline", action="store_true", help="use cached wheels only")
    args = ap.parse_args(argv)
    failed = 0
    for claim in CLAIMS:
        ok, text = verify(claim, args.cache, args.offline)
        failed += not ok
        print(f"{'OK  ' if ok else 'FAIL'} {claim.rules:32} {text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
