"""Condition values with Jinja2: rendered per host in the sandbox, absent facts named."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.policy.conditions import check
from mlflow_policy.policy.models import Condition
from mlflow_policy.policy.templating import TemplateProblem, render
from mlflow_policy.yamlio import loads

HOST = HostFacts(
    host="client-1", inventory="prod",
    facts={
        "vars": {"team": "nlp", "port": 5000, "bad_re": "(", "key": VaultedValue("C1PHER")},
        "server": {"default_artifact_root": "s3://mlflow-artifacts/nlp/", "port": 5000},
        "mlflow": {"version": "3.17.2"},
        "env": {"MLFLOW_TRACKING_URI": "https://mlflow.corp"},
    },
    unavailable={"http": "observed only (static mode)"},
)
PEER = {"peer": {"mlflow": {"version": "3.18.0"}, "server": {"url": "https://mlflow.corp"}}}


def _check(path: str, raw: Any, extra: Any = None) -> Any:
    return check(Condition.model_validate(raw), HOST, path, extra=extra)


@pytest.mark.parametrize(("path", "raw", "ok"), [
    ("server.default_artifact_root", {"equals": "s3://mlflow-artifacts/{{ vars.team }}/"}, True),
    ("server.default_artifact_root", {"prefix": "s3://mlflow-artifacts/{{ vars.team }}"}, True),
    ("server.default_artifact_root", {"matches": "/{{ vars.team | upper }}/$"}, False),
    ("server.port", {"equals": "{{ vars.port }}"}, True),  # one expression: native int
    ("server.port", {"equals": "{{ vars.port }}/"}, False),  # text around: a string
    ("server.port", {"one_of": ["{{ vars.port + 1 }}", "{{ vars.port }}"]}, True),
    ("server.port", {"min": "{{ vars.port - 1 }}", "max": "{{ vars.port }}"}, True),
    ("server.port", {"max": "{{ vars.port - 1 }}"}, False),
    ("server.default_artifact_root", "{% if vars.team == 'nlp' %}s3://mlflow-artifacts/nlp/"
                                     "{% endif %}", True),
])
def test_templated_values_render_against_the_host(path: str, raw: Any, ok: bool) -> None:
    assert _check(path, raw).ok is ok


def test_peer_facts_come_from_extra() -> None:
    res = _check("mlflow.version", {"version": "<={{ peer.mlflow.version }}"}, extra=PEER)
    assert res.ok
    assert res.expected == "version '<=3.18.0'"
    res = _check("mlflow.version", {"version": ">{{ peer.mlflow.version }}"}, extra=PEER)
    assert not res.ok
    assert res.message == ("mlflow.version is '3.17.2', expected to be a version satisfying "
                           "'>3.18.0'")


@pytest.mark.parametrize(("raw", "missing"), [
    ({"equals": "s3://x/{{ vars.nope }}/"}, "vars.nope"),
    ({"prefix": "{{ vars.team.deeper.still }}"}, "vars.team"),  # a string has no .deeper
    ({"version": "<={{ peer.mlflow.version }}"}, "peer"),  # no peer given
    ({"equals": "{{ nothing }}"}, "nothing"),
    ({"one_of": ["a", "{{ vars.missing }}"]}, "vars.missing"),
])
def test_a_template_reading_an_absent_fact_is_a_violation_naming_it(raw: Any,
                                                                    missing: str) -> None:
    res = _check("server.default_artifact_root", raw)
    assert res.ok is False
    assert res.skipped is None
    if missing != "vars.team":
        assert f"{missing} is absent" in res.message
    assert res.message.startswith("server.default_artifact_root: cannot check")


def test_absent_nested_fact_is_named_by_its_full_path() -> None:
    res = _check("mlflow.version", {"version": "<={{ peer.mlflow.nope }}"}, extra=PEER)
    assert res.message == ("mlflow.version: cannot check 'version': peer.mlflow.nope is absent "
                           "(read by '<={{ peer.mlflow.nope }}')")


def test_a_template_reading_an_unavailable_fact_is_skipped() -> None:
    res = _check("mlflow.version", {"equals": "{{ http.version }}"})
    assert res.ok is False
    assert res.skipped == "'equals' reads http, which is unavailable (observed only (static mode))"


def test_absent_subject_still_holds_vacuously_without_rendering() -> None:
    assert _check("env.NOPE", {"equals": "{{ vars.nope }}"}).ok is True


def test_a_bad_regex_or_specifier_after_rendering_is_a_violation_not_a_crash() -> None:
    res = _check("env.MLFLOW_TRACKING_URI", {"matches": "{{ vars.bad_re }}"})
    assert not res.ok
    assert res.skipped is None
    assert "cannot check 'matches': invalid regular expression '('" in res.message
    res = _check("mlflow.version", {"version": "<={{ vars.team }}"})
    assert "cannot check 'version': invalid PEP 440 version specifier '<=nlp'" in res.message


def test_template_syntax_error_is_a_violation() -> None:
    res = _check("mlflow.version", {"equals": "{{ vars.team }"})
    assert not res.ok
    assert "invalid template" in res.message


def test_vaulted_values_are_never_rendered_into_strings() -> None:
    res = _check("env.MLFLOW_TRACKING_URI", {"prefix": "https://{{ vars.key }}"})
    assert not res.ok
    assert "vaulted" in res.message
    assert "C1PHER" not in res.message


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(TemplateProblem):
        render("{{ vars.__class__.__mro__ }}", {"vars": {}})
    with pytest.raises(TemplateProblem):
        render("{{ ''.__class__.__subclasses__() }}", {})
    with pytest.raises(TemplateProblem):  # immutable: no mutation of facts
        render("{{ vars.update({'a': 1}) }}", {"vars": {}})


def test_jinja2_is_imported_only_for_templated_values() -> None:
    code = (
        "import sys\n"
        "from mlflow_policy.core import HostFacts\n"
        "from mlflow_policy.policy.conditions import check\n"
        "from mlflow_policy.policy.models import Condition\n"
        "h = HostFacts('h', 'i', {'a': 'x'})\n"
        "check(Condition.model_validate({'equals': 'x', 'matches': 'x'}), h, 'a')\n"
        "print('jinja2' in sys.modules)\n"
        "check(Condition.model_validate({'equals': '{{ a }}'}), h, 'a')\n"
        "print('jinja2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


def test_unsafe_strings_in_policies_are_literal_text() -> None:
    doc = loads('c: {equals: !unsafe "{{ vars.team }}", matches: !unsafe "^{{ v"}\n', "p.yaml")
    cond = Condition.model_validate(doc["c"])
    literal = HostFacts(host="h", inventory="i", facts={"v": "{{ vars.team }}"})
    assert check(cond, literal, "v").ok
    rendered = HostFacts(host="h", inventory="i", facts={"v": "nlp", "vars": {"team": "nlp"}})
    assert not check(cond, rendered, "v").ok


def test_a_template_reading_a_secret_never_prints_what_it_rendered() -> None:
    host = HostFacts(host="h", inventory="i", facts={
        "env": {"MLFLOW_TRACKING_URI": "https://u:pw@mlflow"},
        "vars": {"db_password": "s3cr3t", "api_token": "(tok", "guess": "s3cr3t"}})
    res = check(Condition.model_validate({"suffix": "{{ vars.db_password }}"}), host,
                "env.MLFLOW_TRACKING_URI")
    assert res.expected == "suffix ***"
    # an argument rendered from a secret is secret material: comparing with it would be an
    # oracle (put a guess in a fact, read pass or fail), so it is not checked at all
    assert res.skipped is not None
    assert "rendered from a secret" in res.skipped
    assert "s3cr3t" not in res.message
    guessing = [check(Condition.model_validate({op: "{{ vars.db_password }}"}), host,
                      "vars.guess") for op in ("equals", "not_equals", "matches")]
    assert all(r.skipped is not None and not r.ok for r in guessing)
    res = check(Condition.model_validate({"matches": "{{ vars.api_token }}"}), host,
                "env.MLFLOW_TRACKING_URI")
    assert "(tok" not in res.message
