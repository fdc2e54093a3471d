"""``check --live`` and ``facts --live`` on the real test fleet (tests/fleet): exactly the
seeded drift and the two failed hosts, in JSON and text; the same through a snapshot
(``facts --live -o`` then ``check --facts FILE``) and through ``gather-playbook`` + plain
``ansible-playbook`` + ``check --facts DIR``; no observed secret in any output.

The fleet is slow on a shared machine: one module fixture gathers twice (``check --live``
writing both formats in one run, ``facts --live`` writing the snapshot) and once more
through ansible-playbook; every test reads those outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import GATHER_TIMEOUT
from tests.live.session import cli, enter_fleet, findings_of

pytestmark = pytest.mark.slow

PACK = Path(__file__).resolve().parents[2] / "policies" / "mlflow-baseline.yaml"
LIVE_IDS = ("mlflow-policy/drift", "mlflow-policy/unreachable")
SEEDED = {
    ("mlflow-policy/drift", "client-behind", "mlflow.version"),
    ("mlflow-policy/drift", "client-envdrift", "env.MLFLOW_TRACKING_URI"),
    ("mlflow-policy/drift", "server-live", "server.workers"),
    ("mlflow-policy/drift", "server-dbbehind", "db.revision"),
    ("mlflow-policy/unreachable", "down", None),
    ("mlflow-policy/unreachable", "silent", None),
}


@pytest.fixture(scope="module")
def runs(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("check-cwd")
    restore = enter_fleet(fleet, tmp_path_factory.mktemp("check-tmp"), work)
    inv, knobs = str(fleet.inventory), ["--forks", "10", "--timeout", str(GATHER_TIMEOUT)]
    out: dict[str, Any] = {"work": work, "std": []}
    try:
        code, so, se = cli(["check", "--live", "-i", inv, "-p", str(PACK), *knobs,
                             "--format", "json=live.json", "--format", "text=live.txt",
                             "--format", "html=live.html"])
        out["live"] = (code, (work / "live.json").read_text(), (work / "live.txt").read_text())
        out["html"] = (work / "live.html").read_text()
        out["std"] += [so, se]
        code, so, se = cli(["facts", "--live", "-i", inv, *knobs, "--format", "json",
                             "-o", "snap.json"])
        assert code == 0, se
        out["snapshot"] = (work / "snap.json").read_text()
        _, text, se2 = cli(["check", "--facts", "snap.json", "-p", str(PACK)])
        json_code, js, se3 = cli(["check", "--facts", "snap.json", "-p", str(PACK),
                                   "--format", "json"])
        out["from_snapshot"] = (json_code, js, text)
        out["std"] += [so, se, se2, se3]

        gp = work / "gp"
        assert cli(["gather-playbook", str(gp)])[0] == 0
        done = subprocess.run(
            [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inv, "gather.yml",
             "--forks", "10", "-e", f"mlflow_policy_timeout={GATHER_TIMEOUT}"],
            cwd=gp, env=dict(os.environ), capture_output=True, text=True, timeout=900,
            check=False)
        out["std"] += [done.stdout, done.stderr]
        results = str(gp / "mlflow-policy-facts")
        json_code, js, se4 = cli(["check", "--facts", results, "-i", inv, "-p", str(PACK),
                                   "--format", "json"])
        _, text, se5 = cli(["check", "--facts", results, "-i", inv, "-p", str(PACK)])
        out["from_dir"] = (json_code, js, text)
        out["std"] += [se4, se5]
        yield out
    finally:
        restore()


def _live_findings(report: str) -> set[tuple[str, str, str | None]]:
    return findings_of(report, LIVE_IDS)


HOSTS = ("client-ok", "client-behind", "client-envdrift", "server-live", "server-dbbehind",
         "down", "silent")


def _text_live_lines(text: str) -> set[tuple[str, str]]:
    """(rule, host) of each text-report finding with a live id: findings are listed under
    their host's heading line."""
    found, host = set(), "?"
    for line in text.splitlines():
        if line.strip() in HOSTS:
            host = line.strip()
        for rule in LIVE_IDS:
            if rule in line.split():
                found.add((rule, host))
    return found


SEEDED_TEXT = {(rule, host) for rule, host, _ in SEEDED}


def test_check_live_reports_exactly_the_seeded_drift(runs: dict[str, Any]) -> None:
    code, js, text = runs["live"]
    assert code == 1  # the unreachable hosts are errors
    assert _live_findings(js) == SEEDED
    assert _text_live_lines(text) == SEEDED_TEXT, text


def test_drift_shows_both_sides(runs: dict[str, Any], fleet: Any) -> None:
    from mlflow_policy import catalogue

    doc = json.loads(runs["live"][1])
    by = {(f["host"], f["fact"]): f for f in doc["findings"] if f["rule"] == LIVE_IDS[0]}
    revision = by[("server-dbbehind", "db.revision")]
    assert fleet.expected["server-dbbehind"]["db.revision"] in revision["message"]
    head = catalogue.head_for(fleet.expected["server-live"]["mlflow.version"])
    assert head is not None
    assert f"expects '{head}' (its alembic head)" in revision["message"]
    workers = by[("server-live", "server.workers")]
    assert workers["message"] == "server.workers is 1 on the host, but the inventory declares 2"
    assert by[("client-behind", "mlflow.version")]["location"] is not None


def test_failed_hosts_carry_ansibles_reason(runs: dict[str, Any], fleet: Any) -> None:
    doc = json.loads(runs["live"][1])
    for f in doc["findings"]:
        if f["rule"] == LIVE_IDS[1]:
            assert f["severity"] == "error"
            assert fleet.failing[f["host"]].lower() in f["message"].lower(), f["message"]


def test_every_other_host_is_still_reported(runs: dict[str, Any], fleet: Any) -> None:
    doc = json.loads(runs["live"][1])
    assert doc["summary"]["hosts"] == len(fleet.hosts), doc["summary"]


def test_snapshot_gives_the_same_findings(runs: dict[str, Any]) -> None:
    code, js, text = runs["from_snapshot"]
    assert json.loads(runs["snapshot"])["mode"] == "live"
    assert code == runs["live"][0]
    assert _live_findings(js) == SEEDED
    assert _text_live_lines(text) == SEEDED_TEXT
    # two gatherings: on a loaded machine the clock offset estimate wanders around the
    # clock-skew rule's 1 s bound from one run to the next
    live = [(f["rule"], f["host"], f["fact"]) for f in json.loads(runs["live"][1])["findings"]
            if f["rule"] != "mlflow-baseline/clock-skew"]
    snap = [(f["rule"], f["host"], f["fact"]) for f in json.loads(js)["findings"]
            if f["rule"] != "mlflow-baseline/clock-skew"]
    assert snap == live


def test_gather_playbook_results_give_the_same_findings(runs: dict[str, Any]) -> None:
    code, js, text = runs["from_dir"]
    assert code == runs["live"][0]
    assert _live_findings(js) == SEEDED
    assert _text_live_lines(text) == SEEDED_TEXT


def test_no_observed_secret_in_any_output(runs: dict[str, Any], fleet: Any) -> None:
    from tests.fleet import postgres

    outputs = [*runs["live"][1:], runs["html"], runs["snapshot"], *runs["from_snapshot"][1:],
               *runs["from_dir"][1:], *runs["std"]]
    for secret in (*fleet.secrets, postgres.PASSWORD):
        for text in outputs:
            assert secret not in text


def test_html_report_of_the_live_run(runs: dict[str, Any]) -> None:
    """The page of the live run: the JSON report's counts, each drift finding with its
    declared and observed values side by side, the failed hosts' rows marked."""
    from tests.test_report_html import assert_inert, check_against_json

    data = assert_inert(runs["html"])
    check_against_json(data, json.loads(runs["live"][1]))
    drift = [f for f in data["findings"] if f["rule"] == LIVE_IDS[0]]
    assert drift
    for f in drift:
        assert f["observed"]["state"] == "value", f
        assert f["declared"]["state"] in ("value", "absent"), f
        if "***" not in f["observed"]["text"]:  # a masked secret's two sides look alike
            assert f["declared"]["text"] != f["observed"]["text"], f
    down = {h["name"] for h in data["hosts"] if h["down"]}
    assert down == {host for rule, host, _ in SEEDED if rule == LIVE_IDS[1]}
