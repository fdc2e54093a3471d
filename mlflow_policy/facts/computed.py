"""Facts computed from other facts of the same document (the fact table's ``computed``
mode): ``mlflow.schema_head``, the alembic head of ``mlflow.version`` in the built-in
catalogue.

Each side computes them from its own inputs: the declared document from the declared
version, the observed one from the version a live run found. So a rule reads the head of
whatever version the run's mode says the host runs, and two releases that share a schema
(2.18.0 to 2.22.x) compare equal where their version strings do not.

A version the catalogue cannot place (an unpinned range, a release newer than the
catalogue) leaves the head *unavailable*, with the reason: a rule on it skips that host
rather than guessing. An absent version leaves it absent; a vaulted one too (its text is
unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow_policy.dotted import MISSING, dig, put

SCHEMA_HEAD = "mlflow.schema_head"
# the fact each computed fact is computed from: findings on it point at that fact's line
SOURCES: Mapping[str, str] = {SCHEMA_HEAD: "mlflow.version"}
_VERSION = ("mlflow", "version")


def schema_head(version: Any) -> tuple[str | None, str | None]:
    """(the alembic head of MLflow ``version``, or why it is unknown)."""
    from mlflow_policy import catalogue

    if not isinstance(version, str):
        return None, f"mlflow.version {version!r} is not a version string"
    head = catalogue.head_for(version)
    if head is not None:
        return head, None
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion:
        return None, (f"mlflow.version {version!r} is not one exact release, so its alembic "
                      "head is unknown")
    return None, (f"MLflow {version} is not a release the built-in catalogue knows (a "
                  "pre-release, or newer than the catalogue): its alembic head is unknown")


def add_computed(values: dict[str, Any], unavailable: Mapping[str, str]
                 ) -> Mapping[str, str]:
    """Put the computed facts into ``values`` (a document being built: mappings on the way
    are copied, never written through) and return ``unavailable`` with the reasons of
    those that cannot be computed (the same mapping when there are none)."""
    version = dig(values, _VERSION)
    if version is MISSING or version is None or _vaulted(version):
        return unavailable
    head, reason = schema_head(version)
    if head is not None:
        put(values, SCHEMA_HEAD, head)
        return unavailable
    assert reason is not None
    return {**unavailable, SCHEMA_HEAD: reason}


def _vaulted(value: Any) -> bool:
    from mlflow_policy.core import VaultedValue

    return isinstance(value, VaultedValue)
