"""The one value the remediation stages hand each other: a hostvar a host should hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class HostvarChange:
    """One declared value to write for one host.

    ``hostvar`` is the key path inside the host's resolved hostvars that the fact maps to
    (``("mlflow_version",)``, ``("mlflow_env", "MLFLOW_TRACKING_URI")``), after the config's
    ``facts:`` table. ``value`` is plain YAML data (str, int, float, bool, list, mapping),
    already rendered and checked safe by the planner: editors write it, they do not judge it.
    """

    inventory: Path  # the inventory source the host comes from (as resolved, absolute)
    host: str
    hostvar: tuple[str, ...]
    value: object
    rules: tuple[str, ...]  # ids of the rules (or mlflow-policy/drift) that asked for it
