"""Frozen value objects shared by every layer (load -> model -> evaluate -> report)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Location(NamedTuple):
    """Where a value was written: path as given/relative to the run's root, 1-based.

    A named tuple, not a frozen dataclass: one is made for every value of every file read
    (~100,000 on a 10,000-host fleet), and a tuple is built and hashed in C."""

    path: str
    line: int
    column: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column}

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class VaultedValue:
    """An Ansible-vault encrypted value. Present, never printed, never decrypted here.

    ``ciphertext`` is kept only so that two vaulted values can be compared for equality
    (``consistent`` on a vaulted secret); reporters must never print it.
    """

    ciphertext: str = field(repr=False)
    # A template that embeds a vaulted part (``postgresql://mlflow:{{ vault_pw }}@db/mlflow``)
    # keeps its text with the vaulted parts as *** so that its scheme can still be checked
    # and shown. Never holds a secret; not part of equality.
    redacted: str | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return "VaultedValue(***)"

    def __str__(self) -> str:
        return self.redacted if self.redacted is not None else "***"


class Unsafe(str):
    """A string tagged ``!unsafe``: Ansible never templates it, neither do we."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HostFacts:
    """One host's fact document, as rules see it.

    ``facts`` is the nested document of facts.md (``host``, ``inventory``, ``groups``,
    ``role``, ``vars``, ``mlflow``, ``env``, ``server``...). ``provenance`` maps a dotted
    fact path to where its winning value was written. ``unavailable`` maps a dotted path
    (or a prefix such as ``db``) that the current mode cannot know to the reason why.
    """

    host: str
    inventory: str
    facts: Mapping[str, Any]
    provenance: Mapping[str, Location] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    vaulted_paths: AbstractSet[str] = frozenset()

    @property
    def key(self) -> tuple[str, str]:
        return (self.inventory, self.host)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding the loaders raise themselves (``mlflow-policy/vaulted-file``,
    ``mlflow-policy/unresolved-template``...), before any policy is evaluated.

    The engine turns each into a finding, so they can be filtered and waived like rules.
    """

    rule: str
    message: str
    inventory: str | None = None
    host: str | None = None
    fact: str | None = None
    location: Location | None = None
    severity: str = "warning"

    @property
    def sort_key(self) -> tuple[str, str, str, str, str]:
        # Not order=True: a location may be None, and None does not compare with Location.
        return (self.inventory or "", self.host or "", self.rule, self.fact or "", self.message)
