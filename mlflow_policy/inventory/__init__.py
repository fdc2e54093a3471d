"""Static Ansible inventory resolution with provenance (facts.md "Resolving hostvars").

Resolves an inventory as ``ansible-inventory -i PATH --list`` would, without importing
or running Ansible: hostvars with Ansible's precedence, INI/YAML/JSON/TOML sources,
``group_vars``/``host_vars``, vaulted values kept opaque, Jinja2 rendered in a sandbox.
Light to import: jinja2 and Ansible's vault library load only when needed.
"""

from __future__ import annotations

from pathlib import Path

from mlflow_policy.inventory.types import GroupInfo, ResolvedHost, ResolvedInventory
from mlflow_policy.inventory.vault import VaultSecrets

__all__ = [
    "GroupInfo",
    "ResolvedHost",
    "ResolvedInventory",
    "VaultSecrets",
    "resolve_inventory",
]


def resolve_inventory(
    path: Path,
    *,
    name: str | None = None,
    playbook_dir: Path | None = None,
    vault_secrets: VaultSecrets | None = None,
    root: Path | None = None,
) -> ResolvedInventory:
    """Resolve one inventory (a file or a directory of sources).

    ``name`` defaults to the directory name (or the file stem); ``playbook_dir`` adds the
    ``group_vars/``/``host_vars/`` there with Ansible's precedence; locations are relative
    to ``root`` (default: the current directory). Raises ``InputErrors`` with every
    problem found (file:line each).
    """
    from mlflow_policy.errors import InputError
    from mlflow_policy.gcpause import paused
    from mlflow_policy.inventory.build import resolve

    try:
        with paused():  # see gcpause.py: what resolving builds all lives on
            return resolve(Path(path), name=name, playbook_dir=playbook_dir,
                           vault_secrets=vault_secrets, root=root)
    except RecursionError:
        # values or group chains nested deeper than Python's stack: bad input, not a crash
        raise InputError("inventory data is nested too deeply to resolve", str(path)) from None
