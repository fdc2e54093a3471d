"""The shipped MLflow catalogue against the reference facts, its API, and its generator.

The generator itself is not run here (it downloads ~100 wheels); its pure parsing functions
run on a tiny synthetic wheel instead, and the shipped JSON is compared with the reference
facts gathered independently from the same wheels.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from mlflow_policy import catalogue
from tests.support import load_tool

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "mlflow"  # vendored: see tests/reference/README.md
CATALOGUE_DIR = ROOT / "mlflow_policy" / "catalogue"

# Intentional differences from the reference, with the reason (see the report / docstrings).
NOT_CATALOGUED = {
    # prometheus_client's own variable; MLflow only sets it for the exporter. Not an MLflow
    # name, and the catalogue lists only *MLFLOW* names MLflow reads.
    "prometheus_multiproc_dir": "not an MLflow variable",
}
# The reference's "first seen" is a plain text search, so it counts a Python identifier of
# the same name; the catalogue counts a string literal, i.e. the name as an env var.
FIRST_SEEN_AS_ENV_VAR = {
    # 2.11.0 had the Python name MLFLOW_CONFIGURE_LOGGING reading the env var
    # MLFLOW_LOGGING_CONFIGURE_LOGGING; the env var MLFLOW_CONFIGURE_LOGGING arrived in 2.22.1.
    "MLFLOW_CONFIGURE_LOGGING": "2.22.1",
    # A plain constant (300) in mlflow/gateway/constants.py until 3.14.0 made it an env var.
    "MLFLOW_GATEWAY_ROUTE_TIMEOUT_SECONDS": "3.14.0",
}
# Every URL-valued variable may carry user:password@ (userinfo is legal in any URL); the
# reference only flags the ones usually pointed at credentialed services. Masking the
# password part of a URL that has none changes nothing, so over-flagging is harmless.
URL_SUFFIXES = ("_URI", "_URL")


@pytest.fixture(scope="module")
def ref() -> Path:
    return REF


def read_tsv(path: Path) -> list[list[str]]:
    """Rows without the header line and `#` comments; quotes are kept as written."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if r]
    rows = [r for r in rows if not r[0].startswith("#")]
    return rows[1:]


def _version(v: str) -> str:
    # The reference writes "<=2.0.0" for "already in the oldest wheel (2.0.0)".
    return v.removeprefix("<=")


# ------------------------------------------------------------------ heads and chain
def test_every_reference_release_has_its_head(ref: Path) -> None:
    rows = read_tsv(ref / "alembic_heads.tsv")
    assert len(rows) > 90
    wrong = {
        r[0]: (catalogue.head_for(r[0]), r[2]) for r in rows if catalogue.head_for(r[0]) != r[2]
    }
    assert wrong == {}
    assert set(catalogue.known_versions()) == {r[0] for r in rows}


def test_chain_positions_and_table_counts_match(ref: Path) -> None:
    chain = catalogue.migration_chain()
    migrations = json.loads((CATALOGUE_DIR / "migrations.json").read_text())["migrations"]
    for version, _date, head, position, n_files, head_file, n_tables, *_ in read_tsv(
        ref / "alembic_heads.tsv"
    ):
        assert chain.index(head) + 1 == int(position), version
        assert len(catalogue.tables_for(head)) == int(n_tables), version
        assert migrations[head]["file"] == head_file
        assert int(n_files) == int(position)  # a linear history: one file per revision


def test_chain_matches_reference_chain(ref: Path) -> None:
    rows = read_tsv(ref / "alembic_chain_3.18.0.tsv")
    migrations = json.loads((CATALOGUE_DIR / "migrations.json").read_text())["migrations"]
    assert list(catalogue.migration_chain()) == [r[1] for r in rows]
    for _position, rev, down, file, first_release in rows:
        m = migrations[rev]
        assert m["down_revision"] == ([] if down == "None" else [down]), rev
        assert m["file"] == file, rev
        assert m["first_release"] == first_release, rev


# ------------------------------------------------------------------ tables
def test_tables_by_head_match_reference(ref: Path) -> None:
    expected: set[str] = set()
    rows = read_tsv(ref / "tables_by_head.tsv")
    assert rows
    for head_and_range, count, added in rows:
        head = head_and_range.split()[0]
        if added != "-":
            expected |= set(added.split(","))
        assert len(expected) == int(count), head  # the reference only ever adds tables
        assert catalogue.tables_for(head) == frozenset(expected), head


def test_newest_table_set_matches_reference_listing(ref: Path) -> None:
    lines = (ref / "tables.txt").read_text().splitlines()
    listed = {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}
    newest_head = catalogue.head_for(catalogue.known_versions()[-1])
    assert newest_head is not None
    assert catalogue.tables_for(newest_head) == frozenset(listed)


# ------------------------------------------------------------------ env vars
def _env_rows(ref: Path) -> list[list[str]]:
    # External cloud credentials (AWS_*, DATABRICKS_*) are other libraries' variables.
    return [
        r
        for r in read_tsv(ref / "env_vars.tsv")
        if r[0] != "external_cloud_creds" and r[1] not in NOT_CATALOGUED
    ]


def test_every_reference_env_var_is_catalogued(ref: Path) -> None:
    known = catalogue.env_vars()
    missing = [r[1] for r in _env_rows(ref) if r[1] not in known]
    assert missing == []


def test_declared_env_var_types_defaults_and_versions(ref: Path) -> None:
    known = catalogue.env_vars()
    wrong = {}
    for _group, name, type_, default, _sens, first_seen, declared, *_ in _env_rows(ref):
        var = known[name]
        if FIRST_SEEN_AS_ENV_VAR.get(name, _version(first_seen)) != var.first:
            wrong[name] = ("first", var.first, first_seen)
        if declared == "not declared there":
            assert var.declared is None, name
            continue
        got = (var.type, var.default, var.declared)
        want = (type_, default, _version(declared))
        if got != want:
            wrong[name] = (got, want)
    assert wrong == {}


def test_secret_flags_match_reference(ref: Path) -> None:
    known = catalogue.env_vars()
    wrong = {}
    for _group, name, _type, _default, sensitivity, *_ in _env_rows(ref):
        var = known[name]
        # "secret", "secret(internal)", "may-embed-secret(...)": the value is (or holds) one.
        # "path-to-secret", "identity" and "path(...)" name where a secret is, not the secret.
        want_secret = sensitivity.startswith(("secret", "may-embed-secret"))
        want_uri = sensitivity == "may-embed-credentials"
        if var.secret != want_secret:
            wrong[name] = ("secret", var.secret, sensitivity)
        if want_uri and not var.may_embed_credentials:
            wrong[name] = ("may_embed_credentials", False, sensitivity)
        if var.may_embed_credentials and not want_uri and not name.endswith(URL_SUFFIXES):
            wrong[name] = ("may_embed_credentials", True, sensitivity)
    assert wrong == {}
    assert catalogue.is_secret_env("MLFLOW_TRACKING_PASSWORD")
    assert not catalogue.is_secret_env("MLFLOW_TRACKING_URI")
    assert catalogue.may_embed_credentials("MLFLOW_BACKEND_STORE_URI")


def test_removed_env_vars_keep_their_history(ref: Path) -> None:
    known = catalogue.env_vars()
    newest = catalogue.known_versions()[-1]
    for kind, name, detail in read_tsv(ref / "env_vars_removed_or_changed.tsv"):
        if kind != "removed":
            continue
        var = known[name]  # a variable once read stays known (old hosts still set it)
        first_declared = detail.split()[1].split("..")[0]
        assert var.declared == first_declared, name
        if "environ" not in var.sources:  # still read through os.environ elsewhere otherwise
            assert var.last is not None, name
            assert var.last != newest, name


def test_server_cli_env_vars_are_click_options(ref: Path) -> None:
    known = catalogue.env_vars()
    for option, envvar, *_ in read_tsv(ref / "server_cli_options.tsv"):
        if envvar.startswith("MLFLOW_"):
            assert "click" in known[envvar].sources or "declared" in known[envvar].sources, option


# ------------------------------------------------------------------ API
def test_env_var_read_by_version() -> None:
    removed = catalogue.env_vars()["MLFLOW_GCS_DEFAULT_TIMEOUT"]
    assert removed.last is not None
    assert removed.read_by("2.10.0")
    assert removed.read_by(removed.last)
    assert not removed.read_by("3.0.0")
    added = catalogue.env_vars()["MLFLOW_ENABLE_WORKSPACES"]
    assert added.first == "3.10.0"
    assert not added.read_by("3.9.0")
    assert added.read_by("3.10.0")
    assert added.read_by("99.0")  # still read by the newest release: assume later ones too
    assert not added.read_by("garbage")


def test_revisions_between_counts_and_signs() -> None:
    h2, h301, h310 = (catalogue.head_for(v) for v in ("2.0.0", "3.0.1", "3.1.0"))
    assert h2
    assert h301
    assert h310
    # 3.0.1 ships a newer schema than 3.1.0: going 3.0.1 -> 3.1.0 is a downgrade.
    assert catalogue.revisions_between(h310, h301) == 1
    assert catalogue.revisions_between(h301, h310) == -1
    assert catalogue.revisions_between(h2, h2) == 0
    newest = catalogue.head_for(catalogue.known_versions()[-1])
    assert newest is not None
    assert catalogue.revisions_between(h2, newest) == len(catalogue.migration_chain()) - 19
    with pytest.raises(ValueError, match="deadbeef"):
        catalogue.revisions_between("deadbeef", h2)


def test_unknown_versions_and_revisions() -> None:
    assert catalogue.head_for("9.9.9") is None
    assert catalogue.head_for("not a version") is None
    assert catalogue.head_for("2.3") == catalogue.head_for("2.3.0") == "3500859a5d39"
    assert catalogue.head_for("2.3.0+local") == "3500859a5d39"
    assert catalogue.head_for("2.3.0rc1") is None  # a pre-release's schema is not catalogued
    assert catalogue.tables_for("nope") == frozenset()
    assert "alembic_version" in catalogue.tables_for("3500859a5d39")


def test_header_names_newest_release_and_generator() -> None:
    gen = load_generator()
    header = catalogue.catalogue_header()
    assert header["newest_release"] == catalogue.known_versions()[-1]
    assert header["generator_version"] == gen.GENERATOR_VERSION
    assert header["releases"] == len(catalogue.known_versions())


def test_shipped_files_are_in_generator_canonical_form() -> None:
    # Hand edits (or a different serialiser) would show up as a byte difference.
    gen = load_generator()
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert gen.dump(json.loads(text)) == text, path.name


# ------------------------------------------------------------------ generator parsing
def load_generator() -> ModuleType:
    return load_tool("generate_catalogue")


ENV_MODULE = """
import os

class _EnvironmentVariable:
    def __init__(self, name, type_, default): ...

class _BooleanEnvironmentVariable(_EnvironmentVariable):
    def __init__(self, name, default): ...

#: The tracking URI.
MLFLOW_TRACKING_URI = _EnvironmentVariable("MLFLOW_TRACKING_URI", str, None)
MLFLOW_TRACKING_PASSWORD = _EnvironmentVariable("MLFLOW_TRACKING_PASSWORD", str, None)
MLFLOW_CHUNK = _EnvironmentVariable(
    "MLFLOW_CHUNK",
    int,
    # a comment inside the call
    10 * 1024**2,
)
MLFLOW_FLAG = _BooleanEnvironmentVariable("MLFLOW_FLAG", default=True)
"""
CLI_MODULE = """
import click
from mlflow.environment_variables import MLFLOW_TRACKING_URI

@click.option("--backend-store-uri", envvar="MLFLOW_BACKEND_STORE_URI", default=None)
@click.option("--port", "-p", envvar="MLFLOW_PORT", default=5000)
@click.option("--serve-artifacts/--no-serve-artifacts", envvar="MLFLOW_SERVE_ARTIFACTS",
              default=True)
@click.option("--uri", envvar=MLFLOW_TRACKING_URI.name)
def server(): ...
"""
CONSTANTS_MODULE = 'SERVER_STORE_ENV_VAR = "_MLFLOW_SERVER_FILE_STORE"\n'
READER_MODULE = """
import os

def store():
    from mlflow.server.constants import SERVER_STORE_ENV_VAR
    return os.environ.get(SERVER_STORE_ENV_VAR) or os.getenv("MLFLOW_OLD_THING", "x")

def unrelated():
    return os.environ["HOME"], "AWS_SECRET_ACCESS_KEY" in os.environ
"""
INITIAL_MODELS = """
class SqlExperiment(Base):
    __tablename__ = "experiments"

class SqlRun(Base):
    __tablename__ = "runs"
"""
MODELS = """
class SqlThing(Base):
    __tablename__ = "things"
"""
MIGRATION_1 = """
from alembic import op
from mlflow.store.tracking.dbmodels.models import SqlThing

revision = "aaa111"
down_revision = None

def _helper():
    op.create_table("helpers", sa.Column("id"))

def upgrade():
    op.create_table(SqlThing.__tablename__, sa.Column("id"))
    _helper()

def downgrade():
    op.drop_table(SqlThing.__tablename__)
"""
MIGRATION_2 = """
from alembic import op

revision = "bbb222"
down_revision = "aaa111"
_OLD = "helpers"

def upgrade():
    op.rename_table(_OLD, "helpers_v2")
    op.drop_table("runs")

def downgrade():
    op.create_table("runs")
"""


def make_wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in sorted(files.items()):
            zf.writestr(name, text)
    return path


def synthetic_files(with_second_migration: bool, with_old_thing: bool) -> dict[str, str]:
    files = {
        "mlflow/environment_variables.py": ENV_MODULE,
        "mlflow/cli.py": CLI_MODULE,
        "mlflow/server/constants.py": CONSTANTS_MODULE,
        "mlflow/server/handlers.py": READER_MODULE
        if with_old_thing
        else READER_MODULE.replace('os.getenv("MLFLOW_OLD_THING", "x")', "None"),
        "mlflow/store/tracking/dbmodels/initial_models.py": INITIAL_MODELS,
        "mlflow/store/tracking/dbmodels/models.py": MODELS,
        "mlflow/store/db_migrations/versions/__init__.py": "",
        "mlflow/store/db_migrations/versions/aaa111_first.py": MIGRATION_1,
        "mlflow-1.0.dist-info/METADATA": "Name: mlflow-skinny\n",
    }
    if with_second_migration:
        files["mlflow/store/db_migrations/versions/bbb222_second.py"] = MIGRATION_2
    return files


def test_generator_parses_a_synthetic_wheel(tmp_path: Path) -> None:
    gen = load_generator()
    old = gen.read_wheel(
        make_wheel(tmp_path / "old.whl", synthetic_files(False, True)), "2.0.0", "mlflow-skinny"
    )
    new = gen.read_wheel(
        make_wheel(tmp_path / "new.whl", synthetic_files(True, False)), "2.1.0", "mlflow"
    )
    assert old.head == "aaa111"
    assert new.head == "bbb222"
    decl = new.env
    assert (decl["MLFLOW_CHUNK"].type, decl["MLFLOW_CHUNK"].default) == ("int", "10 * 1024**2")
    assert (decl["MLFLOW_FLAG"].type, decl["MLFLOW_FLAG"].default) == ("bool", "True")
    assert decl["MLFLOW_TRACKING_URI"].source == "declared"  # declared wins over the click option
    assert (decl["MLFLOW_PORT"].type, decl["MLFLOW_PORT"].default) == ("int", "5000")
    assert decl["MLFLOW_SERVE_ARTIFACTS"].type == "bool"
    assert decl["_MLFLOW_SERVER_FILE_STORE"].source == "environ"  # via an imported constant
    assert "HOME" not in decl
    assert "AWS_SECRET_ACCESS_KEY" not in decl
    assert old.env["MLFLOW_OLD_THING"].default == '"x"'
    assert "MLFLOW_OLD_THING" not in new.env

    docs = gen.build_catalogue([new, old])
    env = docs["env_vars.json"]["env_vars"]
    assert env["MLFLOW_OLD_THING"]["last"] == "2.0.0"
    assert env["MLFLOW_TRACKING_URI"]["last"] is None
    assert env["MLFLOW_TRACKING_URI"]["sources"] == ["click", "declared"]
    assert env["MLFLOW_TRACKING_PASSWORD"]["secret"] is True
    assert env["MLFLOW_BACKEND_STORE_URI"]["may_embed_credentials"] is True
    assert docs["releases.json"]["releases"] == {
        "2.0.0": {"head": "aaa111", "package": "mlflow-skinny"},
        "2.1.0": {"head": "bbb222", "package": "mlflow"},
    }
    assert docs["migrations.json"]["chain"] == ["aaa111", "bbb222"]
    assert docs["migrations.json"]["migrations"]["bbb222"]["first_release"] == "2.1.0"
    tables = docs["tables.json"]["tables"]
    # downgrade() is ignored; helpers called from upgrade() count; renames follow through.
    assert tables["aaa111"] == ["alembic_version", "experiments", "helpers", "runs", "things"]
    assert tables["bbb222"] == ["alembic_version", "experiments", "helpers_v2", "things"]
    assert docs["releases.json"]["header"]["newest_release"] == "2.1.0"

    out1, out2 = tmp_path / "a", tmp_path / "b"
    gen.write_catalogue(docs, out1)
    gen.write_catalogue(gen.build_catalogue([old, new]), out2)
    for f in sorted(out1.iterdir()):
        assert f.read_bytes() == (out2 / f.name).read_bytes(), f.name


@pytest.mark.parametrize(
    ("name", "type_", "secret", "uri"),
    [
        ("MLFLOW_TRACKING_PASSWORD", "str", True, False),
        ("MLFLOW_FLASK_SERVER_SECRET_KEY", "str", True, False),
        ("MLFLOW_CRYPTO_KEK_PASSPHRASE", "str", True, False),
        ("MLFLOW_MYSQL_SSL_KEY", "str", False, False),  # a key file path
        ("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV", "bool", False, False),
        ("MLFLOW_SERVER_SECRETS_CACHE_TTL", "str", False, False),
        ("MLFLOW_OPENAI_SECRET_SCOPE", "str", False, False),  # a scope name
        ("MLFLOW_S3_UPLOAD_EXTRA_ARGS", "str", True, False),  # may carry SSECustomerKey
        ("MLFLOW_TRACKING_URI", "str", False, True),
        ("_MLFLOW_SERVER_FILE_STORE", "str", False, True),
        ("MLFLOW_TRACKING_USERNAME", "str", False, False),
    ],
)
def test_secret_classification_rule(name: str, type_: str, secret: bool, uri: bool) -> None:
    assert load_generator().classify_secret(name, type_) == (secret, uri)
