#!/usr/bin/env python3
"""Generate mlflow_policy/catalogue/*.json from MLflow's published wheels.

    python tools/generate_catalogue.py [--cache DIR] [--versions 3.17.2 3.18.0 ...] [--offline]

Every 2.x/3.x release of ``mlflow-skinny`` (``mlflow`` where skinny lacks a release) is
downloaded with ``pip download --no-deps --only-binary=:all:`` into the cache (default
``~/.cache/mlflow-policy-wheels``) and read as a zip: nothing is installed or imported.
From each wheel we read, statically (``ast`` and a few regular expressions):

- ``mlflow/environment_variables.py``: every ``*EnvironmentVariable(...)`` declaration;
- ``envvar=`` of every click option in the package (``mlflow server``'s options and others);
- ``os.environ[...]`` / ``os.environ.get`` / ``os.getenv`` / ``in os.environ`` reads whose
  name is a string literal or a module constant naming an ``*MLFLOW*`` variable;
- ``mlflow/store/db_migrations/versions/*.py``: revision, down_revision, and the tables each
  migration's ``upgrade()`` creates, drops or renames; the initial tables come from
  ``mlflow/store/tracking/dbmodels/initial_models.py`` (MLflow runs
  ``InitialBase.metadata.create_all`` before the first migration).

Output is deterministic (sorted keys, no timestamps): the same wheels give byte-identical
files. Only the standard library and ``packaging`` are used.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

# Bump when the output format or a derivation rule changes (recorded in every file's header).
GENERATOR_VERSION = 1

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "mlflow_policy" / "catalogue"
DEFAULT_CACHE = Path("~/.cache/mlflow-policy-wheels").expanduser()

ENV_MODULE = "mlflow/environment_variables.py"
MIGRATIONS_DIR = "mlflow/store/db_migrations/versions/"
INITIAL_MODELS = "mlflow/store/tracking/dbmodels/initial_models.py"
ALEMBIC_VERSION_TABLE = "alembic_version"

# --------------------------------------------------------------------------- secrets
# Why a rule and not a list: the catalogue must classify variables MLflow adds tomorrow.
# A value is a secret (mask it whole) when the name's last word says so. "KEY" counts too
# (MLFLOW_FLASK_SERVER_SECRET_KEY, ..._SIGNING_KEY) except SSL/TLS keys, which MLflow takes as
# a key *file path* (MLFLOW_MYSQL_SSL_KEY is passed to the driver as ssl_key=<path>).
# Only string variables qualify: MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV is a bool.
_SECRET_LAST_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "SECRET", "CREDENTIAL", "CREDENTIALS", "KEY"}
)
_KEY_FILE_PREFIXES = frozenset({"SSL", "TLS"})
# Values that MLflow documents as possibly carrying a secret although the name doesn't say so.
SECRET_BY_CONTENT = {
    # JSON of boto3 ExtraArgs; server-side encryption puts the raw key in SSECustomerKey.
    "MLFLOW_S3_UPLOAD_EXTRA_ARGS",
}
# URI-like values may embed user:password@ (mask the password part only). Every URL counts:
# userinfo is legal in any of them, and masking the password part costs nothing.
_URI_LAST_WORDS = frozenset({"URI", "URL", "STORE", "TARGET", "PROXY"})
_NON_STRING_TYPES = frozenset({"bool", "int", "float"})


def classify_secret(name: str, type_: str) -> tuple[bool, bool]:
    """(value is a secret, value may embed credentials) for an env var of this name and type."""
    if type_ in _NON_STRING_TYPES:
        return False, False
    words = [w for w in name.upper().split("_") if w]
    if not words:
        return False, False
    last = words[-1]
    secret = name in SECRET_BY_CONTENT or (
        last in _SECRET_LAST_WORDS
        and not (last == "KEY" and len(words) > 1 and words[-2] in _KEY_FILE_PREFIXES)
    )
    return secret, (not secret and last in _URI_LAST_WORDS)


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class EnvDecl:
    """One env var as one source in one wheel describes it."""

    name: str
    type: str  # Python source of the type (str, int, bool, _split_strip...)
    default: str  # Python source of the default expression
    source: str  # "declared" | "click" | "environ"


@dataclass(frozen=True)
class Migration:
    revision: str
    down_revisions: tuple[str, ...]
    file: str
    # ("create", table) | ("drop", table) | ("rename", old, new), in upgrade() order
    ops: tuple[tuple[str, ...], ...]


@dataclass
class WheelFacts:
    version: str
    package: str
    env: dict[str, EnvDecl] = field(default_factory=dict)  # the richest description per name
    sources: dict[str, set[str]] = field(default_factory=dict)  # every source naming it
    literals: set[str] = field(default_factory=set)
    migrations: dict[str, Migration] = field(default_factory=dict)
    initial_tables: tuple[str, ...] = ()

    @property
    def head(self) -> str | None:
        return find_head(self.migrations)


def _segment(source: str, node: ast.AST) -> str:
    seg = ast.get_source_segment(source, node)
    text = seg if seg is not None else ast.unparse(node)
    # A default written over several lines is stored on one line.
    return " ".join(text.split())


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def parse_env_module(source: str) -> tuple[dict[str, EnvDecl], dict[str, str]]:
    """Declarations of ``mlflow/environment_variables.py``.

    Returns (env name -> declaration, Python identifier -> env name); the second resolves
    ``envvar=MLFLOW_X.name`` in click options.
    """
    tree = ast.parse(source)
    decls: dict[str, EnvDecl] = {}
    idents: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not isinstance(value, ast.Call):
            continue
        cls = _call_name(value.func)
        if not cls.endswith("EnvironmentVariable"):
            continue
        kwargs = {k.arg: k.value for k in value.keywords if k.arg}
        args = list(value.args)
        name_node = args[0] if args else kwargs.get("name")
        if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
            continue
        boolean = "Boolean" in cls
        if boolean:
            type_src = "bool"
            default_node = args[1] if len(args) > 1 else kwargs.get("default")
        else:
            type_node = args[1] if len(args) > 1 else kwargs.get("type_")
            type_src = _segment(source, type_node) if type_node is not None else "str"
            default_node = args[2] if len(args) > 2 else kwargs.get("default")
        default_src = _segment(source, default_node) if default_node is not None else "None"
        env_name = name_node.value
        decls[env_name] = EnvDecl(env_name, type_src, default_src, "declared")
        for t in targets:
            if isinstance(t, ast.Name):
                idents[t.id] = env_name
    return decls, idents


_CLICK_TYPES = {
    "int": "int", "INT": "int", "IntRange": "int",
    "float": "float", "FLOAT": "float", "FloatRange": "float",
    "bool": "bool", "BOOL": "bool",
}  # fmt: skip


def _resolve_name(
    node: ast.expr, idents: Mapping[str, str], consts: Mapping[str, str]
) -> str | None:
    """The env var name an expression denotes: "LIT", CONST, or MLFLOW_X.name."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "name" and isinstance(node.value, ast.Name):
        return idents.get(node.value.id)
    return None


def _click_option_decl(
    call: ast.Call, source: str, idents: Mapping[str, str], consts: Mapping[str, str]
) -> EnvDecl | None:
    kwargs = {k.arg: k.value for k in call.keywords if k.arg}
    envvar = kwargs.get("envvar")
    if envvar is None:
        return None
    name = _resolve_name(envvar, idents, consts)
    if name is None:
        return None
    flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    is_flag = kwargs.get("is_flag")
    default = kwargs.get("default")
    type_node = kwargs.get("type")
    if (isinstance(is_flag, ast.Constant) and is_flag.value is True) or any(
        "/" in f for f in flags
    ):
        type_ = "bool"
    elif type_node is not None:
        type_ = _CLICK_TYPES.get(
            _call_name(type_node.func if isinstance(type_node, ast.Call) else type_node), "str"
        )
    elif isinstance(default, ast.Constant) and type(default.value) in (int, float, bool):
        type_ = type(default.value).__name__
    else:
        type_ = "str"
    default_src = _segment(source, default) if default is not None else "None"
    return EnvDecl(name, type_, default_src, "click")


def _is_os_environ(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ) or (isinstance(node, ast.Name) and node.id == "environ")


def _environ_read(node: ast.AST) -> tuple[ast.expr, ast.expr | None] | None:
    """(name expression, default expression) when ``node`` reads or sets os.environ."""
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        default = node.args[1] if len(node.args) > 1 else None
        if isinstance(func, ast.Attribute):
            if func.attr in {"get", "pop", "setdefault"} and _is_os_environ(func.value):
                return node.args[0], default
            if func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os":
                return node.args[0], default
        if isinstance(func, ast.Name) and func.id == "getenv":
            return node.args[0], default
    if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
        return node.slice, None
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _is_os_environ(node.comparators[0])
    ):
        return node.left, None
    return None


_MLFLOW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_reads(
    source: str,
    idents: Mapping[str, str],
    consts: Mapping[str, str],
    constants_by_module: Mapping[str, Mapping[str, str]] | None = None,
) -> list[EnvDecl]:
    """Click ``envvar=`` options and os.environ reads of MLflow variables in one module.

    ``consts`` are the module's own string constants; ``constants_by_module`` (dotted module
    name -> constants) resolves constants it imports.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    if constants_by_module:
        consts = {**_imported_constants(tree, constants_by_module), **consts}
    found: list[EnvDecl] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and any(k.arg == "envvar" for k in node.keywords):
            decl = _click_option_decl(node, source, idents, consts)
            if decl is not None:
                found.append(decl)
            continue
        read = _environ_read(node)
        if read is None:
            continue
        name = _resolve_name(read[0], idents, consts)
        # Only MLflow's own names: third-party variables (AWS_*, CUDA_*) are not ours to list.
        if name is None or "MLFLOW" not in name.upper() or not _MLFLOW_NAME.match(name):
            continue
        default = _segment(source, read[1]) if read[1] is not None else "None"
        found.append(EnvDecl(name, "str", default, "environ"))
    return found


_MODULE_CONST = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*str\s*)?=\s*([\"'])([^\"'\n]+)\2\s*$", re.MULTILINE
)
_LITERAL = re.compile(r"[\"']([A-Za-z_][A-Za-z0-9_]*_[A-Za-z0-9_]*)[\"']")


def module_constants(source: str) -> dict[str, str]:
    """Top-level ``NAME = "literal"`` assignments (column 0 only: module level)."""
    return {m.group(1): m.group(3) for m in _MODULE_CONST.finditer(source)}


def _imported_constants(
    tree: ast.Module, constants_by_module: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """String constants a module imports by name, at any depth (MLflow imports lazily)."""
    out: dict[str, str] = {}
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            consts = constants_by_module.get(stmt.module, {})
            for alias in stmt.names:
                if alias.name in consts:
                    out[alias.asname or alias.name] = consts[alias.name]
    return out


def _with_reexports(
    sources: Mapping[str, str], constants_by_module: dict[str, dict[str, str]]
) -> None:
    """Add re-exported constants (``mlflow.server`` re-exports ``mlflow.server.constants``)."""
    pattern = re.compile(r"^from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]+)", re.MULTILINE)
    for _ in range(2):  # two hops are enough for MLflow's layout
        for path, src in sources.items():
            mine = constants_by_module.setdefault(_module_name(path), {})
            for m in pattern.finditer(src):
                theirs = constants_by_module.get(m.group(1), {})
                for item in m.group(2).strip("()").replace("\n", " ").split(","):
                    parts = item.split()
                    if parts and parts[0] in theirs:
                        mine.setdefault(parts[-1], theirs[parts[0]])


def _module_name(path: str) -> str:
    mod = path[: -len(".py")].replace("/", ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def _str_const(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def parse_table_classes(source: str) -> dict[str, str]:
    """SQLAlchemy model class name -> ``__tablename__``."""
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if (
                isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in stmt.targets)
                and (table := _str_const(stmt.value)) is not None
            ):
                out[node.name] = table
    return out


def parse_migration(source: str, file: str, table_classes: Mapping[str, str]) -> Migration:
    """Revision, down revision(s) and the table operations reachable from ``upgrade()``."""
    tree = ast.parse(source)
    module_vars: dict[str, ast.expr] = {}
    functions: dict[str, ast.FunctionDef] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    module_vars[t.id] = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            module_vars[stmt.target.id] = stmt.value
        elif isinstance(stmt, ast.FunctionDef):
            functions[stmt.name] = stmt
    revision = _str_const(module_vars.get("revision"))
    if revision is None:
        raise ValueError(f"{file}: no literal `revision`")
    down = module_vars.get("down_revision")
    if isinstance(down, ast.Tuple | ast.List):
        downs = tuple(v for e in down.elts if (v := _str_const(e)) is not None)
    else:
        downs = tuple(v for v in [_str_const(down)] if v is not None)

    def table(node: ast.expr) -> str | None:
        if (lit := _str_const(node)) is not None:
            return lit
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "__tablename__"
            and isinstance(node.value, ast.Name)
        ):
            return table_classes.get(node.value.id)
        if isinstance(node, ast.Name) and node.id in module_vars:
            return _str_const(module_vars[node.id])
        return None

    # Functions reachable from upgrade(): helpers count, downgrade() does not.
    reachable: list[str] = []
    todo = ["upgrade"]
    while todo:
        fn = todo.pop()
        if fn in reachable or fn not in functions:
            continue
        reachable.append(fn)
        todo.extend(
            n.func.id
            for n in ast.walk(functions[fn])
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        )
    ops: list[tuple[str, ...]] = []
    for fn in reachable:  # upgrade() first, then helpers in call-discovery order
        calls = sorted(
            (n for n in ast.walk(functions[fn]) if isinstance(n, ast.Call)),
            key=lambda n: (n.lineno, n.col_offset),
        )
        for n in calls:
            if not (isinstance(n.func, ast.Attribute) and n.args):
                continue
            kind = n.func.attr
            if kind in {"create_table", "drop_table"} and (tbl := table(n.args[0])):
                ops.append((kind.removesuffix("_table"), tbl))
            elif kind == "rename_table" and len(n.args) > 1:
                old, new = table(n.args[0]), table(n.args[1])
                if old and new:
                    ops.append(("rename", old, new))
    return Migration(revision, downs, file.rsplit("/", 1)[-1], tuple(ops))


def find_head(migrations: Mapping[str, Migration]) -> str | None:
    """The revision no migration names as its down revision (None if not exactly one)."""
    named = {d for m in migrations.values() for d in m.down_revisions}
    heads = sorted(set(migrations) - named)
    return heads[0] if len(heads) == 1 else None


def chain_to(head: str, migrations: Mapping[str, Migration]) -> list[str]:
    """Revisions from the first migration up to ``head``, oldest first (first parent of merges)."""
    chain: list[str] = []
    rev: str | None = head
    while rev is not None:
        if rev in chain:
            raise ValueError(f"migration cycle at {rev}")
        chain.append(rev)
        downs = migrations[rev].down_revisions if rev in migrations else ()
        rev = downs[0] if downs else None
    return chain[::-1]


def tables_along(
    chain: Sequence[str], migrations: Mapping[str, Migration], initial: Iterable[str]
) -> dict[str, list[str]]:
    """Table set after each revision of ``chain`` (a fresh DB migrated to it)."""
    tables = {*initial, ALEMBIC_VERSION_TABLE}
    out: dict[str, list[str]] = {}
    for rev in chain:
        for op in migrations[rev].ops:
            if op[0] == "create":
                tables.add(op[1])
            elif op[0] == "drop":
                tables.discard(op[1])
            else:
                tables.discard(op[1])
                tables.add(op[2])
        out[rev] = sorted(tables)
    return out


def read_wheel(path: Path, version: str, package: str) -> WheelFacts:
    """Everything the catalogue needs from one wheel, read as a zip."""
    with zipfile.ZipFile(path) as zf:
        sources = {
            n: zf.read(n).decode("utf-8", "replace")
            for n in zf.namelist()
            if n.startswith("mlflow/") and n.endswith(".py")
        }
    return wheel_facts_from_sources(sources, version, package)


_RANK = {"declared": 0, "click": 1, "environ": 2}


def wheel_facts_from_sources(sources: Mapping[str, str], version: str, package: str) -> WheelFacts:
    facts = WheelFacts(version=version, package=package)
    idents: dict[str, str] = {}
    if ENV_MODULE in sources:
        decls, idents = parse_env_module(sources[ENV_MODULE])
        facts.env.update(decls)
        for name in decls:
            facts.sources.setdefault(name, set()).add("declared")
    environ_defaults: dict[str, set[str]] = {}
    constants_by_module = {_module_name(p): module_constants(s) for p, s in sources.items()}
    _with_reexports(sources, constants_by_module)
    for path in sorted(sources):
        src = sources[path]
        facts.literals.update(_LITERAL.findall(src))
        if not ("environ" in src or "getenv" in src or "envvar=" in src):
            continue
        for decl in parse_env_reads(src, idents, module_constants(src), constants_by_module):
            facts.sources.setdefault(decl.name, set()).add(decl.source)
            if decl.source == "environ":
                environ_defaults.setdefault(decl.name, set()).add(decl.default)
            prev = facts.env.get(decl.name)
            # declared > click > environ: the richer description of type and default wins.
            if prev is None or _RANK[decl.source] < _RANK[prev.source]:
                facts.env[decl.name] = decl
    for name, defaults in environ_defaults.items():
        # A plain os.environ read has a default only when every call site agrees on one.
        decl = facts.env[name]
        if decl.source == "environ":
            stated = defaults - {"None"}
            default = stated.pop() if len(stated) == 1 and len(defaults) == 1 else "None"
            facts.env[name] = EnvDecl(name, decl.type, default, "environ")
    table_classes: dict[str, str] = {}
    for path, src in sorted(sources.items()):
        if path.startswith("mlflow/store/") and "__tablename__" in src and path != INITIAL_MODELS:
            table_classes.update(parse_table_classes(src))
    if INITIAL_MODELS in sources:
        facts.initial_tables = tuple(sorted(parse_table_classes(sources[INITIAL_MODELS]).values()))
    for path, src in sorted(sources.items()):
        if path.startswith(MIGRATIONS_DIR) and not path.endswith("__init__.py"):
            mig = parse_migration(src, path, table_classes)
            facts.migrations[mig.revision] = mig
    return facts


# --------------------------------------------------------------------------- catalogue
def _header(newest: str, count: int) -> dict[str, object]:
    return {
        "generator": "tools/generate_catalogue.py",
        "generator_version": GENERATOR_VERSION,
        "newest_release": newest,
        "releases": count,
    }


def build_catalogue(wheels: Sequence[WheelFacts]) -> dict[str, dict[str, object]]:
    """The JSON documents (file name -> content) for these wheels, oldest release first."""
    wheels = sorted(wheels, key=lambda w: Version(w.version))
    newest = wheels[-1]
    header = _header(newest.version, len(wheels))

    env: dict[str, dict[str, object]] = {}
    names = sorted({n for w in wheels for n in w.env})
    for name in names:
        present = [w for w in wheels if name in w.env]
        latest = present[-1].env[name]
        declared = [w.version for w in present if w.env[name].source == "declared"]
        seen = [w.version for w in wheels if name in w.literals or name in w.env]
        secret, uri = classify_secret(name, latest.type)
        env[name] = {
            "type": latest.type,
            "default": latest.default,
            "first": seen[0],
            "declared": declared[0] if declared else None,
            "last": None if present[-1] is newest else present[-1].version,
            "sources": sorted({s for w in present for s in w.sources[name]}),
            "secret": secret,
            "may_embed_credentials": uri,
        }

    # One migration graph over every wheel: a migration file never changes once released.
    migrations: dict[str, Migration] = {}
    first_release: dict[str, str] = {}
    for w in wheels:
        for rev, mig in w.migrations.items():
            migrations[rev] = mig
            first_release.setdefault(rev, w.version)
    releases: dict[str, dict[str, object]] = {}
    for w in wheels:
        head = w.head
        if head is None:
            raise ValueError(f"{w.package} {w.version}: no single alembic head")
        releases[w.version] = {"head": head, "package": w.package}
    newest_head = releases[newest.version]["head"]
    assert isinstance(newest_head, str)
    chain = chain_to(newest_head, migrations)
    off_chain = sorted({str(r["head"]) for r in releases.values()} - set(chain))
    if off_chain:
        raise ValueError(f"release heads not on the newest chain: {off_chain}")
    tables = tables_along(chain, migrations, newest.initial_tables)
    return {
        "env_vars.json": {"header": header, "env_vars": env},
        "releases.json": {"header": header, "releases": releases},
        "migrations.json": {
            "header": header,
            "chain": chain,
            "migrations": {
                rev: {
                    "down_revision": list(migrations[rev].down_revisions),
                    "file": migrations[rev].file,
                    "first_release": first_release[rev],
                }
                for rev in chain
            },
        },
        "tables.json": {"header": header, "tables": tables},
    }


def dump(doc: object) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def write_catalogue(docs: Mapping[str, object], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in sorted(docs.items()):
        (out_dir / name).write_text(dump(doc), encoding="utf-8", newline="\n")


# --------------------------------------------------------------------------- wheels
def available_versions(package: str) -> list[str]:
    """Final 2.x/3.x releases of ``package`` on the index, via pip's own client."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", package],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    line = next((ln for ln in out.splitlines() if ln.startswith("Available versions:")), "")
    versions = []
    for raw in line.partition(":")[2].split(","):
        try:
            v = Version(raw.strip())
        except InvalidVersion:
            continue
        if v.major in (2, 3) and not v.is_prerelease and not v.is_devrelease:
            versions.append(str(v))
    return sorted(versions, key=Version)


def _cached(cache: Path, package: str, version: str) -> Path | None:
    stem = package.replace("-", "_")
    hits = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    return hits[0] if hits else None


def fetch(cache: Path, package: str, version: str, offline: bool) -> Path:
    hit = _cached(cache, package, version)
    if hit is not None or offline:
        if hit is None:
            raise FileNotFoundError(f"{package}=={version} not in {cache} (--offline)")
        return hit
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "--dest", str(cache), f"{package}=={version}"],
        check=True,
    )  # fmt: skip
    hit = _cached(cache, package, version)
    if hit is None:
        raise FileNotFoundError(f"pip downloaded no wheel for {package}=={version}")
    return hit


def plan(versions: Sequence[str] | None, cache: Path, offline: bool) -> list[tuple[str, str]]:
    """(package, version) per release: mlflow-skinny, else mlflow."""
    if offline:
        skinny = sorted(
            {p.name.split("-")[1] for p in cache.glob("mlflow_skinny-*.whl")}, key=Version
        )
        full = sorted({p.name.split("-")[1] for p in cache.glob("mlflow-*.whl")}, key=Version)
    else:
        skinny, full = available_versions("mlflow-skinny"), available_versions("mlflow")
    wanted = list(versions) if versions else sorted(set(skinny) | set(full), key=Version)
    out = []
    for v in wanted:
        if v in skinny:
            out.append(("mlflow-skinny", v))
        elif v in full:
            out.append(("mlflow", v))
        else:
            raise SystemExit(f"no mlflow-skinny or mlflow release {v}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="wheel cache directory")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    ap.add_argument("--versions", nargs="+", help="only these releases (default: every 2.x/3.x)")
    ap.add_argument("--offline", action="store_true", help="use cached wheels only")
    args = ap.parse_args(argv)
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    wheels = []
    for package, version in plan(args.versions, args.cache, args.offline):
        path = fetch(args.cache, package, version, args.offline)
        wheels.append(read_wheel(path, version, package))
        print(
            f"{package} {version}: head {wheels[-1].head}, {len(wheels[-1].env)} env vars",
            file=sys.stderr,
        )
    docs = build_catalogue(wheels)
    write_catalogue(docs, args.out)
    env_doc = docs["env_vars.json"]["env_vars"]
    rel_doc = docs["releases.json"]["releases"]
    assert isinstance(env_doc, dict)
    assert isinstance(rel_doc, dict)
    heads = {r["head"] for r in rel_doc.values()}
    print(
        f"{len(rel_doc)} releases, {len(env_doc)} env vars, {len(heads)} heads "
        f"-> {args.out} in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
