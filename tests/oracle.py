"""The differential oracle: Ansible itself, run as a subprocess in a clean environment.

``ansible-inventory --list`` is what our static resolver must agree with. Everything here
runs the ``ansible-inventory`` next to the test interpreter (the dev venv / CI venv), with
no ``ANSIBLE_*`` variable of the caller, no ``ansible.cfg`` and a throwaway HOME, so that
the machine a test runs on cannot change the answer.

Tests that need Ansible call :func:`require_ansible` first: it skips when Ansible is not
installed, except when ``MLFLOW_POLICY_REQUIRE_ALL=1`` (CI), where a missing oracle fails.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow_policy.core import Unsafe, VaultedValue

ORACLE_TIMEOUT = 300


def _bin(name: str) -> Path | None:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


def ansible_inventory_bin() -> Path | None:
    return _bin("ansible-inventory")


def require_ansible() -> Path:
    """The ansible-inventory executable; skip (or fail under REQUIRE_ALL) without it."""
    import pytest

    exe = ansible_inventory_bin()
    if exe is None:
        msg = "ansible-inventory is not installed (pip install ansible-core)"
        if os.environ.get("MLFLOW_POLICY_REQUIRE_ALL") == "1":
            pytest.fail(msg + "; MLFLOW_POLICY_REQUIRE_ALL=1 forbids skipping")
        pytest.skip(msg)
    return exe


def clean_env(home: Path, env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any Ansible setting, and a private HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "ANSIBLE_CONFIG": str(home / "no-such-ansible.cfg"),
            "HOME": str(home),
            "ANSIBLE_HOME": str(home / ".ansible"),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "LC_ALL": "C.UTF-8",
        }
    )
    if env_extra:
        env.update(env_extra)
    return env


class OracleError(AssertionError):
    """ansible-inventory itself failed; the message carries its rc and stderr."""

    def __init__(self, rc: int, stderr: str) -> None:
        self.rc = rc
        self.stderr = stderr
        super().__init__(f"ansible-inventory exited {rc}:\n{stderr}")


def _run(exe: Path, args: list[str], cwd: Path, env_extra: Mapping[str, str] | None,
         timeout: float = ORACLE_TIMEOUT) -> str:
    with tempfile.TemporaryDirectory(prefix="mlflow-policy-oracle-") as tmp:
        proc = subprocess.run(
            [str(exe), *args],
            cwd=cwd,
            env=clean_env(Path(tmp), env_extra),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        raise OracleError(proc.returncode, proc.stderr)
    return proc.stdout


def ansible_inventory_list(
    args: list[str], cwd: Path, env_extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``ansible-inventory ARGS --list`` run from ``cwd``, parsed.

    ``args`` holds everything but ``--list`` (``["-i", "hosts", "--playbook-dir", "."]``).
    Raises :class:`OracleError` when Ansible exits non-zero.
    """
    exe = require_ansible()
    out = _run(exe, [*args, "--list"], cwd, env_extra)
    data: dict[str, Any] = json.loads(out)
    return data


def hostvars_from_list(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every host's vars from ``--list`` output; hosts without vars get ``{}``.

    ``--list`` leaves hosts without any var out of ``_meta.hostvars``, so the host set is
    the union of that and every group's ``hosts``.
    """
    hostvars: dict[str, dict[str, Any]] = {
        h: dict(v) for h, v in data.get("_meta", {}).get("hostvars", {}).items()
    }
    for gname, group in data.items():
        if gname == "_meta":
            continue
        for h in group.get("hosts", []):
            hostvars.setdefault(h, {})
    return hostvars


def groups_from_list(data: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Group structure from ``--list``: name -> {"hosts": sorted, "children": sorted}."""
    out: dict[str, dict[str, list[str]]] = {}
    for gname, group in data.items():
        if gname == "_meta":
            continue
        out[gname] = {
            "hosts": sorted(group.get("hosts", [])),
            "children": sorted(group.get("children", [])),
        }
    return out


def host_groups_from_list(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """host -> sorted groups it is in (directly or via children), without all/ungrouped."""
    structure = groups_from_list(data)
    parents: dict[str, set[str]] = {}
    for gname, g in structure.items():
        for child in g["children"]:
            parents.setdefault(child, set()).add(gname)
    result: dict[str, set[str]] = {h: set() for h in hostvars_from_list(data)}
    for gname, g in structure.items():
        for h in g["hosts"]:
            todo = [gname]
            while todo:
                cur = todo.pop()
                if cur in result[h]:
                    continue
                result[h].add(cur)
                todo.extend(parents.get(cur, ()))
    return {h: sorted(gs - {"all", "ungrouped"}) for h, gs in result.items()}


def _key(k: Any) -> str:
    if isinstance(k, str):
        return str(k)
    if k is None or isinstance(k, (bool, int, float)):
        return json.dumps(k)
    return str(k)


def normalise(value: Any) -> Any:
    """Our resolved value as ``ansible-inventory --list`` prints it (JSON-shaped).

    Vaulted values print as ``{"__ansible_vault": ciphertext}``, ``!unsafe`` strings as
    ``{"__ansible_unsafe": text}``, dates as ISO strings, non-string keys the way the
    stdlib JSON encoder turns them into strings, tuples and sets as lists.
    """
    if isinstance(value, VaultedValue):
        return {"__ansible_vault": value.ciphertext}
    if isinstance(value, Unsafe):
        return {"__ansible_unsafe": str(value)}
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # JSON has no NaN/inf literal that compares equal; Ansible writes NaN/Infinity.
        return float(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_key(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [normalise(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


def normalise_hostvars(hostvars: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {h: normalise(dict(v)) for h, v in hostvars.items()}


_RENDER_SCRIPT = r"""
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.manager import VariableManager
from ansible.template import Templar
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict

sources, playbook_dir, hosts, names = json.loads(sys.argv[1])
import os
sources = [os.path.abspath(s) for s in sources]  # as the CLI's unfrack_path does
context.CLIARGS = ImmutableDict({"basedir": playbook_dir})
loader = DataLoader()
if playbook_dir:
    loader.set_basedir(playbook_dir)
inv = InventoryManager(loader=loader, sources=sources)
vm = VariableManager(loader=loader, inventory=inv)
from ansible.vars.hostvars import HostVars
vm._hostvars = HostVars(inventory=inv, variable_manager=vm, loader=loader)  # as a play sets it
out = {}
for h in hosts:
    host = inv.get_host(h)
    hv = vm.get_vars(host=host, include_hostvars=True)
    templar = Templar(loader=loader, variables=hv)
    res = {}
    for n in names:
        if n not in hv:
            res[n] = {"__missing__": True}
            continue
        try:
            res[n] = templar.template(hv[n])
        except Exception as exc:
            res[n] = {"__error__": type(exc).__name__}
    out[h] = res
from ansible._internal._json._profiles import _inventory_legacy
print(json.dumps(out, cls=_inventory_legacy.Encoder, sort_keys=True))
"""


def ansible_rendered_vars(
    sources: list[str],
    cwd: Path,
    hosts: list[str],
    names: list[str],
    playbook_dir: str | None = None,
    *,
    timeout: float = ORACLE_TIMEOUT,
) -> dict[str, dict[str, Any]]:
    """Each named var of each host as Ansible's Templar renders it (one process).

    A var Ansible cannot render comes back as ``{"__error__": ExceptionName}``; a var the
    host does not have as ``{"__missing__": True}``. Slow (imports all of Ansible): batch.
    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    require_ansible()
    out = _run(Path(sys.executable),
               ["-c", _RENDER_SCRIPT, json.dumps([sources, playbook_dir, hosts, names])],
               cwd, None, timeout)
    data: dict[str, dict[str, Any]] = json.loads(out.strip().splitlines()[-1])
    return data
