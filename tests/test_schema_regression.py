"""Issue 14's "a PR that moves a backend to a release with an older alembic head" is PR
mode's built-in mlflow-policy/schema-migration (it compares the base and head of a change,
which no rule kind can): a newer version string is not a newer schema."""

from __future__ import annotations

import pytest

from mlflow_policy.core import HostFacts
from mlflow_policy.gitdiff import schema_migrations


def _server(version: str) -> HostFacts:
    return HostFacts(host="tracking-1", inventory="prod", facts={
        "host": "tracking-1", "inventory": "prod", "role": "tracking_server",
        "mlflow": {"version": version},
        "server": {"backend_store_uri": "postgresql://mlflow@db/mlflow"}})


@pytest.mark.parametrize(("old", "new", "severity"), [
    ("3.0.1", "3.1.0", "error"),  # a newer release whose alembic head is older
    ("2.18.0", "2.22.5", None),  # same head (0584bdc529eb): nothing to migrate
    ("3.1.0", "3.17.2", "warning"),  # a real upgrade: migrations to run
])
def test_schema_direction_follows_alembic_heads_not_versions(
        old: str, new: str, severity: str | None) -> None:
    found = schema_migrations([_server(old)], [_server(new)])
    assert [f.severity for f in found] == ([severity] if severity else [])
    if severity == "error":
        assert "cannot downgrade" in found[0].message
