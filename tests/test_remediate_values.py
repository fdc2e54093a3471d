"""Safe values (remediate/values.py), checked with parsers of each target format.

- env files: python-dotenv (what ``mlflow --env-file`` uses) and the gather module's own
  parser (systemd EnvironmentFile= and shell rules) read every line back to the value;
- systemd ``Environment=``: a parser of systemd's quoting reads it back;
- YAML: the project's strict loader (Ansible's YAML 1.1 types, ``!unsafe``) reads it back
  to the same data and the same types;
and the injection case's rendered files hold exactly the intended keys.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlflow_policy import yamlio
from mlflow_policy.core import Unsafe
from mlflow_policy.live.ansible.library.mlflow_policy_facts import parse_env_file
from mlflow_policy.remediate import values as V

# printable text, quotes and backslashes included (what may be written)
SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40) \
    .filter(lambda s: V.text_problem(s, env=True) is None)


def _dotenv(text: str) -> dict[str, str | None]:
    from dotenv import dotenv_values

    return dict(dotenv_values(stream=io.StringIO(text)))


def systemd_unquote(line: str) -> tuple[str, str]:
    """``Environment="K=V"`` as systemd reads it: one double-quoted word, C escapes
    (\\\\, \\", ...), then ``%%`` -> ``%`` (specifier expansion)."""
    assert line.startswith('Environment="')
    assert line.endswith('"')
    body = line[len('Environment="'):-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert ch != '"', "an unescaped quote would end the word"
        out.append(ch)
        i += 1
    text = "".join(out)
    assert re.fullmatch(r"(?:[^%]|%%)*", text), "a bare % would be a specifier"
    name, _, value = text.replace("%%", "%").partition("=")
    return name, value


@given(SAFE_TEXT)
def test_env_line_reads_back_alike_in_dotenv_and_systemd_rules(value: str) -> None:
    line = V.env_line("MLFLOW_X", value, "h")
    assert "\n" not in line
    assert _dotenv(line + "\n") == {"MLFLOW_X": value}
    assert parse_env_file(line + "\n") == {"MLFLOW_X": value}
    assert V.read_env_line(line) == ("MLFLOW_X", value)


@given(SAFE_TEXT)
def test_systemd_environment_reads_back(value: str) -> None:
    line = V.systemd_environment("MLFLOW_X", value, "h")
    assert systemd_unquote(line) == ("MLFLOW_X", value)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | SAFE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=3),
    max_leaves=8))
def test_yaml_reads_back_to_the_same_data_and_types(data: Any) -> None:
    doc = {"mlflow_x": data}
    loaded = yamlio.loads(V.dump_yaml(doc), "patch.yml")
    assert _plain(loaded) == doc
    assert _types(loaded) == _types(doc)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return "str" if isinstance(value, str) else type(value).__name__


@pytest.mark.parametrize("value", ["yes", "no", "on", "0644", "1_000", "12:30", "0x1F",
                                   "~", "null", "1e3", "- x", "#c", "a: b", "[1]", "*x"])
def test_yaml_11_lookalikes_stay_strings(value: str) -> None:
    assert yamlio.loads(V.dump_yaml({"k": value}), "x.yml") == {"k": value}


def test_jinja_markers_are_written_unsafe() -> None:
    text = V.dump_yaml({"k": "{{ lookup('pipe', 'id') }}", "j": "{% if %}"})
    loaded = yamlio.loads(text, "x.yml")
    assert isinstance(loaded["k"], Unsafe)
    assert isinstance(loaded["j"], Unsafe)
    assert "!unsafe" in text


@pytest.mark.parametrize(("value", "reason"), [
    ("a\nb", "a newline"), ("a\rb", "a carriage return"), ("a\x00b", "a NUL byte"),
    ("a\x1bb", "U+001B"), ("a\x7fb", "U+007F"), ('say "hi', "double quotes do not balance"),
    ("'open", "unmatched ' quote"), ('"', "do not balance"), ("${HOME}", "python-dotenv"),
    ("a\tb", "a tab"),
])
def test_refused_values_name_host_fact_and_reason_never_the_value(value: str,
                                                                  reason: str) -> None:
    with pytest.raises(V.UnsafeValue) as info:
        V.env_line("MLFLOW_SECRET_KEY", value, "srv-1")
    message = str(info.value)
    assert message.startswith("srv-1: env.MLFLOW_SECRET_KEY: ")
    assert reason in message
    assert value not in message


@pytest.mark.parametrize("name", ["A B", "A=B", "1A", "", "A\nB", "Ä"])
def test_bad_variable_names_are_refused(name: str) -> None:
    with pytest.raises(V.UnsafeValue):
        V.env_line(name, "x", "h")
    with pytest.raises(V.UnsafeValue):
        V.systemd_environment(name, "x", "h")


def test_percent_and_quotes_are_escaped_for_systemd() -> None:
    assert V.systemd_environment("X", 's3://b/%h/"x"\\y', "h") == \
        'Environment="X=s3://b/%%h/\\"x\\"\\\\y"'


# --------------------------------------------------------------------------- injection case

INJ = Path(__file__).parent / "fixtures" / "remediate" / "injection" / "expected"


def test_injection_env_file_holds_only_the_intended_keys() -> None:
    text = (INJ / "env" / "inj" / "srv" / "mlflow.env").read_text()
    expected = {
        "INJ_B": 'x" MLFLOW_EVIL="1 \\ end',
        "INJ_D": "{{ lookup('ansible.builtin.pipe', 'id') }}",
        "INJ_INV_QUOTES": 'say "hi" \\ bye',
        "INJ_KEEP": "kept",
    }
    assert parse_env_file(text) == expected
    assert _dotenv(text) == expected
    assert "MLFLOW_EVIL=1" not in re.sub(r'\\"', "", text).replace('"', "\n").split("\n")


def test_injection_patch_holds_only_the_intended_keys() -> None:
    doc = yamlio.loads((INJ / "inventories" / "inj" / "group_vars" / "all.yml").read_text(),
                       "all.yml")
    assert _plain(doc) == {
        "mlflow_default_artifact_root": 's3://b/%h/"x"\\ExecStart=/bin/evil',
        "mlflow_env": {"INJ_B": 'x" MLFLOW_EVIL="1 \\ end',
                       "INJ_D": "{{ lookup('ansible.builtin.pipe', 'id') }}"},
        "mlflow_flags": ["yes", "0644", "1_000", "12:30", "- x", "#no", "null"],
    }
    assert isinstance(doc["mlflow_env"]["INJ_D"], Unsafe)


def test_injection_playbook_data_and_dropin_hold_only_the_intended_keys() -> None:
    [play] = yamlio.loads((INJ / "playbook.yml").read_text(), "playbook.yml")
    assert play["hosts"] == ["srv"]  # the host named like a path is not rendered
    srv = play["vars"]["mlflow_policy_hosts"]["srv"]
    assert set(srv) == {"managed", "env_var", "env_file", "env", "service", "dropin"}
    assert set(srv["env"]) == {"INJ_B", "INJ_D"}
    assert isinstance(srv["env"]["INJ_D"], Unsafe)
    lines = [ln for ln in srv["dropin"].splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "[Service]"
    assert [systemd_unquote(ln) for ln in lines[1:]] == [
        ("MLFLOW_DEFAULT_ARTIFACT_ROOT", 's3://b/%h/"x"\\ExecStart=/bin/evil')]
