"""Rendering a var once for every host whose inputs are the same.

Most templates read only group-level vars (``https://{{ mlflow_tracking_fqdn }}``), so
thousands of hosts render them to the same result. A var's *signature* on a host names
everything its rendering can read: the var's own :class:`Entry`, and for every name its
templates reference (``jinja2.meta.find_undeclared_variables``, once per template text)
the Entry that host resolves it to (recursively for templated ones) or the magic var's
value. Entries are shared between hosts that inherit them, so equal signatures mean the
same rendering, and its outcome (value, failures, vaulted paths, and what it told the
templates being rendered around it) is replayed instead of rendered again.

What cannot be keyed this way is never memoised: ``hostvars`` and ``vars`` (they read
anything), reference cycles, and templates Jinja cannot parse.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from mlflow_policy.dotted import strings
from mlflow_policy.inventory.data import Entry
from mlflow_policy.inventory.sealing import Frame

# magic vars that reach beyond the host's own entries
_UNKEYABLE = frozenset({"hostvars", "vars"})
_NAMES: dict[str, frozenset[str] | None] = {}


def template_names(source: str) -> frozenset[str] | None:
    """The names a template text reads from its scope; ``None`` if it does not parse."""
    if source in _NAMES:
        return _NAMES[source]
    from mlflow_policy.inventory.jinja import parse, simple_nodes

    simple = simple_nodes(source)
    names: frozenset[str] | None
    if simple is not None:  # plain substitutions: no need for Jinja's parser
        names = frozenset(n[0] for n in simple if isinstance(n, tuple))
    else:
        from jinja2 import meta

        try:
            names = frozenset(meta.find_undeclared_variables(parse(source)))
        except Exception:  # a syntax error: rendering reports it, nothing to share
            names = None
    if len(_NAMES) > 4096:
        _NAMES.clear()
    _NAMES[source] = names
    return names


@dataclass(frozen=True, slots=True)
class Marks:
    """What a rendering marked on the frames of the templates being rendered around it."""

    opaque: bool
    secret: bool
    ciphertexts: tuple[str, ...]

    @classmethod
    def of(cls, frame: Frame) -> Marks:
        return cls(frame.opaque, frame.secret, tuple(frame.ciphertexts))

    def replay(self, frames: list[Frame]) -> None:
        for frame in frames:
            frame.opaque = frame.opaque or self.opaque
            frame.secret = frame.secret or self.secret
            frame.ciphertexts.extend(self.ciphertexts)


@dataclass(frozen=True, slots=True)
class RenderOutcome:
    """Everything rendering one var did, to replay it on another host."""

    value: Any
    failures: tuple[tuple[str, str], ...]  # (dotted path, reason)
    vaulted_paths: tuple[str, ...]
    opaque: bool
    secret: bool
    marks: Marks


@dataclass(frozen=True, slots=True)
class LeafOutcome:
    """Everything rendering one template string did (a var may mix shared leaves with
    per-host ones such as ``/nlp/{{ inventory_hostname }}``)."""

    value: Any
    reason: str | None  # why it failed
    opaque: bool
    secret: bool
    marks: Marks


class Memo:
    """Shared by every host's scope of one resolver run."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, Hashable], RenderOutcome] = {}
        self.leaves: dict[tuple[str, Hashable], LeafOutcome] = {}
        self._refs: dict[int, tuple[Entry, tuple[str, ...] | None]] = {}

    def refs(self, entry: Entry) -> tuple[str, ...] | None:
        """The names an entry's templates read, sorted; ``None`` if one does not parse."""
        hit = self._refs.get(id(entry))
        if hit is not None and hit[0] is entry:
            return hit[1]
        names: set[str] = set()
        result: tuple[str, ...] | None = None
        for s in strings(entry.value):
            if "{" not in s:
                continue
            found = template_names(s)
            if found is None:
                break
            names |= found
        else:
            result = tuple(sorted(names))
        # the entry is kept with its id, so the id cannot be reused while cached
        self._refs[id(entry)] = (entry, result)
        return result


class Signer:
    """Signatures of one host's vars (see the module docstring)."""

    __slots__ = ("entries", "magic", "memo", "sigs", "visiting")

    def __init__(self, entries: Mapping[str, Entry], magic: Mapping[str, Any],
                 memo: Memo) -> None:
        self.entries = entries
        self.magic = magic
        self.memo = memo
        self.sigs: dict[str, Hashable | None] = {}
        self.visiting: set[str] = set()

    def var(self, name: str) -> Hashable | None:
        """The signature of templated var ``name``; ``None``: do not memoise."""
        if name in self.sigs:
            return self.sigs[name]
        if name in self.visiting:
            return None  # a cycle: rendering reports it, per host
        entry = self.entries[name]
        refs = self.memo.refs(entry)
        if refs is None:
            self.sigs[name] = None
            return None
        self.visiting.add(name)
        try:
            parts: list[Hashable] = [id(entry)]
            for ref in refs:
                part = self._name(ref)
                if part is None:
                    self.sigs[name] = None
                    return None
                parts.append(part)
        finally:
            self.visiting.discard(name)
        sig = self.sigs[name] = tuple(parts)
        return sig

    def leaf(self, source: str) -> Hashable | None:
        """The signature of one template string; ``None``: do not memoise."""
        names = template_names(source)
        if names is None:
            return None
        parts: list[Hashable] = []
        for name in sorted(names):
            part = self._name(name)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)

    def _name(self, name: str) -> Hashable | None:
        # the same order as HostScope.__getitem__: magic vars first
        if name in self.magic:
            if name in _UNKEYABLE:
                return None
            value = self.magic[name]
            if name == "groups":
                return ("groups",)  # one mapping for the whole run
            return ("m", tuple(value)) if isinstance(value, list) else ("m", value)
        entry = self.entries.get(name)
        if entry is None:
            # a Jinja global or undefined: the same for every host
            return None if name in _UNKEYABLE else ("g",)
        if entry.has_template:
            return self.var(name)
        return id(entry)  # entries stay alive for the run, so ids are not reused
