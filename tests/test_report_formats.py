"""The CI report formats (sarif, junit, github, markdown, codeclimate) end to end through
``main(["check", ...])`` on the repository's example and on every ``tests/cases/*`` input,
plus the escaping each format needs, checked on hostile text.

Loops run over ``REPORTERS``, so a new format is covered by the determinism and the
no-secret tests without touching this file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mlflow_policy import rules as rules_pkg
from mlflow_policy.cli import main
from mlflow_policy.core import Location
from mlflow_policy.findings import Finding, Result
from mlflow_policy.policy.loader import load_paths
from mlflow_policy.report import REPORTERS, ReportOptions, codeclimate, github, junit, markdown
from tests.support import REFERENCE, REPO

CASES_DIR = REPO / "tests" / "cases"
# the cases that produce a report (a bad-input case, exit 2, has none)
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.yaml").is_file()
               and yaml.safe_load((p / "expected.yaml").read_text())["exit_code"] != 2)
GOLDEN = REPO / "tests" / "golden" / "formats"
SECRETS_CASE = GOLDEN / "inputs" / "secrets"
GOLDEN_CASE = CASES_DIR / "waivers"
GOLDEN_FORMATS = {"sarif": "sarif.json", "junit": "junit.xml", "codeclimate": "codeclimate.json",
                  "markdown": "md", "github": "github.txt"}
# Every secret of the secrets inventory carries "Canary": no escaping splits that word, so
# a leak shows up whatever the format did to the punctuation around it.
CANARIES = ("Canary", "ANSIBLE_VAULT", "6134333665353966363534333632666535333761666131620a",
            "Risk-Team-2024!", "decrypted-plaintext-pw")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # internal-error tracebacks


def _case_argv(case: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`check` arguments for a case directory, from inside it (as test_engine_cases runs)."""
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    monkeypatch.chdir(case)
    if "break_kind" in expected:
        monkeypatch.setitem(rules_pkg.RULE_EVALUATORS, expected["break_kind"],  # type: ignore[arg-type]
                            _boom)
    argv = ["check", "-p", "policies"]
    if (case / "inventory").is_dir():
        argv += ["-i", "inventory"]
    else:
        argv += [a for inv in sorted((case / "inventories").iterdir())
                 for a in ("-i", f"inventories/{inv.name}")]
    return argv + list(expected.get("args", []))


def _boom(*args: Any) -> Any:
    raise RuntimeError("injected fault")


def _run(capsys: pytest.CaptureFixture[str], argv: list[str], fmt: str,
         tmp_path: Path) -> tuple[int, str, dict[str, Any]]:
    """Run once with ``fmt`` on stdout and the JSON report alongside, to cross-check."""
    report = tmp_path / "report.json"
    code = main([*argv, "--format", fmt, "--format", f"json={report}"])
    out, err = capsys.readouterr()
    assert code != 2, err
    return code, out, json.loads(report.read_text())


def _sarif_schema() -> dict[str, Any]:
    return json.loads((REFERENCE / "sarif-schema-2.1.0.json").read_text())  # type: ignore[no-any-return]


# ----------------------------------------------------------------- every format


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_every_format_on_the_example_is_byte_identical_and_fails(
        fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first = main(["check", "--format", fmt]), capsys.readouterr()
    second = main(["check", "--format", fmt]), capsys.readouterr()
    assert first[0] == second[0] == 1, first[1].err
    assert first[1].out == second[1].out
    assert first[1].out.strip()


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_format_on_every_case_keeps_the_exit_code(
        case: Path, fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    code, out, _ = _run(capsys, _case_argv(case, monkeypatch), fmt, tmp_path)
    assert code == expected["exit_code"]
    assert out.strip()
    for secret in (*expected.get("never_printed", []), *CANARIES):
        assert secret not in out


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_no_secret_in_any_format(fmt: str, capsys: pytest.CaptureFixture[str],
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Vaulted values, secret env vars in clear (with characters every format escapes),
    URI passwords in values, in a rule's description and hint and in a waiver's
    justification: not one byte of them in any output, nor in the step summary."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(SECRETS_CASE)
    code, out, report = _run(capsys, ["check", "-p", "policies", "-i", "inventory",
                                      "--waivers", "waivers"], fmt, tmp_path)
    assert code == 1
    assert report["summary"]["waived"] > 0  # the secrets are in waived findings too
    written = summary.read_text() if summary.exists() else ""
    for canary in CANARIES:
        assert canary not in out, canary
        assert canary not in written, canary
    assert "admin:" in out  # the URI messages are there, with their passwords cut


# ----------------------------------------------------------------- sarif


def _check_sarif(doc: dict[str, Any], report: dict[str, Any]) -> None:
    from jsonschema import Draft7Validator

    errors = sorted(Draft7Validator(_sarif_schema()).iter_errors(doc), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert {f["rule"] for f in report["findings"]} <= set(ids)
    levels = {"error": "error", "warning": "warning", "info": "note"}
    assert len(run["results"]) == len(report["findings"])
    for res, finding in zip(run["results"], report["findings"], strict=True):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == finding["rule"]
        assert res["level"] == levels[finding["severity"]]
        assert res["message"]["text"] == finding["message"]
        assert res["partialFingerprints"] == {"mlflowPolicy/v1": finding["fingerprint"]}
        locations = res.get("locations", [])
        if not locations:  # only the engine's own findings may have nowhere to point
            assert finding["location"] is None
            assert finding["rule"].startswith("mlflow-policy/")
        for loc in locations:
            artifact = loc["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == "SRCROOT"
            assert not artifact["uri"].startswith("/")
            if finding["location"] is not None:
                assert artifact["uri"] == finding["location"]["path"]
                assert loc["physicalLocation"]["region"] == {
                    "startLine": finding["location"]["line"],
                    "startColumn": finding["location"]["column"]}
            else:  # a finding the engine could not place points at its rule
                assert artifact["uri"].startswith("policies/")
        if finding["waived"]:
            (sup,) = res["suppressions"]
            assert sup["kind"] == "external"
            assert finding["waiver"] in sup["justification"]
        else:
            assert "suppressions" not in res
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in levels.values()
        assert rule["properties"]["tags"]
    assert "SRCROOT" in run["originalUriBaseIds"]


def test_sarif_on_the_example_validates_and_describes_every_rule(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _sarif_schema()
    code, out, report = _run(capsys, ["check"], "sarif", tmp_path)
    assert code == 1
    doc = json.loads(out)
    _check_sarif(doc, report)
    ids = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    # Every evaluated rule, even one without findings, comes first in the run's order.
    loaded = load_paths([Path("policies")], REPO).rules
    assert ids[:len(loaded)] == [r.full_id for r in loaded]
    descriptors = doc["runs"][0]["tool"]["driver"]["rules"]
    for rule, descriptor in zip(loaded, descriptors, strict=False):
        if rule.rule.title:
            assert descriptor["shortDescription"]["text"] == rule.rule.title
        if rule.rule.remediation and rule.rule.remediation.hint:
            assert rule.rule.remediation.hint in descriptor["help"]["text"]
        levels = {"error": "error", "warning": "warning", "info": "note"}
        assert descriptor["defaultConfiguration"]["level"] == levels[rule.severity]


def test_sarif_internal_error_marks_the_invocation_failed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(capsys, _case_argv(CASES_DIR / "internal-error", monkeypatch), "sarif",
                        tmp_path)
    assert code == 3
    (invocation,) = json.loads(out)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert "p/breaks" in note["message"]["text"]
    _, out, _ = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), "sarif", tmp_path)
    assert json.loads(out)["runs"][0]["invocations"] == [{"executionSuccessful": True}]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_sarif_on_every_case_validates(case: Path, capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sarif_schema()
    _, out, report = _run(capsys, _case_argv(case, monkeypatch), "sarif", tmp_path)
    _check_sarif(json.loads(out), report)


def test_sarif_suppression_carries_the_waiver_justification(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, _ = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), "sarif", tmp_path)
    suppressed = [r for r in json.loads(out)["runs"][0]["results"] if "suppressions" in r]
    assert suppressed
    for res in suppressed:
        assert res["suppressions"][0]["justification"] == (
            "waived by legacy-gpu: Decommissioned in Q1.")


# ----------------------------------------------------------------- junit


def _junit(out: str) -> ET.Element:
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    total = Counter[str]()
    for suite in root.findall("testsuite"):
        cases = suite.findall("testcase")
        counts = {"tests": len(cases),
                  "failures": sum(1 for c in cases if c.find("failure") is not None),
                  "errors": sum(1 for c in cases if c.find("error") is not None),
                  "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
        assert {k: int(suite.attrib[k]) for k in counts} == counts, suite.attrib["name"]
        total.update(counts)
        for case in cases:
            assert case.attrib["classname"]
            assert case.attrib["name"]
            assert len([c for c in case if c.tag in ("failure", "error", "skipped")]) <= 1
    assert {k: int(root.attrib[k]) for k in total} == dict(total)
    return root


def _outcomes(root: ET.Element) -> dict[tuple[str, str], str]:
    out = {}
    for case in root.iter("testcase"):
        kids = [c.tag for c in case]
        out[(case.attrib["classname"], case.attrib["name"])] = kids[0] if kids else "passed"
    return out


def test_junit_on_the_example_one_testcase_per_rule_and_host(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, report = _run(capsys, ["check"], "junit", tmp_path)
    assert code == 1
    root = _junit(out)
    policies = sorted(p.name for p in load_paths([Path("policies")], REPO).policies)
    builtin = ["mlflow-policy"] if any(f["rule"].startswith("mlflow-policy/")
                                       for f in report["findings"]) else []
    assert [s.attrib["name"] for s in root.findall("testsuite")] == [*policies, *builtin]
    outcomes = _outcomes(root)
    failing = {(f["rule"], f"{f['inventory']}/{f['host']}") for f in report["findings"]
               if not f["waived"] and f["host"] is not None}
    assert {k for k, v in outcomes.items() if v == "failure"} == failing
    # Clean (rule, host) pairs are passing testcases: the example has both.
    assert "passed" in outcomes.values()
    failure = next(f for suite in root.findall("testsuite")
                   if suite.attrib["name"] in policies for f in suite.iter("failure"))
    assert failure is not None
    assert failure.text is not None
    assert failure.attrib["type"] in ("error", "warning", "info")
    assert re.search(r"inventories/\S+\.yml:\d+:\d+: ", failure.text)


def test_junit_waived_findings_are_skipped_and_internal_errors_are_errors(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, report = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), "junit", tmp_path)
    outcomes = _outcomes(_junit(out))
    waived = {(f["rule"], f"inventory/{f['host']}") for f in report["findings"] if f["waived"]}
    assert waived
    assert {k for k, v in outcomes.items() if v == "skipped"} == waived
    root = ET.fromstring(out)
    skipped = root.find(".//skipped")
    assert skipped is not None
    assert "legacy-gpu" in skipped.attrib["message"]
    builtin = root.find("testsuite[@name='mlflow-policy']")
    assert builtin is not None
    assert builtin.attrib["failures"] == "2"

    code, out, _ = _run(capsys, _case_argv(CASES_DIR / "internal-error", monkeypatch), "junit",
                        tmp_path)
    assert code == 3
    outcomes = _outcomes(_junit(out))
    broken = {k: v for k, v in outcomes.items() if k[0] == "p/breaks"}
    assert broken
    assert set(broken.values()) == {"error"}
    assert outcomes[("p/still-runs", "inventory/h-1")] == "failure"


def _result(*findings: Finding) -> Result:
    return Result(findings=tuple(sorted(findings)), hosts=(), rules=(),
                  unmatched_rules=())


HOSTILE = "a\nb\r\nc % 100%, key: value ::error::x <tag attr=\"q\"> & | `tick` \x1b[31m\x00 @team"


def test_junit_escapes_hostile_text_and_characters_xml_cannot_carry() -> None:
    f = Finding(rule="p/r", severity="error", message=HOSTILE, host="h", inventory="i",
                location=Location('dir/"odd" <name>.yml', 3, 4))
    out = junit.render(_result(f), ReportOptions())
    root = _junit(out)
    failure = root.find(".//failure")
    assert failure is not None
    assert failure.attrib["message"] == junit.xml_safe(HOSTILE)
    assert "\\x1b[31m\\x00" in failure.attrib["message"]
    case = root.find(".//testcase")
    assert case is not None
    assert case.attrib["file"] == 'dir/"odd" <name>.yml'


# ----------------------------------------------------------------- github


def test_github_escaping_matches_the_actions_toolkit() -> None:
    assert github.escape_data("100%\r\n:,") == "100%25%0D%0A:,"
    assert github.escape_property("100%\r\n:,") == "100%25%0D%0A%3A%2C"
    f = Finding(rule="p/r", severity="warning", message=HOSTILE, host="h,1", inventory="i:1",
                location=Location("a,b:c.yml", 2, 5))
    (line, summary) = github.render(_result(f), ReportOptions()).splitlines()
    props, _, message = line.removeprefix("::warning ").partition("::")
    assert props == "file=a%2Cb%3Ac.yml,line=2,col=5,title=p/r on i%3A1/h%2C1"
    # One line per annotation, and the toolkit's unescaping gives the message back.
    unescaped = message.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
    assert unescaped == HOSTILE
    assert summary.startswith("mlflow-policy: ")


def test_github_annotates_unwaived_findings_and_appends_the_step_summary(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, report = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), "github", tmp_path)
    assert code == 1
    lines = out.splitlines()
    unwaived = [f for f in report["findings"] if not f["waived"]]
    want = [f"{f['severity']} file={f['location']['path']},line={f['location']['line']},"
            f"col={f['location']['column']},title={f['rule']}"
            + (f" on inventory/{f['host']}" if f["host"] else "") for f in unwaived]
    assert [line.split("::")[1] for line in lines[:-1]] == want
    assert lines[-1].startswith("mlflow-policy: ")
    text = summary.read_text()
    assert text.startswith("earlier step\n### mlflow-policy: :x: failed")
    assert "<details>" in text
    assert main([*_case_argv(GOLDEN_CASE, monkeypatch), "--format", "markdown"]) == 1
    assert text == "earlier step\n" + capsys.readouterr().out + "\n"


def test_github_unwritable_step_summary_is_a_clear_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    code = main([*_case_argv(GOLDEN_CASE, monkeypatch), "--format", "github"])
    err = capsys.readouterr().err
    assert code == 2
    assert str(tmp_path) in err
    assert "step summary" in err
    assert "Traceback" not in err


@given(st.text(), st.text(min_size=1))
def test_github_commands_are_one_line_and_round_trip(message: str, path: str) -> None:
    line = github.command("error", {"file": path, "line": "1"}, message)
    assert "\n" not in line
    assert "\r" not in line
    props, sep, data = line.removeprefix("::error ").partition("::")
    assert sep
    file_prop, line_prop = props.split(",")
    assert _unescape(file_prop.removeprefix("file=")) == path
    assert line_prop == "line=1"
    assert _unescape(data) == message


def _unescape(text: str) -> str:
    # The runner's unescaping (actions/runner ActionCommand), in its order.
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","),
                         ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


@given(st.text())
def test_markdown_cell_never_breaks_the_row(text: str) -> None:
    cell = markdown.cell(text)
    assert not re.search(r"[\r\n]", cell)
    # cmark-gfm splits a row at every pipe that no backslash precedes.
    assert not re.search(r"(?<!\\)\|", cell)


def test_github_info_is_a_notice_and_no_location_has_no_file() -> None:
    f = Finding(rule="mlflow-policy/waiver-unused", severity="info", message="m")
    first = github.render(_result(f), ReportOptions()).splitlines()[0]
    assert first == "::notice title=mlflow-policy/waiver-unused::m"


# ----------------------------------------------------------------- markdown


def _cells(row: str) -> list[str]:
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_escapes_cells_and_caps_rows() -> None:
    hostile = [Finding(rule="p/r", severity="error", message=f"{HOSTILE} {n:03}",
                       host=f"h{n:03}", inventory="i", location=Location("f|g.yml", n + 1, 1))
               for n in range(markdown.MAX_ROWS + 7)]
    waived = Finding(rule="p/r", severity="warning", message="w|x", host="z", inventory="i",
                     waived=True, waiver="legacy")
    out = markdown.render(_result(*hostile, waived), ReportOptions())
    lines = out.splitlines()
    assert lines[0] == "### mlflow-policy: :x: failed (`--fail-on error`)"
    rows = [line for line in lines if line.startswith("| :")]
    assert len(rows) == markdown.MAX_ROWS + 1  # the cap, plus the waived one
    assert all(len(_cells(r)) == 6 for r in rows[:-1])
    assert len(_cells(rows[-1])) == 7
    assert "… and 7 more" in out
    assert "\x1b" in out  # kept literally (the comment shows it), but never a new row
    cell = _cells(rows[0])[4]
    assert "\n" not in cell
    assert "<br>" in cell
    assert "\\`tick\\`" in cell
    assert "\\<tag" in cell
    assert "\\&" in cell
    assert "@\u2060team" in cell  # no @-mention from a value
    assert "<details>" in out
    assert "<summary>1 waived finding</summary>" in out
    assert out.index("<details>") < out.index("w\\|x")


def test_markdown_passing_run() -> None:
    out = markdown.render(_result(), ReportOptions())
    assert out.startswith("### mlflow-policy: :white_check_mark: passed\n")
    assert "No unwaived findings." in out


# ----------------------------------------------------------------- codeclimate


def test_codeclimate_on_the_example(capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    code, out, report = _run(capsys, ["check"], "codeclimate", tmp_path)
    assert code == 1
    issues = json.loads(out)
    unwaived = [f for f in report["findings"] if not f["waived"]]
    assert len(issues) == len(unwaived)
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(re.fullmatch(r"[0-9a-f]{32}", fp) for fp in fingerprints)
    mapping = {"error": "critical", "warning": "major", "info": "info"}
    for issue, f in zip(issues, unwaived, strict=True):
        assert issue["check_name"] == f["rule"]
        assert issue["description"] == f["message"]
        assert issue["severity"] == mapping[f["severity"]]
        assert issue["location"]["path"]
        assert issue["location"]["lines"]["begin"] >= 1


def test_codeclimate_omits_waived_and_keeps_fingerprints_unique(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, report = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), "codeclimate", tmp_path)
    assert len(json.loads(out)) == sum(1 for f in report["findings"] if not f["waived"])
    # Two findings the engine fingerprints alike (same rule, host and fact) stay two issues.
    twins = [Finding(rule="p/r", severity="error", message=m, host="h", inventory="i",
                     fact="x") for m in ("one", "two")]
    assert twins[0].fingerprint == twins[1].fingerprint
    issues = codeclimate.issues(_result(*twins))
    assert len({i["fingerprint"] for i in issues}) == 2
    assert issues[0]["location"] == {"path": codeclimate.NO_PATH, "lines": {"begin": 1}}


# ----------------------------------------------------------------- goldens


@pytest.mark.parametrize("fmt", sorted(GOLDEN_FORMATS))
def test_golden(fmt: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _run(capsys, _case_argv(GOLDEN_CASE, monkeypatch), fmt, tmp_path)
    assert code == 1
    golden = GOLDEN / f"waivers.{GOLDEN_FORMATS[fmt]}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(out)
    assert out == golden.read_text(), "regenerate with UPDATE_GOLDEN=1 and review the diff"
