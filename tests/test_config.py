"""Config discovery and strictness."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_policy.config import DEFAULT_FACT_MAPPING, load_config
from mlflow_policy.errors import InputError, InputErrors


def test_defaults_without_a_config(tmp_path: Path) -> None:
    (tmp_path / "inventories" / "b").mkdir(parents=True)
    (tmp_path / "inventories" / "a").mkdir()
    (tmp_path / "inventories" / "README.md").write_text("not an inventory")
    config = load_config(root=tmp_path)
    assert config.source is None
    assert config.fail_on == "error"
    assert [p.name for p in config.default_inventories(tmp_path)] == ["a", "b"]


def test_yaml_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "policies: [p/]\ninventories: inv/prod\nfail_on: warning\n"
        "facts:\n  mlflow.version: mlflow_release\n  inventories:\n    legacy: {env: old_env}\n"
        "roles:\n  tracking_server: [servers]\n  client: [clients, trainers]\n")
    config = load_config(root=tmp_path)
    assert config.policies == (tmp_path / "p",)
    assert config.inventories == (tmp_path / "inv/prod",)
    assert config.fail_on == "warning"
    assert config.mapping_for("prod")["mlflow.version"] == "mlflow_release"
    assert config.mapping_for("prod")["env"] == DEFAULT_FACT_MAPPING["env"]
    assert config.mapping_for("legacy")["env"] == "old_env"
    assert config.roles == (("tracking_server", ("servers",)), ("client", ("clients", "trainers")))


def test_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\n\n[tool.mlflow-policy]\nfail_on = 'never'\nbogus = 1\n")
    with pytest.raises(InputErrors) as info:
        load_config(root=tmp_path)
    [err] = info.value.errors
    assert err.path == "pyproject.toml"
    assert err.line == 4
    assert "unknown key 'bogus'" in err.message


def test_every_config_error_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "polcies: [x]\nfail_on: sometimes\nroles: {a: b}\n")
    with pytest.raises(InputErrors) as info:
        load_config(root=tmp_path)
    lines = sorted((e.line, e.message.split(" ")[0]) for e in info.value.errors)
    assert [line for line, _ in lines] == [1, 2, 3]


def test_explicit_missing_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", tmp_path)


def test_fact_paths_of_facts_and_drift_are_checked_and_located(tmp_path: Path) -> None:
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "facts:\n"
        "  mlfow.version: mlflow_release\n"
        "  db.revision: alembic_head\n"
        "  env.MLFLOW_X: my_env_x\n"
        "  inventories:\n"
        "    legacy: {http.version: v}\n"
        "drift: [mlflow.version, env, server, env.MLFLOW_X, mlflow.verson]\n")
    with pytest.raises(InputErrors) as info:
        load_config(root=tmp_path)
    got = [(e.path, e.line, e.message) for e in info.value.errors]
    assert got == [
        (".mlflow-policy.yaml", 2, "'facts': unknown fact path 'mlfow.version' "
                                   "(did you mean 'mlflow.version'?)"),
        (".mlflow-policy.yaml", 3, "'facts': 'db.revision' is observed only: no hostvar "
                                   "declares it"),
        (".mlflow-policy.yaml", 6, "'facts.inventories.legacy': 'http.version' is observed "
                                   "only: no hostvar declares it"),
        (".mlflow-policy.yaml", 7, "'drift': unknown fact path 'mlflow.verson' "
                                   "(did you mean 'mlflow.version'?)"),
    ]


def test_valid_fact_paths_are_kept(tmp_path: Path) -> None:
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "facts: {env.MLFLOW_X: my_env_x, role: my_role}\n"
        "drift: [mlflow.version, env, server, env.MLFLOW_X, db.revision]\n")
    config = load_config(root=tmp_path)
    assert config.mapping_for("any")["env.MLFLOW_X"] == "my_env_x"
    assert config.mapping_for("any")["role"] == "my_role"
    assert config.drift == ("mlflow.version", "env", "server", "env.MLFLOW_X", "db.revision")


def test_shape_errors_keep_their_texts_and_lines(tmp_path: Path) -> None:
    (tmp_path / ".mlflow-policy.yaml").write_text(
        "policies: 3\nplaybook_dir: ''\nroles: {a: b}\ndrift: mlflow.version\n"
        "facts: {inventories: {x: 3}}\nwaivers: [w/]\n")
    with pytest.raises(InputErrors) as info:
        load_config(root=tmp_path)
    assert [(e.line, e.message) for e in info.value.errors] == [
        (1, "'policies' must be a path or a list of paths"),
        (2, "'playbook_dir' must be a path"),
        (3, "'roles' must map each role to a list of group names"),
        (4, "'drift' must be a list of fact paths"),
        (5, "'x' must map fact paths to hostvar names"),
    ]


def test_pyproject_errors_point_at_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\n\n[tool.mlflow-policy]\ndrift = ['mlflow.verson']\n")
    with pytest.raises(InputErrors) as info:
        load_config(root=tmp_path)
    [err] = info.value.errors
    assert (err.path, err.line) == ("pyproject.toml", 4)
    assert "unknown fact path 'mlflow.verson'" in err.message


def test_a_run_without_a_config_file_does_not_import_pydantic(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from mlflow_policy.config import load_config;"
            f" load_config(root=Path({str(tmp_path)!r})); print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_schema_command_prints_the_shipped_config_schema(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    import jsonschema

    from mlflow_policy import configmodel
    from mlflow_policy.cli import main

    assert main(["schema", "--config"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == configmodel.generate()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {"policies": ["policies/"], "fail_on": "warning", "drift": ["env.MLFLOW_X", "server"],
            "facts": {"mlflow.version": "v", "inventories": {"legacy": {"env": "e"}}}}
    assert not list(validator.iter_errors(good))
    for bad in ({"polcies": []}, {"drift": ["mlfow.version"]}, {"facts": {"db.revision": "x"}},
                {"fail_on": "sometimes"}):
        assert list(validator.iter_errors(bad)), bad


def test_shipped_config_schema_matches_the_model() -> None:
    """Fails when the model changes without `python -m mlflow_policy.configmodel --write`."""
    from mlflow_policy import configmodel

    assert configmodel.shipped() == configmodel.render(), (
        "config.schema.json is stale: run python -m mlflow_policy.configmodel --write")
