"""What `init` writes and what `check --help` says, from a new user's point of view: the CI
templates install a version that exists before the tool is on PyPI, and the summary line's
words are explained where a user looks for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from mlflow_policy.cli import main
from mlflow_policy.report.text import SUMMARY_HELP
from tests.support import REPO

CI_FILES = (".github/workflows/mlflow-policy.yml", ".gitlab-ci.yml")


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fleet")
    assert main(["init", str(root)]) == 0
    return root


def _install_spec(node: object) -> str | None:
    """The value of the MLFLOW_POLICY_INSTALL variable, wherever the CI file sets it."""
    if isinstance(node, dict):
        if isinstance(node.get("MLFLOW_POLICY_INSTALL"), str):
            return str(node["MLFLOW_POLICY_INSTALL"])
        node = list(node.values())
    if isinstance(node, list):
        return next((s for s in map(_install_spec, node) if s is not None), None)
    return None


@pytest.mark.parametrize("name", CI_FILES)
def test_ci_templates_install_from_the_repository_pinned(scaffolded: Path, name: str) -> None:
    text = (scaffolded / name).read_text()
    assert not re.search(r"pip install mlflow-policy\s*$", text, re.MULTILINE), (
        "installs from PyPI, where mlflow-policy is not published yet")
    assert 'pip install "$MLFLOW_POLICY_INSTALL"' in text
    spec = _install_spec(yaml.safe_load(text))
    assert spec is not None
    req = Requirement(spec)
    assert req.name == "mlflow-policy"
    assert req.url is not None
    assert req.url.startswith("git+https://")
    assert req.url.rsplit("@", 1)[1] == "TAG_OR_COMMIT"  # the placeholder the user fills in
    # the scaffold's README tells the user the same command and where to fill it in
    readme = (scaffolded / "README.md").read_text()
    assert f'pip install "{spec}"' in readme
    assert "MLFLOW_POLICY_INSTALL" in readme


def test_check_help_explains_the_summary_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("unmatched", "skipped", "waived", "(run)"):
        assert re.search(rf"^  {re.escape(word)} +\S", out, re.MULTILINE), word
    # the report formats page shows the same text, verbatim
    assert SUMMARY_HELP in (REPO / "docs" / "reports.md").read_text()
