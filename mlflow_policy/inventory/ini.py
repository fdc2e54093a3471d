"""Ansible's INI inventory format (``ansible.plugins.inventory.ini``, 2.19), read into
:class:`InventoryData` with a location for every value.

Values, inline on host lines and in ``[group:vars]`` alike, go through
``ast.literal_eval`` exactly as Ansible does (``a=1`` is an int, ``b=[1, 2]`` a list,
``c=yes`` the string ``yes``), then tuples and sets become lists, ``...`` and complex
numbers strings, bytes text.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.errors import InputError
from mlflow_policy.inventory.data import Entry, InventoryData, InventoryError
from mlflow_policy.inventory.hostpatterns import PatternError, expand_hostpattern

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")
_COMMENT_MARKERS = (";", "#")
_CONSTANTS = {"True": True, "False": False, "None": None}
# Texts literal_eval always refuses: dotted quads/versions (10.0.0.1, 1.2.3) and paths.
_NOT_LITERAL = re.compile(r"^(?:[0-9]+(?:\.[0-9]+){2,}|/[^'\"\[\]{}()]*)$")
# shlex (posix, comments) on a line without backslash or '#' is a split on its whitespace
# set with quotes removed; lines with those take the slow exact path.
_TOKEN = re.compile(r"""(?:[^ \t\r\n'"]+|"[^"]*"|'[^']*')+""")
_QUOTED = re.compile(r""""([^"]*)"|'([^']*)'""")


def _balanced(line: str) -> bool:
    if "'" not in line and '"' not in line:
        return True
    rest = _QUOTED.sub("", line)
    return "'" not in rest and '"' not in rest


def split_host_line(line: str) -> list[str]:
    """``shlex.split(line, comments=True)``, fast for the common lines."""
    if "\\" not in line and "#" not in line and _balanced(line):
        return [
            _QUOTED.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), t)
            if ("'" in t or '"' in t) else t
            for t in _TOKEN.findall(line)
        ]
    return shlex.split(line, comments=True)


def parse_value(text: str) -> Any:
    """An INI value typed the way Ansible's ``_parse_value`` types it."""
    # Fast paths with literal_eval's own answers (it costs a compile per value).
    if text.isidentifier():
        return _CONSTANTS.get(text, text)
    if text.isascii() and text.isdigit() and (len(text) == 1 or text[0] != "0"):
        return int(text)
    if _NOT_LITERAL.match(text):
        return text
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    except (TypeError, MemoryError, RecursionError) as exc:
        raise InventoryError(
            # never quote the value: it may be a password
            f"cannot read a value of this line: Ansible's ast.literal_eval fails on it "
            f"({type(exc).__name__}), so "
            "Ansible would not load this inventory file either") from None
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v) for v in value]
    if isinstance(value, dict):
        return {k: _coerce(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


class _IniParser:
    def __init__(self, inv: InventoryData, display: str) -> None:
        self.inv = inv
        self.display = display
        self.lineno = 0
        self.raw = ""

    def loc(self, col: int) -> Location:
        return Location(self.display, self.lineno, col + 1)

    def value_col(self, key: str, start: int = 0) -> tuple[int, int]:
        """Column (0-based) where ``key=``'s value starts in the raw line, and where to
        continue searching."""
        at = self.raw.find(f"{key}=", start)
        if at < 0:
            at = self.raw.find(key, start)
            if at < 0:
                return 0, start
        col = self.raw.find("=", at + len(key)) + 1
        while col < len(self.raw) and self.raw[col] == " ":
            col += 1
        return col, col

    def parse(self, text: str) -> None:
        pending: dict[str, dict[str, Any]] = {}
        groupname, state = "ungrouped", "hosts"
        for raw in text.splitlines():
            self.lineno += 1
            self.raw = raw
            line = raw.strip()
            if not line or line[0] in _COMMENT_MARKERS:
                continue
            m = _SECTION.match(line)
            if m:
                groupname, state = m.group(1), m.group(2) or "hosts"
                if state not in ("hosts", "children", "vars"):
                    raise InventoryError(
                        f"Section [{groupname}:{state}] has unknown type: {state}")
                if groupname not in self.inv.groups:
                    if state == "vars" and groupname not in pending:
                        pending[groupname] = {"line": self.lineno, "state": state}
                    self.inv.add_group(groupname)
                if groupname in pending and state != "vars":
                    if pending[groupname]["state"] == "children":
                        self._add_pending_children(groupname, pending)
                    elif pending[groupname]["state"] == "vars":
                        del pending[groupname]
                continue
            if line.startswith("[") and line.endswith("]"):
                raise InventoryError(
                    f"Invalid section entry: '{line}'. Please make sure that there are no "
                    "spaces in the section entry, and that there are no other invalid "
                    "characters")
            if state == "hosts":
                self._host_line(line, groupname)
            elif state == "vars":
                if "=" not in line:
                    raise InventoryError(f"Expected key=value, got: {line}")
                key, value = (e.strip() for e in line.split("=", 1))
                col, _ = self.value_col(key)
                self.inv.set_variable(groupname, key, Entry(parse_value(value), self.loc(col)))
            else:
                gm = _GROUPNAME.match(line)
                if not gm:
                    raise InventoryError(f"Expected group name, got: {line}")
                child = gm.group(1)
                if child not in self.inv.groups:
                    if child not in pending:
                        pending[child] = {"line": self.lineno, "state": state,
                                          "parents": [groupname]}
                    else:
                        pending[child].setdefault("parents", []).append(groupname)
                else:
                    self.inv.add_child(groupname, child)
        for name, decl in pending.items():
            self.lineno = decl["line"]
            if decl["state"] == "vars":
                raise InventoryError(
                    f"Section [{name}:vars] not valid for undefined group {name!r}.")
            raise InventoryError(
                f"Section [{decl['parents'][-1]}:children] includes undefined group {name!r}.")

    def _add_pending_children(self, group: str, pending: dict[str, dict[str, Any]]) -> None:
        for parent in pending[group].get("parents", []):
            self.inv.add_child(parent, group)
            if parent in pending and pending[parent]["state"] == "children":
                self._add_pending_children(parent, pending)
        del pending[group]

    def _host_line(self, line: str, group: str) -> None:
        try:
            tokens = split_host_line(line)
        except ValueError as exc:
            raise InventoryError(f"Error parsing host definition '{line}': {exc}") from None
        pattern = tokens[0] if tokens else ""
        try:
            hostnames, port = expand_hostpattern(pattern)
        except PatternError as exc:
            raise InventoryError(str(exc)) from None
        if pattern.strip().endswith(":") and port is None:
            raise InventoryError(
                f"Invalid host pattern '{pattern}' supplied, ending in ':' is not allowed, "
                "this character is reserved to provide a port.")
        if any(h.strip() == "---" for h in hostnames):
            raise InventoryError(
                f"Invalid host pattern '{pattern}' supplied, '---' is normally a sign this is "
                "a YAML file.")
        variables: dict[str, Entry] = {}
        cursor = self.raw.find(pattern) + len(pattern) if pattern else 0
        for token in tokens[1:]:
            if "=" not in token:
                raise InventoryError(
                    f"Expected key=value host variable assignment, got: {token}")
            key, value = token.split("=", 1)
            col, cursor = self.value_col(key, max(cursor, 0))
            variables[key] = Entry(parse_value(value), self.loc(col))
        host_loc = self.loc(max(self.raw.find(pattern), 0))
        for name in hostnames:
            self.inv.add_host(name, group, port, host_loc)
            for key, entry in variables.items():
                self.inv.set_variable(name, key, entry)


def parse_ini(text: str, display: str, inv: InventoryData) -> None:
    """Add an INI inventory's content to ``inv``; InputError with the line on failure."""
    parser = _IniParser(inv, display)
    try:
        parser.parse(text)
    except InventoryError as exc:
        raise InputError(str(exc), display, parser.lineno or None) from None
