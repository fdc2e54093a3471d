"""Where a host's variable is written, in terms an editor can use: the absolute file, its
format, the key path inside the document, the precedence layer, and the layers below it
that also set it (what would win if the top one were removed).

Nothing here runs while resolving. The resolver already keeps, per layer, the entries it
merged (inline group and host vars, each ``group_vars``/``host_vars`` file read once);
:class:`Origins` walks the same layers in the same order for one (host, path) when asked,
and reads a source file's structure (the key path of an inline var) the first time one of
its values is asked about. A 10,000-host ``facts`` run that never asks pays nothing.

Layer names, lowest precedence first (Ansible's names, with the group)::

    inventory file group vars:all     the inventory source's vars of group all
    inventory file group vars:G       ... of group G (groups by depth, priority, name)
    inventory group_vars:all          group_vars/all* next to the inventory
    playbook group_vars:all           group_vars/all* in --playbook-dir
    inventory group_vars:G            group_vars/G* next to the inventory
    playbook group_vars:G
    inventory file host vars          vars on the host's own line / mapping
    inventory host_vars               host_vars/HOST* next to the inventory
    playbook host_vars

Key paths: a ``group_vars``/``host_vars`` file's path starts at the variable
(``("mlflow_env", "MLFLOW_X")``); a YAML, JSON or TOML inventory's starts at its root
(``("all", "children", "mlflow_servers", "vars", "mlflow_env", "MLFLOW_X")``, a host var
``(..., "hosts", "web[1:3]", "var")``); an INI inventory's is the section as written inside
its brackets, then the host pattern on a host line, then the variable
(``("mlflow_servers:vars", "x")``, ``("web", "web1", "x")``), with the line in
``location``. A port given in a host pattern (``web1:2222``) is ``ansible_port`` with the
pattern's own path.

The answers describe the files as they were read: ask before editing them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import Location

if TYPE_CHECKING:
    from mlflow_policy.inventory.data import Entry
    from mlflow_policy.inventory.resolve import Resolver
    from mlflow_policy.inventory.types import ResolvedHost

KeyPath = tuple[Any, ...]

_INI_SECTION = re.compile(r"^\[([^\]]*)\]")


@dataclass(frozen=True, slots=True)
class Origin:
    """One place a host's variable (or a value nested in it) is written."""

    file: Path  # absolute
    format: str  # "yaml", "json", "ini" or "toml"
    key_path: KeyPath  # inside the document (see the module docstring)
    layer: str  # the precedence layer (see the module docstring)
    location: Location  # as findings show it: path relative to the run's root, line, column
    encrypted: bool = False  # the whole file is vault-encrypted: edit it with ansible-vault
    # the other layers that set the same path, highest precedence first (only on a winner)
    below: tuple[Origin, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class _Layer:
    name: str
    entries: Mapping[str, Entry]
    file: Path | None  # a vars file; None for inline vars (their file is in each entry)
    entity: tuple[str, str]  # ("group", name) or ("host", name), for inline key paths


class _Doc:
    """What one source file needs for key paths, read once."""

    __slots__ = ("encrypted", "format", "index", "lines")

    def __init__(self, fmt: str, encrypted: bool) -> None:
        self.format = fmt
        self.encrypted = encrypted
        self.lines: list[str] = []
        # (kind, entity, var) -> every (key path, location of the value), in parser order
        self.index: dict[tuple[str, str, str], list[tuple[KeyPath, Location | None]]] = {}


class Origins:
    """Origins of every host of one resolved inventory (``ResolvedInventory.origins``)."""

    def __init__(self, resolver: Resolver, hosts: Mapping[str, ResolvedHost]) -> None:
        self._resolver = resolver
        self._hosts = hosts
        self._docs: dict[Path, _Doc] = {}
        self._stacks: dict[str, list[_Layer]] = {}
        self._group_stacks: dict[tuple[str, ...], list[_Layer]] = {}
        self._group_layers: dict[tuple[int, str], tuple[_Layer, ...]] = {}

    # ------------------------------------------------------------------ public

    def origin(self, host: str, path: str | Sequence[Any]) -> Origin | None:
        """Where ``host``'s hostvar ``path`` (dotted, or a sequence of keys) is written, with
        the layers below it; ``None`` when the host has no such value. A path inside a value
        that only a template gives (``x: "{{ y }}"``) answers with the template's origin."""
        resolved = self._hosts.get(host)
        if resolved is None:
            return None
        parts = self._split(resolved.vars, path)
        if not parts or _written_prefix(resolved.vars, parts) < len(parts):
            return None
        stack = self._stack(host)
        key, sub = parts[0], parts[1:]
        top = None
        for i in range(len(stack) - 1, -1, -1):
            if key in stack[i].entries:
                top = i
                break
        if top is None:
            return None
        entry = stack[top].entries[key]
        written = _written_prefix(entry.value, sub)
        winner = self._origin(stack[top], key, entry, sub[:written])
        below = tuple(
            self._origin(layer, key, layer.entries[key], sub)
            for layer in reversed(stack[:top])
            if key in layer.entries and _written_prefix(layer.entries[key].value, sub) == len(sub)
        )
        return Origin(winner.file, winner.format, winner.key_path, winner.layer,
                      winner.location, winner.encrypted, below)

    def hosts_sharing(self, file: str | os.PathLike[str],
                      key_path: Sequence[Any]) -> tuple[str, ...]:
        """The hosts whose winning value is the one written at ``key_path`` in ``file``
        (sorted): the hosts an edit of that entry changes."""
        target = Path(os.path.abspath(file))
        key_path = tuple(key_path)
        doc = self._doc(target)
        hostvar = self._hostvar_of(target, doc, key_path)
        if hostvar is None:
            return ()
        found = []
        for name in self._hosts:
            origin = self.origin(name, hostvar)
            if origin is not None and origin.file == target and origin.key_path == key_path:
                found.append(name)
        return tuple(sorted(found))

    # ------------------------------------------------------------------ layers

    def _stack(self, host: str) -> list[_Layer]:
        """The host's layers, lowest precedence first, exactly as ``Resolver`` merges them;
        the group part is shared by the hosts of one group set, as in the resolver."""
        stack = self._stacks.get(host)
        if stack is not None:
            return stack
        resolver = self._resolver
        inv = resolver.inv
        member = inv.membership(inv.hosts[host])
        groups = self._group_stacks.get(member.group_names)
        if groups is None:
            groups = self._group_stacks[member.group_names] = self._groups_part(
                member.group_names)
        stack = [*groups, _Layer("inventory file host vars", inv.hosts[host].vars, None,
                                 ("host", host))]
        where = self._dir_names(len(resolver.host_dirs))
        for i, vdir in enumerate(resolver.host_dirs):
            stack.extend(_Layer(f"{where[i]} host_vars", resolver.ctx.vars_file(p), p,
                                ("host", host)) for p in vdir.files_for(host))
        self._stacks[host] = stack
        return stack

    def _groups_part(self, group_names: tuple[str, ...]) -> list[_Layer]:
        resolver = self._resolver
        inv = resolver.inv
        ordered = sorted(group_names,
                         key=lambda g: (inv.groups[g].depth, inv.groups[g].priority, g))
        stack = [_Layer(f"inventory file group vars:{g}", inv.groups[g].vars, None,
                        ("group", g)) for g in ("all", *ordered)]
        for i in range(len(resolver.group_dirs)):
            stack.extend(self._group_files(i, "all"))
        for i in range(len(resolver.group_dirs)):
            for g in ordered:
                stack.extend(self._group_files(i, g))
        return stack

    def _group_files(self, i: int, group: str) -> tuple[_Layer, ...]:
        found = self._group_layers.get((i, group))
        if found is None:
            resolver = self._resolver
            name = f"{self._dir_names(len(resolver.group_dirs))[i]} group_vars:{group}"
            found = self._group_layers[(i, group)] = tuple(
                _Layer(name, resolver.ctx.vars_file(p), p, ("group", group))
                for p in resolver.group_dirs[i].files_for(group))
        return found

    @staticmethod
    def _dir_names(count: int) -> tuple[str, ...]:
        return ("inventory", "playbook")[:count]

    @staticmethod
    def _split(resolved: Mapping[str, Any], path: str | Sequence[Any]) -> KeyPath:
        """A dotted path cut at the host's real keys (a key may hold dots)."""
        if not isinstance(path, str):
            return tuple(path)
        return _split_in(resolved, path)

    # ------------------------------------------------------------------ key paths

    def _origin(self, layer: _Layer, key: str, entry: Entry, sub: KeyPath) -> Origin:
        loc = _sub_location(entry, sub)
        if layer.file is not None:
            doc = self._doc(layer.file)
            return Origin(layer.file, doc.format, (key, *sub), layer.name, loc, doc.encrypted)
        file = self._absolute(entry.loc.path)
        doc = self._doc(file)
        return Origin(file, doc.format, (*self._inline_path(doc, layer, key, entry), *sub),
                      layer.name, loc, doc.encrypted)

    def _absolute(self, display: str) -> Path:
        return Path(display) if os.path.isabs(display) else self._resolver.ctx.root / display

    def _inline_path(self, doc: _Doc, layer: _Layer, key: str, entry: Entry) -> KeyPath:
        kind, entity = layer.entity
        if doc.format == "ini":
            return _ini_path(doc.lines, entry.loc.line, key)
        candidates = doc.index.get((kind, entity, key), [])
        for path, loc in reversed(candidates):
            if loc == entry.loc:
                return path
        # the last one the parser read won (TOML and JSON keep no positions)
        return candidates[-1][0] if candidates else (key,)

    def _doc(self, file: Path) -> _Doc:
        doc = self._docs.get(file)
        if doc is None:
            doc = self._docs[file] = self._read(file)
        return doc

    def _is_vars_file(self, file: Path) -> bool:
        resolver = self._resolver
        return any(file.is_relative_to(d.path)
                   for d in (*resolver.group_dirs, *resolver.host_dirs))

    def _read(self, file: Path) -> _Doc:
        from mlflow_policy.errors import InputError
        from mlflow_policy.inventory.files import loads_data
        from mlflow_policy.inventory.vault import is_vault_file
        from mlflow_policy.yamlio import decode_utf8

        ctx = self._resolver.ctx
        display = ctx.display(file)
        is_vars_file = self._is_vars_file(file)
        try:
            data_bytes = file.read_bytes()
            encrypted = is_vault_file(data_bytes)
            if encrypted:
                if ctx.secrets is None:
                    return _Doc("yaml", True)  # skipped while resolving: none of its values won
                data_bytes = ctx.secrets.decrypt(data_bytes, display)
            text = decode_utf8(data_bytes, display)
        except (OSError, InputError):
            return _Doc("yaml", False)  # changed since it was read: no key paths to give
        if file.suffix == ".toml" and not is_vars_file:
            import tomllib

            doc = _Doc("toml", encrypted)
            with contextlib.suppress(tomllib.TOMLDecodeError):
                _index_toml(tomllib.loads(text), doc)
            return doc
        if is_vars_file:  # its key paths start at the variable: only the format is needed
            return _Doc("json" if _is_json(text) else "yaml", encrypted)
        data: Any = None
        try:
            data = loads_data(text, display)
        except InputError:
            data = None
        if isinstance(data, Mapping) and data:
            doc = _Doc("json" if _is_json(text) else "yaml", encrypted)
            _index_yaml(data, doc)
            return doc
        doc = _Doc("ini", encrypted)
        doc.lines = text.splitlines()
        return doc

    def _hostvar_of(self, file: Path, doc: _Doc, key_path: KeyPath) -> KeyPath | None:
        """The hostvar path (variable, sub-keys) that ``key_path`` in ``file`` writes."""
        if doc.format == "ini":
            if not key_path:
                return None
            if str(key_path[0]).endswith(":vars"):
                return key_path[1:] or None
            return key_path[2:] or None
        if self._is_vars_file(file):
            return key_path or None  # paths start at the variable
        for (_kind, _entity, var), places in doc.index.items():
            for path, _loc in places:
                if key_path[:len(path)] == path and path[-1] == var:
                    return (var, *key_path[len(path):])
        return None


# ---------------------------------------------------------------------- helpers


def _split_in(value: Any, rest: str) -> KeyPath:
    """``rest`` cut at the keys of ``value``, longest key first ("a.b" in {"a.b": ...})."""
    if not rest:
        return ()
    if isinstance(value, Mapping):
        cut = len(rest)
        while cut > 0:
            text = rest[:cut]
            if text in value:
                return (text, *_split_in(value[text], rest[cut + 1:]))
            cut = rest.rfind(".", 0, cut)
        for key, sub in value.items():  # a key that is not text (6379: in YAML)
            text = str(key)
            if not isinstance(key, str) and (rest == text or rest.startswith(f"{text}.")):
                return (key, *_split_in(sub, rest[len(text) + 1:]))
    return tuple(rest.split("."))


def _written_prefix(value: Any, sub: KeyPath) -> int:
    """How many keys of ``sub`` the written value has, nested."""
    for i, key in enumerate(sub):
        if not isinstance(value, Mapping) or key not in value:
            return i
        value = value[key]
    return len(sub)


def _sub_location(entry: Entry, sub: KeyPath) -> Location:
    loc = entry.loc
    for i in range(len(sub), 0, -1):
        found = entry.nested.get(".".join(str(k) for k in sub[:i]))
        if found is not None:
            return found
    return loc


def _is_json(text: str) -> bool:
    if text.lstrip()[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _ini_path(lines: list[str], line: int, key: str) -> KeyPath:
    section = "ungrouped"
    for i in range(min(line, len(lines)) - 2, -1, -1):
        m = _INI_SECTION.match(lines[i].strip())
        if m:
            section = m.group(1)
            break
    if section.endswith(":vars"):
        return (section, key)
    from mlflow_policy.inventory.ini import split_host_line

    text = lines[line - 1] if 0 < line <= len(lines) else ""
    try:
        tokens = split_host_line(text.strip())
    except ValueError:
        tokens = []
    pattern = tokens[0] if tokens else ""
    if key == "ansible_port" and not any(t.startswith("ansible_port=") for t in tokens[1:]):
        return (section, pattern)
    return (section, pattern, key)


def _walk_yaml_group(name: Any, data: Any, prefix: KeyPath) -> Iterator[
        tuple[str, str, str, KeyPath, Location | None]]:
    """What ``yamlinv._YamlParser.group`` sets, in its order: (kind, entity, var, key path,
    location of the value)."""
    from mlflow_policy.inventory.hostpatterns import PatternError, expand_hostpattern

    if not isinstance(data, Mapping):
        return
    for section, value in data.items():
        if section not in ("vars", "children", "hosts") or not isinstance(value, Mapping):
            continue
        at = (*prefix, section)
        locs = getattr(value, "locs", {})
        if section == "vars":
            for var, _val in value.items():
                yield "group", str(name), var, (*at, var), locs.get(var)
        elif section == "children":
            for sub, subdata in value.items():
                yield from _walk_yaml_group(sub, subdata, (*at, sub))
        else:
            for pattern, hvars in value.items():
                try:
                    names, port = expand_hostpattern(pattern)
                except (PatternError, TypeError, AttributeError):
                    continue
                hlocs = getattr(hvars, "locs", {})
                for host in names:
                    if port:
                        yield "host", host, "ansible_port", (*at, pattern), locs.get(pattern)
                    if isinstance(hvars, Mapping):
                        for var in hvars:
                            yield "host", host, var, (*at, pattern, var), hlocs.get(var)


def _index_yaml(data: Mapping[Any, Any], doc: _Doc) -> None:
    for name, gdata in data.items():
        for kind, entity, var, path, loc in _walk_yaml_group(name, gdata, (name,)):
            doc.index.setdefault((kind, entity, var), []).append((path, loc))


def _index_toml(data: Mapping[str, Any], doc: _Doc) -> None:
    from mlflow_policy.inventory.hostpatterns import PatternError, expand_hostpattern

    for name, gdata in data.items():
        if not isinstance(gdata, Mapping):
            continue
        for var in gdata.get("vars", {}) if isinstance(gdata.get("vars"), Mapping) else ():
            doc.index.setdefault(("group", name, var), []).append(((name, "vars", var), None))
        hosts = gdata.get("hosts")
        for pattern, hvars in hosts.items() if isinstance(hosts, Mapping) else ():
            try:
                names, port = expand_hostpattern(pattern)
            except PatternError:
                continue
            for host in names:
                if port:
                    doc.index.setdefault(("host", host, "ansible_port"), []).append(
                        ((name, "hosts", pattern), None))
                for var in hvars if isinstance(hvars, Mapping) else ():
                    doc.index.setdefault(("host", host, var), []).append(
                        ((name, "hosts", pattern, var), None))
