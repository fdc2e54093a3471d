"""Inventory sources: a file, or a directory of them, each read with the format Ansible's
enabled inventory plugins would pick (``host_list, script, auto, yaml, ini, toml``) --
except that nothing is ever executed: scripts and plugin configs are refused."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from mlflow_policy import safeio
from mlflow_policy.errors import InputError
from mlflow_policy.inventory.context import ResolverState
from mlflow_policy.inventory.data import InventoryData
from mlflow_policy.inventory.files import loads_data
from mlflow_policy.inventory.ini import parse_ini
from mlflow_policy.inventory.yamlinv import parse_toml_inventory, parse_yaml_inventory
from mlflow_policy.yamlio import decode_utf8

# INVENTORY_IGNORE_EXTS (REJECT_EXTS + .orig, .cfg, .retry) and the names Ansible always
# skips when it reads a directory of inventory sources.
_IGNORED = re.compile(
    r"^\.|^host_vars$|^group_vars$|^vars_plugins$|"
    + "|".join(re.escape(ext) + "$" for ext in (
        ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
        ".orig", ".cfg", ".retry"))
)
_YAML_EXTS = ("", ".yaml", ".yml", ".json")
# yamlio errors that mean "this is YAML, and it is wrong", not "this is not YAML"
_STRICT_YAML = ("duplicate key", "aliases expand", "recursive alias", "YAML nested")

LIVE_HINT = "never run in static mode: they need a live run, which goes through Ansible"


class AnsibleOnlySource(InputError):
    """A source only Ansible can read (a script it runs, a plugin it loads): an error in
    static mode; in live mode the inventory's declared side comes from Ansible instead
    (:mod:`mlflow_policy.sources.live`)."""


def source_files(path: Path, ctx: ResolverState | None = None) -> list[Path]:
    """The files Ansible would try as sources, in its order (sorted by bytes, recursive);
    symlinks met on the way must stay inside the run's confinement."""
    if not path.is_dir():
        return [path]

    def keep(name: str) -> bool:
        return not _IGNORED.search(name)

    return safeio.walk(path, keep_dir=keep, keep_file=keep,
                       confine=ctx.confine if ctx is not None else None,
                       display=ctx.display if ctx is not None else str,
                       sort_key=os.fsencode)


def _refuse_plugin(data: object, display: str) -> None:
    if isinstance(data, Mapping) and data.get("plugin"):
        loc = getattr(data, "locs", {}).get("plugin")
        raise AnsibleOnlySource(
            f"inventory plugin configuration (plugin: {data['plugin']}) is {LIVE_HINT}",
            display, loc.line if loc else 1, loc.column if loc else 1)


def read_source(path: Path, inv: InventoryData, ctx: ResolverState) -> None:
    display = ctx.display(path)
    raw = ctx.read_bytes(path, display)
    if raw is None:
        return
    # Ansible runs an executable source, and reads it as data when that fails: a plain
    # INI or YAML file with the x bit is data; a script (#!) is never run here.
    if raw[0].startswith(b"#!") and os.access(path, os.X_OK):
        raise AnsibleOnlySource(f"executable inventory scripts are {LIVE_HINT}", display, 1)
    text = decode_utf8(raw[0], display)
    inv.current_source = os.path.abspath(path)  # inventory_file, as Ansible unfracks it
    inv.current_source_vaulted = raw[1]
    ext = os.path.splitext(path.name)[1]
    if ext == ".toml":
        import tomllib

        try:
            tdata = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"invalid TOML: {exc}", display) from None
        if not tdata:
            raise InputError("Parsed empty TOML file", display)
        _refuse_plugin(tdata, display)
        parse_toml_inventory(tdata, display, inv)
        return
    yaml_error: InputError | None = None
    if ext in _YAML_EXTS:
        try:
            data = loads_data(text, display)
        except InputError as exc:
            yaml_error = exc
            data = None
        else:
            _refuse_plugin(data, display)
            if isinstance(data, Mapping) and data:
                parse_yaml_inventory(data, display, inv)
                return
            yaml_error = InputError(
                "Parsed empty YAML file" if not data else
                "YAML inventory has invalid structure, it should be a mapping of groups, "
                f"got a {type(data).__name__}", display, 1, 1)
    try:
        parse_ini(text, display, inv)
    except InputError:
        if yaml_error is not None and (
            ext in (".yml", ".yaml", ".json")
            or yaml_error.message.startswith(_STRICT_YAML)
        ):
            raise yaml_error from None
        raise
