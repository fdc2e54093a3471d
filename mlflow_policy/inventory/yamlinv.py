"""Ansible's YAML (and TOML) inventory formats (``plugins/inventory/{yaml,toml}.py``,
2.19): top-level keys are groups, each with ``hosts`` / ``vars`` / ``children``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.inventory.data import Entry, InventoryData, InventoryError
from mlflow_policy.inventory.hostpatterns import PatternError, expand_hostpattern


def _loc_of(container: Any, key: Any, fallback: Location) -> Location:
    locs = getattr(container, "locs", None)
    if locs is not None and key in locs:
        loc: Location = locs[key]
        return loc
    own = getattr(container, "loc", None)
    return own if isinstance(own, Location) else fallback


class _YamlParser:
    def __init__(self, inv: InventoryData, display: str) -> None:
        self.inv = inv
        self.file_loc = Location(display, 1, 1)
        # where the parser is, for errors Ansible raises without a position
        self.where = self.file_loc

    def group(self, name: Any, data: Any, at: Location) -> Any:
        self.where = at
        if not isinstance(data, (Mapping, type(None))):
            # Ansible warns and skips a group whose value is not a mapping.
            return name
        name = self.inv.add_group(name)
        if data is None:
            return name
        sections = dict(data)
        for section in ("vars", "children", "hosts"):
            if section in sections:
                if isinstance(sections[section], str):
                    # Ansible turns a string into a one-key mapping with a null value.
                    sections[section] = {sections[section]: None}
                if not isinstance(sections[section], (Mapping, type(None))):
                    self.where = _loc_of(data, section, at)
                    raise InventoryError(
                        f'Invalid "{section}" entry for "{name}" group, requires a dictionary, '
                        f'found "{type(sections[section])}" instead.')
        for key, value in sections.items():
            if not isinstance(value, Mapping):  # None, or a non-mapping Ansible skips
                continue
            if key == "vars":
                for var, val in value.items():
                    self.where = _loc_of(value, var, at)
                    self.inv.set_variable(name, var, Entry(val, self.where))
            elif key == "children":
                for sub, subdata in value.items():
                    sub_at = _loc_of(value, sub, at)
                    child = self.group(sub, subdata, sub_at)
                    self.where = sub_at
                    self.inv.add_child(name, child)
            elif key == "hosts":
                for pattern, hvars in value.items():
                    self.where = _loc_of(value, pattern, at)
                    self.hosts(name, pattern, hvars)
        return name

    def hosts(self, group: str, pattern: Any, hvars: Any) -> None:
        if not isinstance(pattern, str):
            raise InventoryError(
                f"Host pattern {pattern} must be a string. Enclose integers/floats in "
                "quotation marks.")
        try:
            names, port = expand_hostpattern(pattern)
        except PatternError as exc:
            raise InventoryError(str(exc)) from None
        hvars = hvars or {}
        if not isinstance(hvars, Mapping):
            raise InventoryError(
                f"Invalid data from file, expected dictionary and got:\n\n{hvars}")
        at = self.where
        for host in names:
            self.inv.add_host(host, group, port, at)
            for var, val in hvars.items():
                self.inv.set_variable(host, var, Entry(val, _loc_of(hvars, var, at)))


def parse_yaml_inventory(data: Mapping[Any, Any], display: str, inv: InventoryData) -> None:
    """Add a loaded YAML/JSON inventory mapping to ``inv`` (the caller checked its shape)."""
    parser = _YamlParser(inv, display)
    try:
        for name, group in data.items():
            parser.group(name, group, _loc_of(data, name, parser.file_loc))
    except InventoryError as exc:
        from mlflow_policy.errors import InputError

        raise InputError(str(exc), display, parser.where.line, parser.where.column) from None


def parse_toml_inventory(data: Mapping[str, Any], display: str, inv: InventoryData) -> None:
    """The TOML plugin: like YAML, but ``children`` is a list of group names."""
    from mlflow_policy.errors import InputError

    at = Location(display, 1, 1)

    def group(name: str, gdata: Any) -> None:
        if gdata is not None and not isinstance(gdata, Mapping):
            return
        inv.add_group(name)
        if gdata is None:
            return
        for key, value in gdata.items():
            if key == "vars":
                if not isinstance(value, Mapping):
                    raise InventoryError(
                        f'Invalid "vars" entry for "{name}" group, requires a dict, found '
                        f'"{type(value)}" instead.')
                for var, val in value.items():
                    inv.set_variable(name, var, Entry(val, at))
            elif key == "children":
                if not isinstance(value, list):
                    raise InventoryError(
                        f'Invalid "children" entry for "{name}" group, requires a list, '
                        f'found "{type(value)}" instead.')
                for sub in value:
                    group(sub, {})
                    inv.add_child(name, sub)
            elif key == "hosts":
                if not isinstance(value, Mapping):
                    raise InventoryError(
                        f'Invalid "hosts" entry for "{name}" group, requires a dict, found '
                        f'"{type(value)}" instead.')
                for pattern, hvars in value.items():
                    try:
                        names, port = expand_hostpattern(pattern)
                    except PatternError as exc:
                        raise InventoryError(str(exc)) from None
                    if not isinstance(hvars, Mapping):
                        raise InventoryError(
                            f"Invalid data from file, expected dictionary and got:\n\n{hvars}")
                    for host in names:
                        inv.add_host(host, name, port, at)
                        for var, val in hvars.items():
                            inv.set_variable(host, var, Entry(val, at))

    try:
        for name, gdata in data.items():
            group(name, gdata)
    except InventoryError as exc:
        raise InputError(str(exc), display) from None
