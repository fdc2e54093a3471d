"""Data shipped in the wheel: the bundled policy pack (``policies/`` of the repository,
linked here so that one copy serves the demo, the tests and ``init``), an example inventory
and the scaffold files ``mlflow-policy init`` writes."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def bundled(name: str) -> Traversable:
    return files(__name__) / name
