"""`mlflow-policy validate` and `mlflow-policy schema` end to end, through main([...]), and
the shipped JSON Schema against the models it is generated from."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import pytest

from mlflow_policy.cli import main
from mlflow_policy.errors import InputErrors
from mlflow_policy.policy import models
from mlflow_policy.policy import schema as schema_mod
from mlflow_policy.policy.loader import load_paths
from mlflow_policy.yamlio import load_all_file

FIXTURES = Path(__file__).parent / "fixtures" / "policy"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"


def test_validate_valid_files(capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(VALID)
    assert main(["validate", "."]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("4 files valid\n", "")
    assert main(["validate", "kinds.yaml"]) == 0
    assert capsys.readouterr() == ("1 file valid\n", "")


def test_validate_reports_every_error_with_file_and_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INVALID)
    assert main(["validate", "unknown-operator.yaml", "rule-kinds.yaml", "bad-regex.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "error: bad-regex.yaml:9:26: spec.rules[0].assert[\"env.X\"].matches: invalid regular "
        "expression '(unclosed': missing ), unterminated subpattern at position 0",
        "error: bad-regex.yaml:11:24: spec.rules[0].assert[\"env.Y\"].not_matches: invalid "
        "regular expression '[z-a]': bad character range z-a at position 1",
        "error: rule-kinds.yaml:7:11: spec.rules[0].id: rule 'none' has no kind: give exactly "
        "one of assert, consistent, unique, peer, promotion, aggregate",
        "error: rule-kinds.yaml:11:19: spec.rules[1].consistent: rule 'two' has several kinds "
        "(assert, consistent); a rule has exactly one",
        "error: unknown-operator.yaml:11:19: spec.rules[0].assert[\"env.MLFLOW_TRACKING_URI\"]: "
        "unknown operator 'matchs' (did you mean 'matches'?)",
        "mlflow-policy: 5 input errors",
    ]


def test_validate_defaults_to_policies_dir(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    assert capsys.readouterr().err == (
        "error: nothing to validate: no FILE given and policies does not exist\n")
    shutil.copytree(VALID, tmp_path / "policies")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "4 files valid\n"


def test_validate_reads_the_configs_policy_and_waiver_paths(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "exceptions").mkdir()
    shutil.copy(VALID / "kinds.yaml", tmp_path / "rules" / "kinds.yaml")
    shutil.copy(INVALID / "waiver.yaml", tmp_path / "exceptions" / "w.yaml")
    (tmp_path / ".mlflow-policy.yaml").write_text("policies: [rules]\nwaivers: [exceptions]\n")
    monkeypatch.chdir(tmp_path)
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert "error: exceptions/w.yaml:6:3: spec: missing required key 'owner'\n" in err
    assert "rules/" not in err
    shutil.copy(VALID / "waivers.yaml", tmp_path / "exceptions" / "w.yaml")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == "2 files valid\n"


def test_validate_imports_neither_ansible_nor_jinja2_nor_the_inventory_package() -> None:
    code = (
        "import sys\n"
        "from mlflow_policy.cli import main\n"
        f"rc = main(['validate', {str(VALID)!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('ansible', 'jinja2')"
        " or m.startswith('mlflow_policy.inventory'))\n"
        "print(rc, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1] == "0 []"


def test_schema_command_prints_the_generated_schema(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert json.loads(out) == schema_mod.generate()


def test_shipped_schema_matches_the_models() -> None:
    """Fails when the models change without `python -m mlflow_policy.policy.schema --write`."""
    assert schema_mod.shipped() == schema_mod.render(), (
        "schema.json is stale: run python -m mlflow_policy.policy.schema --write")
    assert schema_mod.main([]) == 0


# ------------------------------------------------------------ schema and models agree


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


VALIDATOR = jsonschema.Draft202012Validator(json.loads(schema_mod.shipped()))


def _valid_docs() -> list[Any]:
    return [d for p in sorted(VALID.rglob("*.yaml")) for d in load_all_file(p) if d]


@pytest.mark.parametrize("doc", _valid_docs(), ids=lambda d: d["metadata"]["name"])
def test_valid_documents_pass_the_schema_and_the_models(doc: Any) -> None:
    VALIDATOR.validate(_jsonable(doc))
    models.KINDS[doc["kind"]].model_validate(doc)


BASE = {
    "apiVersion": "mlflow-policy/v1", "kind": "Policy", "metadata": {"name": "p"},
    "spec": {"rules": [{"id": "r", "assert": {"env.X": {"required": True}}}]},
}


def _rule(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc["spec"]["rules"][0].update(changes)
    return doc


# Documents both the schema and the models must refuse. (Regexes, specifiers and unique
# rule ids are checked by the models only: a JSON Schema cannot say them.)
REJECTED: dict[str, Any] = {
    "unknown top-level key": {**BASE, "extra": 1},
    "wrong apiVersion": {**BASE, "apiVersion": "mlflow-policy/v2"},
    "unknown operator": _rule(**{"assert": {"env.X": {"matchs": "x"}}}),
    "two kinds": _rule(consistent={"fact": "a"}),
    "no kind": {**BASE, "spec": {"rules": [{"id": "r"}]}},
    "bad severity": _rule(severity="fatal"),
    "bad rule id": _rule(id="Bad_Id"),
    "null operator": _rule(**{"assert": {"env.X": {"matches": None}}}),
    "empty condition": _rule(**{"assert": {"env.X": {}}}),
    "list condition": _rule(**{"assert": {"env.X": ["a"]}}),
    "required false": _rule(**{"assert": {"env.X": {"required": False}}}),
    "bad fact path": _rule(**{"assert": {"env X": {"required": True}}}),
    "empty hosts": _rule(match={"hosts": []}),
    "min list": _rule(**{"assert": {"env.X": {"min": [1]}}}),
    "unique max 0": {**BASE, "spec": {"rules": [{"id": "r", "unique": {"fact": "a", "max": 0}}]}},
    "no rules": {**BASE, "spec": {"rules": []}},
    "waiver without owner": {
        "apiVersion": "mlflow-policy/v1", "kind": "Waiver", "metadata": {"name": "w"},
        "spec": {"rules": ["p/r"], "justification": "j", "expires": "2027-01-01"}},
}


def test_the_base_document_is_valid() -> None:
    VALIDATOR.validate(BASE)
    models.Policy.model_validate(BASE)


@pytest.mark.parametrize("name", list(REJECTED))
def test_schema_and_models_reject_the_same_documents(name: str) -> None:
    doc = REJECTED[name]
    assert not VALIDATOR.is_valid(doc)
    with pytest.raises(pydantic.ValidationError):
        models.KINDS[doc["kind"]].model_validate(doc)


def test_validate_leaves_template_syntax_to_check(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """validate must not import jinja2 (pre-commit speed); the loader `check` uses does
    report the bad template (see fixtures/policy/invalid/bad-template.yaml)."""
    (tmp_path / "p.yaml").write_text(
        "apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: p}\n"
        "spec: {rules: [{id: r, assert: {env.X: {prefix: '{{ vars.team }'}}}]}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "p.yaml"]) == 0
    assert capsys.readouterr().out == "1 file valid\n"
    with pytest.raises(InputErrors) as info:
        load_paths([Path("p.yaml")], tmp_path)
    assert [e.render() for e in info.value.errors] == [
        "p.yaml:4:49: spec.rules[0].assert[\"env.X\"].prefix: invalid template "
        "'{{ vars.team }': unexpected '}'"]
