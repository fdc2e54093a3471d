"""The aggregate rule kind's load checks and the computed fact mlflow.schema_head (the
evaluation itself is the data-driven case tests/cases/aggregate and the pack's tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_policy.cli import main
from mlflow_policy.facts.computed import SCHEMA_HEAD, add_computed, schema_head

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {{name: p}}
spec:
  rules:
    - id: r
{rule}
"""


def _validate(tmp_path: Path, rule: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY.format(rule=rule))
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("rule", "message"), [
    # the partition's numbers are aggregate.sum and aggregate.count, nothing else
    ("      aggregate:\n        sum: server.workers\n        assert:\n"
     "          db.max_connections: {min: '{{ aggregate.total }}'}\n",
     "p.yaml:10:37: spec.rules[0].aggregate.assert[\"db.max_connections\"].min: the template "
     "reads aggregate.total; an aggregate rule defines aggregate.sum and aggregate.count"),
    # only an aggregate rule's assert has them
    ("      assert:\n          db.max_connections: {min: '{{ aggregate.sum }}'}\n",
     "the template reads aggregate.sum, but aggregate.* is only defined in an aggregate "
     "rule's assert"),
    # the term is a fact path (checked against the fact table) or a template
    ("      aggregate:\n        sum: server.wokers\n        assert:\n"
     "          db.max_connections: {min: 1}\n",
     "unknown fact 'server.wokers' (did you mean 'server.workers'?)"),
    ("      aggregate:\n        sum: 'two workers'\n        assert:\n"
     "          db.max_connections: {min: 1}\n",
     "sum must be a fact path or a template ({{ ... }}), got 'two workers'"),
])
def test_aggregate_load_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str,
                               message: str) -> None:
    code, err = _validate(tmp_path, rule, capsys)
    assert code == 2
    assert message in err


def test_a_valid_aggregate_rule_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    rule = ("      aggregate:\n        by: server.backend_store_uri\n"
            "        sum: '{{ server.workers * 2 }}'\n        assert:\n"
            "          db.max_connections: {min: '{{ aggregate.sum + aggregate.count }}'}\n")
    assert _validate(tmp_path, rule, capsys) == (0, "")


@pytest.mark.parametrize(("version", "head", "reason"), [
    ("2.18.0", "0584bdc529eb", None),
    ("2.22.1", "0584bdc529eb", None),  # another release, the same schema
    ("3.1", "6953534de441", None),  # 3.1 means 3.1.0
    ("3.99.0", None, "MLflow 3.99.0 is not a release the built-in catalogue knows"),
    ("3.17.0rc1", None, "MLflow 3.17.0rc1 is not a release the built-in catalogue knows"),
    (">=3.0", None, "mlflow.version '>=3.0' is not one exact release"),
    (3.1, None, "mlflow.version 3.1 is not a version string"),
])
def test_schema_head(version: object, head: str | None, reason: str | None) -> None:
    got_head, got_reason = schema_head(version)
    assert got_head == head
    assert (got_reason is None) is (reason is None)
    if reason is not None:
        assert got_reason is not None
        assert got_reason.startswith(reason)


def test_add_computed_never_writes_through_shared_mappings() -> None:
    shared = {"version": "3.17.2"}
    doc = {"mlflow": shared}
    unavailable: dict[str, str] = {}
    assert add_computed(doc, unavailable) is unavailable
    assert doc["mlflow"] == {"version": "3.17.2", "schema_head": "dc11669786a5"}
    assert shared == {"version": "3.17.2"}  # the resolver's mapping is untouched
    unknown = {"mlflow": {"version": "latest"}}
    assert SCHEMA_HEAD in add_computed(unknown, unavailable)
    assert "schema_head" not in unknown["mlflow"]
    assert add_computed({"host": "h"}, unavailable) is unavailable  # no version: absent


def test_schema_head_is_located_at_the_version_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv"
    (inv / "host_vars").mkdir(parents=True)
    (inv / "hosts").write_text("h1\n")
    (inv / "host_vars" / "h1.yml").write_text("x: 1\nmlflow_version: '3.16.1'\n")
    assert main(["facts", "-i", str(inv)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if SCHEMA_HEAD in ln)
    assert "'b7e2c1a4d9f3'" in line.replace('"', "'")
    assert line.rstrip().endswith("h1.yml:2")


def test_the_observed_schema_head_comes_from_the_observed_version() -> None:
    """Live mode reads the head of the release the host runs, with its source; a release
    the catalogue cannot place leaves it unavailable with the reason."""
    from mlflow_policy.live.result import LiveHostResult
    from mlflow_policy.sources.live import observed_document

    doc = observed_document(LiveHostResult("h", None, "ok", {"mlflow.version": "3.16.1"}))
    assert doc.values["mlflow"]["schema_head"] == "b7e2c1a4d9f3"
    assert doc.sources[SCHEMA_HEAD] == "catalogue: alembic head of MLflow 3.16.1"
    unknown = observed_document(LiveHostResult("h", None, "ok", {"mlflow.version": "9.0.0"}))
    assert "schema_head" not in unknown.values["mlflow"]
    assert unknown.unavailable[SCHEMA_HEAD].startswith("MLflow 9.0.0 is not a release")
    assert SCHEMA_HEAD not in unknown.sources
