"""Render a :class:`~mlflow_policy.remediate.plan.Plan` into files under ``--out``.

Layout (``remediation/`` by default)::

    playbook.yml                       one play over the affected hosts, data inline
    templates/mlflow.env.j2            the env file template the playbook uses (Ansible's)
    env/<inventory>/<host>/mlflow.env  the env file, for users without Ansible (mode 0600)
    inventories/<inventory>/host_vars/<host>.yml    the declared values to hold (patches)
    inventories/<inventory>/group_vars/<group>.yml  ... when a whole group gets one change
    REPORT.md                          changes per host; what needs a human

The patches sit under ``inventories/``, not beside ``playbook.yml``: Ansible loads a
``host_vars/`` next to a playbook, and a partial ``mlflow_env`` there would replace the
inventory's whole mapping (secrets included) for the run.

Templates are Jinja2 files of the repository's top-level ``templates/`` (shipped as
``mlflow_policy/bundled/templates``); a ``templates/`` directory in the run's root
overrides them file by file. Values never go into a template as text to interpolate: they
are quoted by :mod:`mlflow_policy.remediate.values` first (YAML through a safe dumper,
env and systemd lines escaped), and the templates only lay them out.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_policy.errors import InputError, UsageError
from mlflow_policy.remediate import values as V
from mlflow_policy.remediate.actions import HostActions, host_actions
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.plan import (
    NOT_MANAGED,
    NOT_WRITABLE,
    SECRET,
    UNSAFE,
    NeedsHuman,
    Plan,
)

MANIFEST = ".mlflow-policy-remediation"


@dataclass(frozen=True)
class Rendered:
    out: Path
    files: tuple[Path, ...]  # written, relative to out
    playbook: Path | None  # absolute; None when no host needs the playbook
    needs_human: tuple[NeedsHuman, ...]  # the plan's and the renderer's


def safe_name(name: str) -> bool:
    """A host, group or inventory name usable as one path component."""
    return bool(name) and name not in (".", "..") and not any(
        c in name for c in ("/", "\\", "\x00")) and not name.startswith(".") and \
        V.text_problem(name) is None


# --------------------------------------------------------------------------- patches


def _nest(path: Sequence[str], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return out


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def patches(changes: Sequence[HostvarChange], plan: Plan) -> dict[tuple[str, str, str],
                                                                   dict[str, Any]]:
    """(inventory, "host_vars" | "group_vars", name) -> the patch document. A change every
    host of a group gets (and no other host of the run's inventory) goes to the group."""
    members: dict[tuple[str, str], set[str]] = {}
    all_hosts: dict[str, set[str]] = {}
    for h in plan.all_hosts:
        all_hosts.setdefault(h.inventory, set()).add(h.host)
        groups = h.facts.get("groups")
        for g in groups if isinstance(groups, list) else ():
            members.setdefault((h.inventory, str(g)), set()).add(h.host)
    by_change: dict[tuple[str, tuple[str, ...], str], list[HostvarChange]] = {}
    names = {path: name for name, path in plan.inventory_paths.items()}
    for c in changes:
        inv = names.get(c.inventory, str(c.inventory))
        by_change.setdefault((inv, c.hostvar, repr(c.value)), []).append(c)
    docs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for (inv, hostvar, _), items in sorted(by_change.items()):
        hosts = {c.host for c in items}
        left = set(hosts)
        value = items[0].value
        if hosts == all_hosts.get(inv, set()) and len(hosts) > 1:
            _merge(docs.setdefault((inv, "group_vars", "all"), {}), _nest(hostvar, value))
            continue
        groups = sorted(((g, m) for (i, g), m in members.items()
                         if i == inv and len(m) > 1 and m <= hosts),
                        key=lambda gm: (-len(gm[1]), gm[0]))
        for group, m in groups:
            if m <= left:
                _merge(docs.setdefault((inv, "group_vars", group), {}), _nest(hostvar, value))
                left -= m
        for host in sorted(left):
            _merge(docs.setdefault((inv, "host_vars", host), {}), _nest(hostvar, value))
    return docs


# --------------------------------------------------------------------------- templates


def _environment(root: Path) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from mlflow_policy.bundled import bundled

    shipped = Path(str(bundled("templates")))
    loaders = [FileSystemLoader(str(root / "templates"))] if (root / "templates").is_dir() \
        else []
    env = SandboxedEnvironment(loader=ChoiceLoader([*loaders, FileSystemLoader(str(shipped))]),
                               undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters["yaml"] = _yaml_filter
    env.filters["code"] = _code
    return env


def _yaml_filter(data: Any, indent: int = 0) -> str:
    text = V.dump_yaml(data).removeprefix("---\n").rstrip("\n")
    pad = " " * indent
    return "\n".join(pad + line if line else line for line in text.splitlines())


def _code(text: Any) -> str:
    """Markdown inline code that no backtick in ``text`` can close early."""
    s = " ".join(str(text).split("\n"))
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _ansible_file(root: Path, name: str) -> str:
    """An Ansible-side template, copied as it is (it is Jinja2 for Ansible, not for us)."""
    from mlflow_policy.bundled import bundled

    own = root / "templates" / name
    if own.is_file():
        return own.read_text(encoding="utf-8")
    return bundled("templates").joinpath(name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- render


def render(plan: Plan, out: Path, root: Path, mappings: Mapping[str, Mapping[str, str]],
           *, source: str = "") -> Rendered:
    """Write every file of the remediation under ``out`` (atomically, all together)."""
    needs: list[NeedsHuman] = list(plan.needs_human)
    env = _environment(root)
    files: dict[str, tuple[str, int]] = {}
    actions: list[HostActions] = []
    for hp in plan.hosts:
        name, inv = hp.facts.host, hp.facts.inventory
        if not (safe_name(name) and safe_name(inv)):
            needs.append(NeedsHuman(kind=UNSAFE, inventory=inv, host=name,
                                    message="the host or inventory name cannot be a file "
                                            "name; nothing rendered for it"))
            continue
        acts = host_actions(hp, mappings.get(inv, {}), needs)
        actions.append(acts)
        if acts.env_lines is not None:
            text = env.get_template("host.env.j2").render(host=name, inventory=inv,
                                                          lines=acts.env_lines)
            files[f"env/{inv}/{name}/mlflow.env"] = (text, 0o600)
    playbook_hosts = {a.host: a.data for a in actions
                      if any(k in a.data for k in ("pin", "env_file", "dropin"))}
    duplicate = len({a.host for a in actions}) != len(actions)
    if duplicate:
        raise UsageError("remediate: two inventories of the run name the same host; run "
                         "remediate on one inventory at a time (-i)")
    if playbook_hosts:
        files["playbook.yml"] = (env.get_template("playbook.yml.j2").render(
            hosts=playbook_hosts, host_list=sorted(playbook_hosts), source=source), 0o644)
        files["templates/mlflow.env.j2"] = (_ansible_file(root, "ansible/mlflow.env.j2"),
                                            0o644)
    for (inv, kind, name), doc in sorted(patches(plan.changes, plan).items()):
        if not (safe_name(inv) and safe_name(name)):
            needs.append(NeedsHuman(kind=UNSAFE, inventory=inv, host=name,
                                    message=f"{kind} patch not written: the name cannot be a "
                                            "file name"))
            continue
        text = env.get_template("vars-patch.yml.j2").render(
            kind=kind, name=name, inventory=inv, document=V.dump_yaml(doc))
        files[f"inventories/{inv}/{kind}/{name}.yml"] = (text, 0o644)
    needs.sort(key=lambda n: n.sort_key)
    report = env.get_template("REPORT.md.j2").render(
        plan=plan, actions={(a.inventory, a.host): a for a in actions}, needs=needs,
        changes=plan.changes, source=source, files=[*sorted(files), "REPORT.md"],
        kinds=_KIND_TITLES)
    files["REPORT.md"] = (report, 0o644)
    written = write_tree(out, files)
    return Rendered(out=out, files=written,
                    playbook=(out / "playbook.yml") if playbook_hosts else None,
                    needs_human=tuple(needs))


_KIND_TITLES: Mapping[str, str] = {
    "db-upgrade": "Databases to upgrade (never done by the remediation)",
    "conflict": "Conflicts between rules (neither value written)",
    SECRET: "Secrets and vaulted values (never written in clear)",
    UNSAFE: "Values refused (cannot be written safely)",
    "not-rendered": "Values that could not be rendered",
    NOT_WRITABLE: "Facts the remediation cannot write",
    NOT_MANAGED: "Service changes to make by hand (options, restarts)",
    "no-set": "Failing rules without remediation.set",
}


def write_tree(out: Path, files: Mapping[str, tuple[str, int]]) -> tuple[Path, ...]:
    """Write ``files`` (relative path -> (text, mode)) under ``out``: each to a temporary
    file beside its target first, then all renamed; files a previous run wrote (its
    manifest) and this one does not are removed. Never a half-written file."""
    import signal

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    out.mkdir(parents=True, exist_ok=True)
    real_out = out.resolve()
    pending: list[tuple[str, Path]] = []
    try:
        for rel, (text, mode) in sorted(files.items()):
            target = out / rel
            if not target.resolve().is_relative_to(real_out):
                raise InputError(f"remediate: {rel} would be written outside {out}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                       suffix=".tmp")
            pending.append((tmp, target))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        manifest = "".join(f"{rel}\n" for rel in sorted(files))
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f"{MANIFEST}.", suffix=".tmp")
        pending.append((tmp, out / MANIFEST))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(manifest)
        old = _manifest(out)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            for tmp, target in pending:
                os.replace(tmp, target)
            pending = []
            for rel in old - set(files):
                stale = out / rel
                if stale.resolve().is_relative_to(real_out) and stale.is_file():
                    stale.unlink()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        for tmp, _ in pending:
            Path(tmp).unlink(missing_ok=True)
    return tuple(Path(rel) for rel in sorted(files))


def _manifest(out: Path) -> set[str]:
    try:
        text = (out / MANIFEST).read_text(encoding="utf-8")
    except OSError:
        return set()
    return {line for line in text.splitlines() if line and ".." not in Path(line).parts}
