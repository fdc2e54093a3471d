"""Fact sources: where a run's fleet comes from. Each has ``load() -> Fleet``.

- :class:`StaticInventories`: our resolver over inventory files (static mode);
- :class:`SnapshotFile`: a facts document written by ``facts --format json`` (static or
  live), evaluated on its own;
- a :class:`~mlflow_policy.facts.declared.Fleet` already in memory is a source too;
- :class:`mlflow_policy.sources.live.LiveInventories` (``--live``): gathers through
  ansible-runner, builds each host's observed :class:`~mlflow_policy.core.FactDocument` and
  returns :func:`with_observed`; :class:`mlflow_policy.sources.live.ResultsDirectory`
  (``check --facts DIR``) does the same from a ``gather-playbook`` results directory.

Sources never print and never read the current directory: paths are resolved against the
``root`` the caller passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mlflow_policy.config import RunConfig

if TYPE_CHECKING:
    from mlflow_policy.core import FactDocument
    from mlflow_policy.facts.declared import Fleet
    from mlflow_policy.inventory import VaultSecrets


class FactSource(Protocol):
    def load(self) -> Fleet: ...


@dataclass(frozen=True)
class StaticInventories:
    """Each inventory resolved on its own, as ``ansible-inventory -i`` would."""

    paths: Sequence[Path]
    config: RunConfig
    root: Path
    vault_secrets: VaultSecrets | None = None

    def load(self) -> Fleet:
        from mlflow_policy.facts.declared import load_fleet

        return load_fleet(self.paths, self.config, root=self.root,
                          vault_secrets=self.vault_secrets)


@dataclass(frozen=True)
class SnapshotFile:
    """A facts document: hosts, provenance, inventories and the loaders' diagnostics as
    the run that wrote it had them. A hand-written document without ``diagnostics`` gets
    the ones the facts themselves give (``unknown-mlflow-env``)."""

    path: Path
    root: Path

    def load(self) -> Fleet:
        from mlflow_policy.facts import snapshot
        from mlflow_policy.facts.declared import Fleet as _Fleet
        from mlflow_policy.facts.envcheck import env_diagnostics
        from mlflow_policy.policy.loader import display_path

        path = self.path if self.path.is_absolute() else self.root / self.path
        snap = snapshot.read(path, display_path(path, self.root))
        diagnostics = snap.diagnostics
        if diagnostics is None:
            diagnostics = tuple(env_diagnostics(snap.hosts))
        return _Fleet(inventories=snap.inventories, hosts=snap.hosts,
                      diagnostics=tuple(sorted(diagnostics, key=lambda d: d.sort_key)),
                      mode=snap.mode)


def with_observed(declared: Fleet, observed: Mapping[tuple[str, str], FactDocument]) -> Fleet:
    """The live fleet: each declared host with its observed document, keyed by (inventory,
    host); a host the gatherer returned nothing for counts as unreadable (every observed
    fact unavailable). What a live source returns, and ``run_check`` then also reports
    drift over the config's ``drift:`` paths."""
    from mlflow_policy.facts.declared import Fleet as _Fleet
    from mlflow_policy.facts.document import for_mode

    hosts = tuple(for_mode(h.host, h.inventory, h.declared, observed.get(h.key), "live")
                  for h in declared.hosts)
    return _Fleet(inventories=declared.inventories, hosts=hosts,
                  diagnostics=declared.diagnostics, mode="live")


__all__ = ["FactSource", "SnapshotFile", "StaticInventories", "with_observed"]
