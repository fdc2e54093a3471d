"""``remediate --write`` / ``--diff``: the declared values of the inventory's own files
changed so that they hold the fix.

Where a value goes (provenance from :mod:`mlflow_policy.inventory.origin`):

- the file and entry that hold the host's winning value, when every host that entry gives
  its value to gets this same change (a shared ``group_vars`` entry is edited once);
- otherwise the narrowest place that wins by Ansible's precedence: a group's
  ``group_vars`` file when every host of that group gets the same value and that file's
  layer beats the current winner for each of them, else the host's own ``host_vars`` file
  (above every group layer). A nested key (``mlflow_env.X``) written there takes the
  host's whole mapping with it: Ansible replaces a mapping from a higher layer, it does
  not merge it, so writing the one key alone would drop the others;
- a value that is vaulted or a Jinja2 template where it is written (or on the way to it)
  is never overwritten: a note says a human must change it.

Nothing is written while planning: :class:`EditPlan` holds old and new text per file,
``diff()`` shows them, ``write()`` replaces them all atomically (all temporaries first).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import VaultedValue
from mlflow_policy.errors import InputError
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.yaml_edit import EditRefused, KeyPath, _same, is_template

if TYPE_CHECKING:
    from mlflow_policy.inventory import ResolvedInventory
    from mlflow_policy.inventory.origin import Origin, Origins

__all__ = ["EditPlan", "plan_edits"]

# A host or group name that is safe as a file name in host_vars/ or group_vars/.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+\-]*")
_VARS_EXTS = (".yml", ".yaml", "", ".json")


@dataclass
class EditPlan:
    """Old and new text of every file the edit touches (old is "" for a new file)."""

    root: Path
    files: dict[Path, tuple[str, str]] = field(default_factory=dict)
    created: set[Path] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def display(self, path: Path) -> str:
        try:
            return os.path.relpath(path, self.root) if path.is_relative_to(self.root) \
                else str(path)
        except ValueError:
            return str(path)

    def diff(self) -> str:
        """Unified diff of every change, paths relative to the root, in path order."""
        out: list[str] = []
        for path in sorted(self.files):
            old, new = self.files[path]
            shown = self.display(path)
            out.extend(difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                "/dev/null" if path in self.created else f"a/{shown}", f"b/{shown}"))
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end "
                       "of file\n" for line in out)

    def write(self) -> None:
        """Replace every file atomically, or none: each file still holds its old text (else
        InputError, nothing written), new files' directories are made, every new text goes
        to a temporary beside its file, then all are renamed together (outputs.write_all:
        mode and symlinks kept)."""
        from mlflow_policy import outputs

        for path, (old, _new) in self.files.items():
            if path in self.created:
                if path.exists():
                    raise InputError("appeared since the edit was planned; plan again",
                                     self.display(path))
                continue
            try:
                current = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                current = None
            if current != old:
                raise InputError("changed since the edit was planned; plan again",
                                 self.display(path))
        made: list[Path] = []
        try:
            for path in sorted(self.created):
                missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
                for directory in reversed(missing):
                    directory.mkdir()
                    made.append(directory)
            outputs.write_all([([new], path) for path, (_old, new) in sorted(self.files.items())])
        except BaseException:
            for directory in reversed(made):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise


# ---------------------------------------------------------------------- precedence


def _rank(layer: str, inv: ResolvedInventory) -> tuple[Any, ...]:
    """A layer's place in Ansible's order (resolve.py's docstring), comparable across the
    layers of one host."""
    where, _, group = layer.partition(":")
    if where == "inventory file group vars":
        return (0,) if group == "all" else (1, _group_key(inv, group))
    dir_index = 1 if where.startswith("playbook") else 0
    if where.endswith("group_vars"):
        return (2, dir_index) if group == "all" else (3, dir_index, _group_key(inv, group))
    if where == "inventory file host vars":
        return (4,)
    return (5, dir_index)  # host_vars


def _group_key(inv: ResolvedInventory, group: str) -> tuple[int, int, str]:
    info = inv.groups[group]
    return (info.depth, info.priority, group)


def _group_hosts(inv: ResolvedInventory, group: str) -> set[str]:
    seen, todo = {group}, [group]
    hosts: set[str] = set()
    while todo:
        info = inv.groups.get(todo.pop())
        if info is None:
            continue
        hosts.update(h for h in info.hosts if h in inv.hosts)
        for child in info.children:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return hosts


# ---------------------------------------------------------------------- helpers


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(k) for k in path)


def _written(value: Any, path: KeyPath) -> int:
    for i, key in enumerate(path):
        if not isinstance(value, Mapping) or key not in value:
            return i
        value = value[key]
    return len(path)


def _raw_refusal(raw: Mapping[str, Any], path: KeyPath) -> str | None:
    """Why the host's written value on the way to ``path`` must not be overwritten."""
    value: Any = raw
    for i, key in enumerate(path):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
        shown = _dotted(path[:i + 1])
        if isinstance(value, VaultedValue):
            return f"{shown} is vaulted: re-encrypt it with ansible-vault"
        if is_template(value):
            return f"{shown} is a Jinja2 template: change what it refers to, or the template"
        if i < len(path) - 1 and not isinstance(value, Mapping):
            return f"{shown} is not a mapping"
    return None


def _plain(value: Any) -> Any:
    """A deep copy a writer can change (the resolver's values are shared)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return copy.copy(value)


def _put(doc: dict[Any, Any], path: KeyPath, value: Any) -> None:
    node = doc
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _is_vault_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return True  # unreadable: never pick it


def _vars_file(base: Path, kind: str, name: str) -> Path:
    """The file of ``kind`` (host_vars/group_vars) for ``name`` to add a variable to: an
    existing plain file Ansible reads for it, else ``<kind>/<name>.yml``."""
    top = base / kind
    for ext in _VARS_EXTS:
        candidate = top / f"{name}{ext}"
        if candidate.is_file() and not _is_vault_file(candidate):
            return candidate
    folder = top / name
    if folder.is_dir():
        inside = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _VARS_EXTS
                        and not p.name.startswith(".") and not _is_vault_file(p))
        preferred = [p for p in inside if p.stem in ("vars", "main")]
        if preferred or inside:
            return (preferred or inside)[0]
    return top / f"{name}.yml"


# ---------------------------------------------------------------------- planning


@dataclass
class _Ops:
    """Edits collected per file before any text is made."""

    yaml: dict[Path, list[tuple[KeyPath, Any]]] = field(default_factory=dict)
    ini: dict[Path, dict[tuple[KeyPath, int], Any]] = field(default_factory=dict)


class _Planner:
    def __init__(self, inv: ResolvedInventory, origins: Origins, notes: list[str],
                 ops: _Ops, display: Any) -> None:
        self.inv = inv
        self.origins = origins
        self.notes = notes
        self.ops = ops
        self.display = display
        path = Path(os.path.abspath(inv.path))
        self.base = path if path.is_dir() else path.parent
        self._sharing: dict[tuple[Path, KeyPath], tuple[str, ...]] = {}

    def sharing(self, origin: Origin) -> tuple[str, ...]:
        key = (origin.file, origin.key_path)
        found = self._sharing.get(key)
        if found is None:
            found = self._sharing[key] = self.origins.hosts_sharing(*key)
        return found

    def plan(self, changes: Sequence[HostvarChange]) -> None:
        wanted: dict[str, dict[KeyPath, Any]] = {}
        for change in changes:
            if change.host not in self.inv.hosts:
                self.notes.append(f"{change.host}: not a host of inventory {self.inv.name}; "
                                  "nothing written")
                continue
            per_host = wanted.setdefault(change.host, {})
            if change.hostvar in per_host and not _same(per_host[change.hostvar],
                                                        change.value):
                self.notes.append(f"{change.host}: two different values asked for "
                                  f"{_dotted(change.hostvar)}; nothing written for it")
                per_host[change.hostvar] = _CONFLICT
                continue
            per_host[change.hostvar] = change.value
        # (entry file, entry key path, hostvar, value) -> the hosts asking, with details
        in_place: dict[tuple[Path, KeyPath, KeyPath], list[tuple[str, Origin, int]]] = {}
        narrow: dict[str, set[str]] = {}  # host -> top-level vars to write for it alone
        reason: dict[tuple[str, str], str] = {}
        for host, paths in sorted(wanted.items()):
            resolved = self.inv.hosts[host]
            for path, value in paths.items():
                if value is _CONFLICT or not path:
                    continue
                refusal = _raw_refusal(resolved.raw_vars, path)
                if refusal:
                    self.notes.append(f"{host}: {refusal}; not written (needs a human)")
                    paths[path] = _CONFLICT
                    continue
                n = _written(resolved.vars, path)
                if n == len(path) and _same(_get(resolved.raw_vars, path), value):
                    continue  # already holds it
                if n == 0:
                    narrow.setdefault(host, set()).add(str(path[0]))
                    continue
                origin = self.origins.origin(host, path[:n])
                if origin is None or tuple(origin.key_path[-n:]) != path[:n]:
                    self.notes.append(f"{host}: {_dotted(path)} is given by a template; "
                                      "not written (needs a human)")
                    paths[path] = _CONFLICT
                    continue
                if origin.encrypted:
                    self.notes.append(
                        f"{host}: {_dotted(path)} is in the vault-encrypted file "
                        f"{self.display(origin.file)}; not written (edit it with "
                        "ansible-vault)")
                    paths[path] = _CONFLICT
                    continue
                if origin.format == "toml":
                    self.notes.append(
                        f"{host}: {_dotted(path)} is in the TOML inventory "
                        f"{self.display(origin.file)}, which is not edited; not written")
                    paths[path] = _CONFLICT
                    continue
                in_place.setdefault((origin.file, origin.key_path, path), []).append(
                    (host, origin, n))
        for (file, _key_path, path), asking in in_place.items():
            hosts = {h for h, _o, _n in asking}
            value = wanted[asking[0][0]][path]
            sharing = self.sharing(asking[0][1])
            same = all(h in wanted and _same(wanted[h].get(path, _CONFLICT), value)
                       for h in sharing)
            if same:
                self._in_place(asking[0][0], asking[0][1], asking[0][2], path, value)
                continue
            for host in hosts:
                narrow.setdefault(host, set()).add(str(path[0]))
                others = len(sharing)
                reason[(host, str(path[0]))] = (
                    f"{_dotted(path)} is set in {self.display(file)} for {others} hosts, not "
                    "all of which get this change")
        self._narrow(wanted, narrow, reason)

    # ------------------------------------------------------------------ in place

    def _in_place(self, host: str, origin: Origin, n: int, path: KeyPath,
                  value: Any) -> None:
        rest = path[n:]
        if origin.format == "ini":
            var_at = len(origin.key_path) - (n - 1)
            entry = tuple(origin.key_path[:var_at])
            if len(entry) < 2:
                self.notes.append(f"{_dotted(path)}: a port in a host pattern is edited by "
                                  "hand")
                return
            slot = (entry, origin.location.line)
            whole = self.ops.ini.setdefault(origin.file, {})
            if slot not in whole:  # the entry's value: the host's, since it wins there
                whole[slot] = _plain(self.inv.hosts[host].raw_vars[path[0]])
            if len(path) == 1:
                whole[slot] = value
            else:
                if not isinstance(whole[slot], dict):
                    whole[slot] = {}
                _put(whole[slot], path[1:], value)
            return
        self.ops.yaml.setdefault(origin.file, []).append(
            ((*origin.key_path, *rest), value))

    # ------------------------------------------------------------------ narrow places

    def _narrow(self, wanted: dict[str, dict[KeyPath, Any]], narrow: dict[str, set[str]],
                reason: dict[tuple[str, str], str]) -> None:
        # host -> top var -> the whole value the host's own place must hold
        whole: dict[str, dict[str, Any]] = {}
        for host, tops in narrow.items():
            raw = self.inv.hosts[host].raw_vars
            for top in sorted(tops):
                value: Any = _plain(raw[top]) if top in raw else None
                for path, new in wanted[host].items():
                    if new is _CONFLICT or str(path[0]) != top:
                        continue
                    if len(path) == 1:
                        value = _plain(new)
                    else:
                        if not isinstance(value, dict):
                            value = {}
                        _put(value, path[1:], _plain(new))
                whole.setdefault(host, {})[top] = value
        tops_all = sorted({t for per in whole.values() for t in per})
        for top in tops_all:
            placed = self._groups_for(top, whole)
            for host in sorted(whole):
                if top not in whole[host] or host in placed:
                    continue
                self._host_file(host, top, whole[host][top], reason.get((host, top)))

    def _winner_rank(self, host: str, top: str) -> tuple[Any, ...] | None:
        if top not in self.inv.hosts[host].vars:
            return None
        origin = self.origins.origin(host, (top,))
        return _rank(origin.layer, self.inv) if origin is not None else None

    def _groups_for(self, top: str, whole: dict[str, dict[str, Any]]) -> set[str]:
        """Groups whose every host gets the same whole value of ``top`` and whose
        group_vars file would win for each of them: written there, largest first."""
        hosts = {h for h, per in whole.items() if top in per}
        placed: set[str] = set()
        candidates = []
        for group in self.inv.groups:
            if group in ("all", "ungrouped") or not _SAFE_NAME.fullmatch(group):
                continue
            members = _group_hosts(self.inv, group)
            if len(members) < 2 or not members <= hosts:
                continue
            candidates.append((-len(members), _group_key(self.inv, group), group, members))
        for _size, key, group, members in sorted(candidates):
            if members & placed:
                continue
            first = whole[min(members)][top]
            if not all(_same(whole[h][top], first) for h in members):
                continue
            mine = (3, 0, key)
            ranks = [self._winner_rank(h, top) for h in members]
            if any(r is not None and r >= mine for r in ranks):
                continue
            target = _vars_file(self.base, "group_vars", group)
            self.ops.yaml.setdefault(target, []).append(((top,), first))
            self.notes.append(
                f"{group}: {top} written to {self.display(target)} for the group's "
                f"{len(members)} hosts ({', '.join(sorted(members))}), where it wins for "
                "each of them")
            placed |= members
        return placed

    def _host_file(self, host: str, top: str, value: Any, why: str | None) -> None:
        if not _SAFE_NAME.fullmatch(host) or host in (".", ".."):
            self.notes.append(f"{host}: the host name is not a safe file name; {top} not "
                              "written (needs a human)")
            return
        target = _vars_file(self.base, "host_vars", host)
        self.ops.yaml.setdefault(target, []).append(((top,), value))
        if why:
            nested = isinstance(value, dict) and top in self.inv.hosts[host].raw_vars
            self.notes.append(
                f"{host}: {why}; wrote {self.display(target)} instead"
                + (f" (the whole {top} mapping: Ansible replaces a mapping, it does not "
                   "merge it)" if nested else ""))


class _Conflict:
    def __repr__(self) -> str:
        return "<conflict>"


_CONFLICT: Any = _Conflict()


def _get(value: Any, path: KeyPath) -> Any:
    for key in path:
        value = value[key]
    return value


def _common_root(paths: Sequence[Path]) -> Path:
    if not paths:
        return Path.cwd()
    return Path(os.path.commonpath([str(p) for p in paths]))


def _refusal_notes(plan: EditPlan, shown: str, refused: list[tuple[KeyPath, str]]) -> None:
    plan.notes.extend(f"{shown}: {_dotted(path)}: {why}; not written (needs a human)"
                      for path, why in refused)


def plan_edits(changes: Sequence[HostvarChange], resolved: Sequence[ResolvedInventory], *,
               root: Path | None = None) -> EditPlan:
    """The edits of the inventories' own files that make each change's host hold its
    value. ``resolved`` are the inventories the changes name (``HostvarChange.inventory``
    is matched against ``ResolvedInventory.path``, both absolute); diff paths are relative
    to ``root`` (default: the common directory of those inventories)."""
    from mlflow_policy.remediate.ini_edit import edit_ini
    from mlflow_policy.remediate.yaml_edit import edit_yaml

    by_path = {Path(os.path.abspath(inv.path)): inv for inv in resolved}
    bases = [p if p.is_dir() else p.parent for p in by_path]
    plan = EditPlan(root=Path(os.path.abspath(root)) if root else _common_root(bases))
    ops = _Ops()
    grouped: dict[Path, list[HostvarChange]] = {}
    for change in changes:
        grouped.setdefault(Path(os.path.abspath(change.inventory)), []).append(change)
    for inv_path, inv_changes in grouped.items():
        inv = by_path.get(inv_path)
        if inv is None or inv.origins is None:
            plan.notes.append(f"{plan.display(inv_path)}: not a resolved inventory of this "
                              "run; nothing written")
            continue
        _Planner(inv, inv.origins, plan.notes, ops, plan.display).plan(inv_changes)
    for path, yaml_ops in sorted(ops.yaml.items()):
        shown = plan.display(path)
        try:
            old = path.read_text(encoding="utf-8") if path.exists() else None
            new, refused = edit_yaml(old, yaml_ops, shown)
        except EditRefused as exc:
            plan.notes.append(f"{shown}: {exc}; not written (needs a human)")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            plan.notes.append(f"{shown}: cannot read it ({type(exc).__name__}); not written")
            continue
        _refusal_notes(plan, shown, refused)
        if new != (old or ""):
            if old is None:
                plan.created.add(path)
            plan.files[path] = (old or "", new)
    for path, ini_ops in sorted(ops.ini.items()):
        shown = plan.display(path)
        try:
            old = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            plan.notes.append(f"{shown}: cannot read it ({type(exc).__name__}); not written")
            continue
        new, refused = edit_ini(old, [(k, line, v) for (k, line), v in ini_ops.items()])
        _refusal_notes(plan, shown, refused)
        if new != old:
            plan.files[path] = (old, new)
    return plan
