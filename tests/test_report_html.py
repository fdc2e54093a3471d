"""``--format html`` without a browser: the page's embedded data against the JSON report of
the same run (every ``tests/cases`` input, the example, a live run from a results
directory), a golden of the data for the waivers case, what makes the page inert (the data
cannot close its element, the CSP hashes match, no network reference), and hostile names.

``tests/test_report_html_browser.py`` loads the page in Chromium; the loops over
``REPORTERS`` in ``test_report_formats`` cover determinism and secrets for html too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflow_policy import rules as rules_pkg
from mlflow_policy.cli import main
from mlflow_policy.core import HostFacts, Location
from mlflow_policy.findings import Finding, Result
from mlflow_policy.policy.loader import LoadedRule
from mlflow_policy.policy.models import Rule
from mlflow_policy.report import ReportOptions
from mlflow_policy.report.html import embed, render
from tests.support import REPO

CASES_DIR = REPO / "tests" / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.yaml").is_file()
               and yaml.safe_load((p / "expected.yaml").read_text())["exit_code"] != 2)
LIVE = REPO / "tests" / "fixtures" / "report_html" / "live"
GOLDEN = REPO / "tests" / "golden" / "formats" / "waivers.html.json"

_DATA = re.compile(
    r'<script type="application/json" id="report-data">(?P<data>[^<]*)</script>\n'
    r"<script>(?P<script>.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(?P<style>.*?)</style>", re.DOTALL)
_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="(?P<csp>[^"]*)">')

# Everything a name, an id or a message could use to break out of the page.
EVIL = ("</script><img src=x onerror=\"document.title='pwned'\"><!-- 'q' \"qq\" &amp; "
        "\u2028\u2029 </style><script>document.title='pwned'</script>")


@pytest.fixture(autouse=True)
def _tracebacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # internal-error tracebacks


def assert_inert(page: str) -> dict[str, Any]:
    """The page holds exactly its two scripts and one style; the data block is escaped
    JSON (no ``<``, ``>``, ``&`` or non-ASCII); the CSP allows exactly the page's own script
    and style, and nothing from a network. Returns the data."""
    found = _DATA.search(page)
    assert found is not None, "no data block followed by the page's script"
    data, script = found["data"], found["script"]
    assert data.isascii()
    for char in "<>&\u2028\u2029":
        assert char not in data
    lowered = page.lower()
    assert lowered.count("<script") == lowered.count("</script") == 2
    assert lowered.count("<style") == lowered.count("</style") == 1
    style = _STYLE.search(page)
    csp = _CSP.search(page)
    assert style is not None
    assert csp is not None

    def sha(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    policy = dict(part.strip().split(" ", 1) for part in csp["csp"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'sha256-{sha(script)}'"
    assert policy["style-src"] == f"'sha256-{sha(style['style'])}'"
    assert policy["trusted-types"] == "'none'"
    # nothing is fetched: no http(s) address outside the data, no src/href, no CSS url()
    outside = page.replace(data, "")
    assert "http://" not in outside
    assert "https://" not in outside
    for marker in (" src=", " href=", "url(", "@import", "<link", "<iframe", "<object"):
        assert marker not in lowered.replace(data.lower(), ""), marker
    doc: dict[str, Any] = json.loads(data)
    return doc


def _run(argv: list[str], tmp_path: Path) -> tuple[int, dict[str, Any], dict[str, Any], str]:
    """One run writing html and json: (exit code, page data, json report, page)."""
    page, report = tmp_path / "r.html", tmp_path / "r.json"
    code = main([*argv, "--format", f"html={page}", "--format", f"json={report}"])
    text = page.read_text()
    return code, assert_inert(text), json.loads(report.read_text()), text


def _boom(*args: Any) -> Any:
    raise RuntimeError("injected fault")


def _case_argv(case: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`check` arguments for a case directory, from inside it (as test_engine_cases runs)."""
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    monkeypatch.chdir(case)
    if "break_kind" in expected:
        monkeypatch.setitem(rules_pkg.RULE_EVALUATORS, expected["break_kind"], _boom)
    argv = ["check", "-p", "policies"]
    if (case / "inventory").is_dir():
        argv += ["-i", "inventory"]
    else:
        argv += [a for inv in sorted((case / "inventories").iterdir())
                 for a in ("-i", f"inventories/{inv.name}")]
    return argv + [str(a) for a in expected.get("args", [])]


def check_against_json(data: dict[str, Any], report: dict[str, Any]) -> None:
    """The page's counts are the JSON report's, and its matrix agrees with the findings."""
    assert data["summary"] == report["summary"]
    assert data["mode"] == report["mode"]
    assert data["inventories"] == report["inventories"]
    assert len(data["findings"]) == len(report["findings"])
    for mine, theirs in zip(data["findings"], report["findings"], strict=True):
        assert (mine["rule"], mine["sev"], mine["inv"], mine["host"], mine["fact"]) == (
            theirs["rule"], theirs["severity"], theirs["inventory"], theirs["host"],
            theirs["fact"])
        assert mine["msg"] == theirs["message"]
        assert mine["exp"] == theirs["expected"]
        assert (mine["waived"] is not None) == theirs["waived"]
        if theirs["location"] is not None:
            loc = theirs["location"]
            assert mine["loc"] == f"{loc['path']}:{loc['line']}"
        if theirs["fact"] is not None:
            assert json.loads(mine["act"]) == theirs["actual"]
    assert len(data["cells"]) == len(data["hosts"]) == report["summary"]["hosts"]
    assert {len(line) for line in data["cells"]} <= {len(data["rules"])}
    rows = {(h["inv"], h["name"]): n for n, h in enumerate(data["hosts"])}
    cols = {r["id"]: n for n, r in enumerate(data["rules"])}
    hosted = [f for f in report["findings"] if f["host"] is not None]
    failing = {(f["rule"], f["inventory"], f["host"]) for f in hosted if not f["waived"]}
    waived = {(f["rule"], f["inventory"], f["host"]) for f in hosted} - failing
    state = Counter(c for line in data["cells"] for c in line)
    assert state["f"] == len(failing)
    raised = {n for line in data["cells"] for n, c in enumerate(line) if c == "e"}
    assert all(data["rules"][n]["error"] for n in raised)  # a rule that raised says why
    assert state["w"] == len(waived)
    assert state["s"] + state["u"] == report["summary"]["skipped"]
    for rule, inventory, host in failing:
        assert data["cells"][rows[(inventory, host)]][cols[rule]] == "f"
    for rule, inventory, host in waived:
        assert data["cells"][rows[(inventory, host)]][cols[rule]] == "w"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_page_matches_its_json_report(
        case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = yaml.safe_load((case / "expected.yaml").read_text())
    code, data, report, _ = _run(_case_argv(case, monkeypatch), tmp_path)
    assert code == expected["exit_code"]
    assert data["exit_code"] == code
    check_against_json(data, report)


def test_example_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, data, report, page = _run(["check"], tmp_path)
    assert code == 1
    check_against_json(data, report)
    assert "<title>mlflow-policy report: FAILED</title>" in page
    # both inventories, their hosts' groups (the team filter), every loaded rule first
    assert data["inventories"] == ["prod", "staging"]
    nlp = [h["name"] for h in data["hosts"] if "team_nlp" in h["groups"]]
    assert "trainer-nlp-01" in nlp
    assert [r["id"] for r in data["rules"]][:report["summary"]["rules"]] == [
        r["id"] for r in data["rules"] if not r["builtin"]]
    described = [r for r in data["rules"] if not r["builtin"]]
    assert all(r["where"] and r["where"].startswith("policies/") for r in described)
    assert any(r["hint"] for r in described)


def test_golden_data_of_the_waivers_case(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, data, _, _ = _run(_case_argv(CASES_DIR / "waivers", monkeypatch), tmp_path)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "regenerate with UPDATE_GOLDEN=1 and review the diff"
    assert "W" not in "".join(data["cells"])
    assert "w" in "".join(data["cells"])  # the waived findings have their own state


def test_live_page_sets_declared_beside_observed(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(LIVE)
    code, data, report, page = _run(
        ["check", "--facts", "results", "-i", "inv", "-p", "policies"], tmp_path)
    assert code == 1
    check_against_json(data, report)
    assert data["mode"] == "live"
    for secret in ("Pw-Secret-1", "tok-Secret-5e1d", "tok-Observed-77aa"):
        assert secret not in page
    by = {(f["rule"], f["host"], f["fact"]): f for f in data["findings"]}
    version = by[("mlflow-policy/drift", "cli", "mlflow.version")]
    assert version["declared"]["text"] == '"3.17.2"'
    assert version["declared"]["from"].endswith("inv/hosts.yml:10:23")
    assert version["observed"]["text"] == '"3.15.2"'
    store = by[("p/store-on-db", "srv", "server.backend_store_uri")]
    assert store["declared"]["text"] == '"postgresql://mlflow:***@db/mlflow"'
    assert store["observed"]["text"] == '"postgresql://mlflow:***@db2/mlflow"'
    assert store["observed"]["from"] == "live: /proc/4242/cmdline"
    revision = by[("mlflow-policy/drift", "srv", "db.revision")]
    assert revision["observed"]["text"] == '"6f8d9c3b2a1e"'
    # derived from the declared version (3.17.2's head), as the drift check compares it
    assert revision["declared"]["text"] == '"dc11669786a5"'
    assert "alembic head" in revision["declared"]["from"]
    # the unreachable host: its row says why, its rules' cells are "unreachable"
    hosts = {h["name"]: n for n, h in enumerate(data["hosts"])}
    gone = hosts["gone"]
    assert data["hosts"][gone]["down"] == "unreachable: Failed to connect: Connection refused"
    cols = {r["id"]: n for n, r in enumerate(data["rules"])}
    assert data["cells"][gone][cols["p/pinned"]] == "u"
    assert data["cells"][gone][cols["mlflow-policy/unreachable"]] == "f"
    assert data["hosts"][hosts["srv"]]["down"] is None


def _loaded(rule_id: str, references: list[str]) -> LoadedRule:
    rule = Rule.model_validate({"id": rule_id, "title": EVIL, "description": EVIL,
                                "references": references,
                                "assert": {"mlflow.version": {"required": True}}})
    return LoadedRule(full_id=f"p/{rule_id}", policy="p", rule=rule, severity="error",
                      policy_match=None, location=Location("policies/p.yaml", 3, 7))


def hostile_result() -> Result:
    """Names, ids, messages and values made of markup, quotes and line separators."""
    host, inventory = f"h {EVIL}", f"inv {EVIL}"
    facts = HostFacts(host=host, inventory=inventory,
                      facts={"groups": [f"g {EVIL}"], "mlflow": {"version": EVIL}})
    loaded = _loaded("refs", ["https://example.org/rules/refs", "javascript:alert(1)"])
    findings = (
        Finding(rule="p/refs", severity="error", message=f"m {EVIL}", host=host,
                inventory=inventory, fact="mlflow.version", actual=EVIL, expected=EVIL,
                location=Location(f"inventories/{EVIL}.yml", 4, 2)),
        Finding(rule=f"p/{EVIL}", severity="warning", message=EVIL, host=host,
                inventory=inventory),
        Finding(rule="mlflow-policy/waiver-unused", severity="warning", message=EVIL),
    )
    return Result(findings=tuple(sorted(findings)), hosts=(facts,), rules=(loaded,),
                  unmatched_rules=(f"p/{EVIL}",), inventories=(inventory,),
                  evaluated=(("p/refs", inventory, host),))


def test_hostile_text_stays_data() -> None:
    page = render(hostile_result(), ReportOptions())
    data = assert_inert(page)
    assert "<img" not in page
    assert "onerror" not in page.replace(_DATA.search(page)["data"], "")  # type: ignore[index]
    # every string survives the escaping whole
    assert data["hosts"][0]["name"] == f"h {EVIL}"
    assert data["hosts"][0]["groups"] == [f"g {EVIL}"]
    assert {f["msg"] for f in data["findings"]} >= {f"m {EVIL}", EVIL}
    assert [r["id"] for r in data["rules"]] == ["p/refs", f"p/{EVIL}"]
    assert data["rules"][0]["title"] == EVIL
    assert data["summary"]["unmatched_rules"] == [f"p/{EVIL}"]
    assert data["cells"] == ["ff"]


@pytest.mark.parametrize("text", [
    "</script>", "</SCRIPT >", "<!--", "<script>", "a\u2028b\u2029c", "&lt;", "\x00\x1b[31m",
    "\u202eexe.gnp", "😀",
])
def test_embedded_json_is_inert_and_round_trips(text: str) -> None:
    blob = embed({"k": text, text: [text]})
    assert blob.isascii()
    assert not set(blob) & set("<>&")
    assert json.loads(blob) == {"k": text, text: [text]}


def test_page_is_deterministic_and_timestamped_only_on_request() -> None:
    result = hostile_result()
    assert render(result, ReportOptions()) == render(result, ReportOptions())
    stamped = render(result, ReportOptions(timestamp="2026-01-02T03:04:05+00:00"))
    assert "2026-01-02T03:04:05+00:00" in stamped
    assert "generated_at\":null" in render(result, ReportOptions())


def test_assets_ship_with_the_package() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert '"report/*.js", "report/*.css"' in text
    assets = sorted(p.name for p in (REPO / "mlflow_policy" / "report").glob("html_report.*"))
    assert assets == ["html_report.css", "html_report.js"]
