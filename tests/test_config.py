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
