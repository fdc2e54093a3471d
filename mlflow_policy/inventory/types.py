"""The resolver's public value objects (what ``mlflow-policy facts`` and the engine see)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import Diagnostic, Location

if TYPE_CHECKING:
    from mlflow_policy.inventory.origin import Origins


@dataclass(frozen=True, slots=True)
class ResolvedHost:
    """One host of one inventory, resolved the way ``ansible-inventory --list`` does.

    ``vars`` and ``raw_vars`` share unchanged values with other hosts (no per-host deep
    copy): treat them as read-only.
    """

    name: str
    groups: tuple[str, ...]
    vars: dict[str, Any]
    raw_vars: dict[str, Any]
    provenance: dict[str, Location]
    vaulted: frozenset[str]


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group's structure as ``--list`` shows it: direct hosts and direct children."""

    name: str
    hosts: tuple[str, ...]
    children: tuple[str, ...]
    depth: int = 0
    priority: int = 1


@dataclass(frozen=True, slots=True)
class ResolvedInventory:
    name: str
    path: Path
    hosts: dict[str, ResolvedHost]
    groups: dict[str, GroupInfo]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # where each host's values are written, for editors (computed on demand; see origin.py)
    origins: Origins | None = field(default=None, compare=False, repr=False)
