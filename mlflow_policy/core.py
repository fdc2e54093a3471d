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
class FactDocument:
    """One host's facts as one side knows them: *declared* (what the inventory says) or
    *observed* (what a live run read on the host).

    ``values`` is the nested document of facts.md. ``provenance`` maps a dotted fact path to
    the inventory location of its winning value (declared side); ``sources`` maps a path
    (or an ancestor: the nearest entry applies) to where a live run read it, such as
    ``live: /proc/<pid>/environ`` (observed side). ``vaulted`` are the paths whose value is
    a vault secret, ``unavailable`` the paths (or prefixes, ``db``) this side cannot know,
    with the reason. ``host_unavailable`` says the whole host could not be read
    (unreachable, timed out) and why: then no observed value exists at all.
    """

    values: Mapping[str, Any]
    provenance: Mapping[str, Location] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    vaulted: AbstractSet[str] = frozenset()
    unavailable: Mapping[str, str] = field(default_factory=dict)
    host_unavailable: str | None = None

    def origin(self, path: str) -> Location | str | None:
        """Where ``path``'s value came from: its inventory location, else the live source
        of it or of its nearest ancestor."""
        probe = path
        while probe:
            loc = self.provenance.get(probe)
            if loc is not None:
                return loc
            src = self.sources.get(probe)
            if src is not None:
                return src
            probe = probe.rpartition(".")[0]
        return None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """One host as rules see it: the fact document of the run's mode, and the documents it
    was made from.

    ``facts``, ``provenance``, ``unavailable`` and ``vaulted_paths`` are the document rules
    read (flattened here because every lookup of every rule goes through them). In static
    mode it is the declared document itself; in live mode the observed document, with the
    declared-only and identity facts (``server.url``, ``mlflow.python``, ``vars``...) taken
    from the declared one (see :func:`mlflow_policy.facts.document.for_mode`).
    ``observed`` is set in live mode only; ``declared`` is always available.
    """

    host: str
    inventory: str
    facts: Mapping[str, Any]
    provenance: Mapping[str, Location] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    vaulted_paths: AbstractSet[str] = frozenset()
    # None: the evaluated document above *is* the declared one (static mode), which saves
    # one object per host on a large fleet.
    declared_doc: FactDocument | None = field(default=None, repr=False, compare=False)
    observed: FactDocument | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.inventory, self.host)

    @property
    def declared(self) -> FactDocument:
        if self.declared_doc is not None:
            return self.declared_doc
        return FactDocument(values=self.facts, provenance=self.provenance,
                            vaulted=self.vaulted_paths, unavailable=self.unavailable)


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
