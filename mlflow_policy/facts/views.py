"""Fact-path views over a resolved host's hostvar-path provenance and vaulted set.

A fact path (``env.MLFLOW_TRACKING_URI``, ``vars.mlflow_env.X``) names the same value as
a hostvar path (``mlflow_env.MLFLOW_TRACKING_URI``) through the fact mapping. Translating
on lookup, instead of copying every host's provenance under fact paths, keeps building a
fact document O(1) per host: the resolver shares these mappings between all hosts of a
group set, and most of a large fleet's hosts never have a finding to locate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.facts.computed import SOURCES as COMPUTED_SOURCES
from mlflow_policy.facts.lookup import covered


class FactPaths:
    """Fact path <-> hostvar path, for one fact mapping."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        # (fact path, hostvar path split at its dots): what a declared document reads
        self.split_pairs = [(fact, tuple(var.split("."))) for fact, var in sorted(
            mapping.items(), key=lambda fv: (-len(fv[0]), fv[0]))]
        # A computed fact (mlflow.schema_head) is located, and vaulted, where the fact it
        # is computed from is written: a finding on it points at the line to change.
        mapping = {**mapping, **{computed: mapping[source] for computed, source
                                 in COMPUTED_SOURCES.items() if source in mapping}}
        # Longest fact first, so a nested mapping entry wins over its parent's.
        self.pairs = sorted(mapping.items(), key=lambda fv: (-len(fv[0]), fv[0]))
        # hostvar name (first dotted part) -> the (fact, var) pairs that can rebase it
        self._by_top: dict[str, list[tuple[str, str]]] = {}
        self._fact_paths: dict[str, tuple[str, ...]] = {}
        self._to_var: dict[str, str | None] = {}
        # (id(vaulted set), fact path) -> (the set, covered); see VaultedView.covers
        self.covers_cache: dict[tuple[int, str], tuple[Set[str], bool]] = {}
        for fact, var in mapping.items():
            self._by_top.setdefault(var.partition(".")[0], []).append((fact, var))

    def to_var(self, path: str) -> str | None:
        try:
            return self._to_var[path]
        except KeyError:
            pass
        found: str | None = None
        if path.startswith("vars."):
            found = path[5:]
        else:
            for fact, var in self.pairs:
                if path == fact:
                    found = var
                    break
                if path.startswith(fact) and path[len(fact)] == ".":
                    found = var + path[len(fact):]
                    break
        if len(self._to_var) < 65536:  # rules ask about a few paths, on every host
            self._to_var[path] = found
        return found

    def fact_paths(self, key: str) -> tuple[str, ...]:
        """Every fact path naming the hostvar path ``key`` (cached: hosts share keys)."""
        found = self._fact_paths.get(key)
        if found is None:
            found = self._fact_paths[key] = tuple(p for p, _ in self.rebase(((key, None),)))
        return found

    def to_facts(self, keys: Iterable[str]) -> Iterator[str]:
        """Every fact path naming one of ``keys`` (hostvar paths)."""
        for path, _ in self.rebase((k, None) for k in keys):
            yield path

    def rebase(self, items: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """(hostvar path, x) -> (fact path, x), for every fact path naming the hostvar."""
        by_top = self._by_top
        for key, item in items:
            yield "vars." + key, item
            pairs = by_top.get(key.partition(".")[0])
            if pairs:
                for fact, var in pairs:
                    if key == var:
                        yield fact, item
                    elif key.startswith(var) and key[len(var)] == ".":
                        yield fact + key[len(var):], item


class ProvenanceView(Mapping[str, Location]):
    __slots__ = ("_paths", "_prov")

    def __init__(self, prov: Mapping[str, Location], paths: FactPaths) -> None:
        self._prov = prov
        self._paths = paths

    def __getitem__(self, path: str) -> Location:
        var = self._paths.to_var(path)
        if var is None:
            raise KeyError(path)
        return self._prov[var]

    def __iter__(self) -> Iterator[str]:
        return self._paths.to_facts(self._prov)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def located(self) -> Iterator[tuple[str, Location]]:
        """``items()`` without translating each path back (what listing all of them needs)."""
        return self._paths.rebase(self._prov.items())

    def by_hostvar(self) -> tuple[Mapping[str, Location], FactPaths]:
        """The hostvar-path provenance under the view, and the mapping that translates it
        (for a caller that caches per hostvar path what it derives)."""
        return self._prov, self._paths

    @property
    def identity(self) -> tuple[int, int]:
        """Equal for views over the same shared provenance and mapping (a cache key, valid
        while the view is alive)."""
        return (id(self._prov), id(self._paths))


class VaultedView(Set[str]):
    __slots__ = ("_paths", "_vaulted")

    def __init__(self, vaulted: Set[str], paths: FactPaths) -> None:
        self._vaulted = vaulted
        self._paths = paths

    def __contains__(self, path: object) -> bool:
        if not self._vaulted or not isinstance(path, str):
            return False
        var = self._paths.to_var(path)
        return var is not None and var in self._vaulted

    def __iter__(self) -> Iterator[str]:
        return self._paths.to_facts(self._vaulted)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return bool(self._vaulted)

    def hostvar_paths(self) -> Set[str]:
        """The vaulted hostvar paths under the view (shared between hosts: a cache key)."""
        return self._vaulted

    def covers(self, path: str) -> bool:
        """``path`` or a mapping above it is vaulted (cached per shared set and path:
        rules ask the same few paths of every host)."""
        vaulted = self._vaulted
        if not vaulted:
            return False
        cache = self._paths.covers_cache
        key = (id(vaulted), path)
        hit = cache.get(key)
        if hit is not None and hit[0] is vaulted:
            return hit[1]
        found = covered(self, path)
        if len(cache) > 65536:
            cache.clear()
        cache[key] = (vaulted, found)
        return found
