"""Unknown fact paths are load errors in `validate` and `check`, with "did you mean".

(The located messages of every kind of site are pinned by the data-driven fixture
tests/fixtures/policy/invalid/unknown-fact-paths.yaml; this file runs the two commands a
policy author uses, on a typo that used to pass silently.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_policy.cli import main
from mlflow_policy.policy.factpaths import path_problem, template_paths

POLICY = """\
apiVersion: mlflow-policy/v1
kind: Policy
metadata: {{name: team}}
spec:
  rules:
    - id: pinned
      assert:
        {path}: {{required: true}}
"""

INVENTORY = "all:\n  hosts:\n    h1:\n      mlflow_version: '3.17.2'\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "inventories" / "prod").mkdir(parents=True)
    (tmp_path / "inventories" / "prod" / "hosts.yml").write_text(INVENTORY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("path", "line"), [
    ("mlflow.verison", "unknown fact 'mlflow.verison' (did you mean 'mlflow.version'?)"),
    ("env.MLFLOW_TRACKNG_URI", "reads an environment variable named MLFLOW_TRACKNG_URI "
                               "(did you mean env.MLFLOW_TRACKING_URI?)"),
])
def test_a_typo_in_a_fact_path_stops_validate_and_check(
        repo: Path, capsys: pytest.CaptureFixture[str], path: str, line: str) -> None:
    (repo / "policies" / "team.yaml").write_text(POLICY.format(path=path))
    for argv in (["validate"], ["check"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "policies/team.yaml:8:" in err, (argv, err)
        assert line in err, (argv, err)


def test_the_right_path_checks_hosts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "policies" / "team.yaml").write_text(POLICY.format(path="env.MLFLOW_TRACKING_URI"))
    assert main(["validate"]) == 0
    assert main(["check"]) == 1  # h1 sets no tracking URI: found, not silently passed
    assert "env.MLFLOW_TRACKING_URI is absent" in capsys.readouterr().out


@pytest.mark.parametrize("path", [
    "vars.anything", "vars.a.b.c", "env.AWS_ACCESS_KEY_ID", "env.OTEL_EXPORTER_OTLP_ENDPOINT",
    "env.MLFLOW_TRACKING_URI", "env._MLFLOW_SERVER_FILE_STORE", "server", "db.revision",
    "mlflow.version", "groups", "role",
])
def test_known_and_free_form_paths_are_accepted(path: str) -> None:
    assert path_problem(path) is None


def test_template_names_skip_strings_and_method_names() -> None:
    source = "{{ mlflow.version.split('.')[0] }}-{{ 'a.b' ~ vars.team }}{% if env.X %}x{% endif %}"
    assert list(template_paths(source)) == ["mlflow.version", "vars.team", "env.X"]


def test_explain_lists_the_mlflow_variables_an_env_glob_matches(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "policies" / "team.yaml").write_text(POLICY.format(path="env.MLFLOW_HTTP_*"))
    assert main(["explain", "team/pinned"]) == 0
    out = capsys.readouterr().out
    assert "MLFLOW_HTTP_*: a glob; MLflow variables it matches: " in out
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in out
