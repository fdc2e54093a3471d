"""End to end through ``main([...])``: exit code and output asserted together, on the
starter pack (``examples/starter/policies``) and the repository's example inventories
(staging clean, prod drifted). The baseline pack in ``policies/`` has its own tests
(``tests/test_baseline.py`` and its PolicyTests)."""

from __future__ import annotations

import json
import os
import pty
import re
import sys
from pathlib import Path

import pytest

from mlflow_policy.cli import main
from tests.support import report_per_jobs

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Secrets written in the example inventories (plaintext on purpose in prod's team_risk).
SECRETS = ("Risk-Team-2024!",)
STARTER = ("-p", "examples/starter/policies")


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_report_matches_golden_and_is_byte_identical(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, first, err = run(capsys, "check", *STARTER, "--format", "json")
    code2, second, _ = run(capsys, "check", *STARTER, "--format", "json")
    assert (code, code2) == (1, 1), err
    assert first == second
    golden = GOLDEN / "starter-check.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(first)
    assert first == golden.read_text(), "regenerate with UPDATE_GOLDEN=1 and review the diff"
    doc = json.loads(first)
    assert doc["schema_version"] == 1
    assert doc["inventories"] == ["prod", "staging"]
    assert doc["summary"]["failed"] is True
    keys = [(f["inventory"] or "", f["host"] or "", f["rule"], f["fact"] or "")
            for f in doc["findings"]]
    assert keys == sorted(keys)


def test_staging_alone_is_clean_and_prod_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", *STARTER, "-i", "inventories/staging", "--format", "json")
    doc = json.loads(out)
    unwaived = [f for f in doc["findings"] if not f["waived"] and f["severity"] == "error"]
    assert (code, unwaived) == (0, []), err
    code, out, _ = run(capsys, "check", *STARTER, "-i", "inventories/prod", "--format", "json")
    assert code == 1
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert {"starter/tracking-uri-https", "starter/version-pinned",
            "starter/backend-not-sqlite", "starter/one-version-per-backend"} <= rules


def test_every_starter_rule_kind_fires_on_the_examples(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", *STARTER, "--format", "json")
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    for rule in ("starter/tracking-uri-https", "starter/one-version-per-backend",
                 "starter/client-not-newer-than-server", "starter/prod-runs-staged-versions"):
        assert rule in rules
    assert code == 1


def test_secrets_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("json", "text"):
        code, out, err = run(capsys, "check", *STARTER, "--format", fmt)
        assert code == 1
        for secret in SECRETS:
            assert secret not in out
            assert secret not in err
        assert "$ANSIBLE_VAULT" not in out


def test_text_report_groups_and_summarises(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", *STARTER)
    assert code == 1
    assert not ANSI.search(out)  # not a terminal: no colour
    lines = out.splitlines()
    assert lines[0] == "prod"
    assert "  mlflow-tracking-risk-1" in lines
    assert re.search(r"at inventories/prod/group_vars/mlflow_servers_risk\.yml:\d+", out)
    assert "expected: " in out
    assert "actual:   " in out
    assert re.fullmatch(r"mlflow-policy: \d+ errors, \d+ warnings?, \d+ info; .*: FAILED "
                        r"\(--fail-on error\)", lines[-1])


def _run_on_tty(argv: list[str], env_no_color: bool = False) -> tuple[int, str]:
    master, slave = pty.openpty()
    saved = sys.stdout
    stream = os.fdopen(slave, "w", encoding="utf-8", closefd=True)
    try:
        if env_no_color:
            os.environ["NO_COLOR"] = "1"
        sys.stdout = stream
        code = main(argv)
        stream.flush()
    finally:
        sys.stdout = saved
        os.environ.pop("NO_COLOR", None)
        stream.close()
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return code, b"".join(chunks).decode()


def test_colour_only_on_a_terminal_without_no_color() -> None:
    code, out = _run_on_tty(["check", *STARTER, "-i", "inventories/prod"])
    assert code == 1
    assert ANSI.search(out)
    code, out = _run_on_tty(["check", *STARTER, "-i", "inventories/prod", "--no-color"])
    assert code == 1
    assert not ANSI.search(out)
    code, out = _run_on_tty(["check", *STARTER, "-i", "inventories/prod"], env_no_color=True)
    assert code == 1
    assert not ANSI.search(out)


def test_fail_on_and_filters_decide_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", *STARTER, "--fail-on", "never")[0] == 0
    code, out, _ = run(capsys, "check", *STARTER, "--rule", "starter/unique-address",
                       "--format", "json")
    doc = json.loads(out)
    assert doc["summary"]["rules"] == 1
    assert code == 0
    # staging has no finding at all: it passes even at the strictest threshold
    code, out, _ = run(capsys, "check", *STARTER, "-i", "inventories/staging", "--fail-on",
                       "info", "--format", "json")
    assert json.loads(out)["findings"] == []
    assert code == 0
    # one warning and nothing worse: it fails from --fail-on warning down, not on error
    warning_only = ("check", *STARTER, "--rule", "starter/tracking-password-vaulted")
    code, out, _ = run(capsys, *warning_only, "--format", "json")
    assert [f["severity"] for f in json.loads(out)["findings"]] == ["warning"]
    for threshold, expected in (("error", 0), ("warning", 1), ("info", 1), ("never", 0)):
        assert run(capsys, *warning_only, "--fail-on", threshold)[0] == expected, threshold


def test_several_formats_in_one_run(capsys: pytest.CaptureFixture[str],
                                    tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, out, _ = run(capsys, "check", *STARTER, "--format", "text", "--format", f"json={report}")
    assert code == 1
    assert out.splitlines()[-1].startswith("mlflow-policy: ")
    assert json.loads(report.read_text())["summary"]["failed"] is True
    out_file = tmp_path / "o.json"
    code, out, _ = run(capsys, "check", *STARTER, "--format", "json", "-o", str(out_file))
    assert (code, out) == (1, "")
    assert json.loads(out_file.read_text())["schema_version"] == 1


def test_bad_input_exits_2_naming_file_and_line(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: mlflow-policy/v1\nkind: Policy\nmetadata: {name: b}\n"
                   "spec:\n  rules:\n    - id: x\n      assert: {a: {matches: '('}}\n")
    code, out, err = run(capsys, "check", "-p", str(bad))
    assert code == 2
    assert out == ""
    assert re.search(r"bad\.yaml:7", err)
    code, _, err = run(capsys, "check", *STARTER, "--format", "yaml")
    assert code == 2
    assert "unknown format" in err


def test_rule_that_raises_is_reported_and_exits_3(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow_policy import rules

    def boom(*args: object) -> object:
        raise ZeroDivisionError("injected")

    monkeypatch.setitem(rules.RULE_EVALUATORS, "peer", boom)  # type: ignore[arg-type]
    code, out, err = run(capsys, "check", *STARTER, "--format", "json")
    assert code == 3
    where = re.search(r"internal error: rule starter/client-not-newer-than-server raised "
                      r"ZeroDivisionError: injected \(a bug; traceback written to (\S+)\)", err)
    assert where is not None, err
    assert "ZeroDivisionError" in Path(where.group(1)).read_text()
    Path(where.group(1)).unlink()
    errors = [f for f in json.loads(out)["findings"] if f["rule"] == "mlflow-policy/internal-error"]
    assert len(errors) == 1
    assert "starter/client-not-newer-than-server" in errors[0]["message"]
    code, out, _ = run(capsys, "check", *STARTER)
    assert code == 3
    assert "INTERNAL ERROR" in out.splitlines()[-1]


def test_explain_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", *STARTER, "starter/tracking-uri-https")
    assert code == 0
    assert "Clients reach the tracking server over HTTPS" in out
    assert "kind:     assert" in out
    assert "env.MLFLOW_TRACKING_URI:" in out
    assert "^https://" in out
    assert "hint: Point MLFLOW_TRACKING_URI" in out
    assert re.search(r"defined:  examples/starter/policies/starter\.yaml:\d+", out)
    code, out, _ = run(capsys, "explain", *STARTER, "client-not-newer-than-server")
    assert code == 0
    assert "peer:" in out
    assert "via: env.MLFLOW_TRACKING_URI" in out
    code, _, err = run(capsys, "explain", *STARTER, "starter/tracking-uri-http")
    assert code == 2
    assert "did you mean starter/tracking-uri-https" in err
    code, out, _ = run(capsys, "explain", *STARTER, "mlflow-policy/waiver-expired")
    assert code == 0
    assert "built-in" in out
    code, out, _ = run(capsys, "rules", *STARTER)
    lines = out.splitlines()
    assert code == 0
    assert lines[-1] == f"{len(lines) - 1} rules"
    assert any(line.startswith("starter/unique-address ") and "unique" in line for line in lines)


def test_quiet_hides_waived_and_verbose_lists_unmatched(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent / "cases" / "waivers")
    base = ["check", "-p", "policies", "-i", "inventory", "--waivers", "waivers"]
    code, out, _ = run(capsys, *base)
    assert code == 1
    assert "waived (legacy-gpu)" in out
    code, out, _ = run(capsys, *base, "-q")
    assert code == 1
    assert "waived (" not in out
    assert "base/https" in out  # the unwaived finding stays
    monkeypatch.chdir(Path(__file__).parent / "cases" / "selectors")
    code, out, _ = run(capsys, "check", "-p", "policies", "-i", "inventory", "-v")
    assert code == 1
    assert "unmatched: sel/nobody selects no host" in out
    assert out.splitlines()[-1].startswith("mlflow-policy: ")


def test_timestamps_only_on_request(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    main(["check", "--format", "json"])
    assert "generated_at" not in json.loads(capsys.readouterr().out)
    main(["check", "--format", "json", "--timestamps"])
    stamp = json.loads(capsys.readouterr().out)["generated_at"]
    assert stamp.endswith("+00:00")
    assert len(stamp) == len("2026-11-26T08:00:00+00:00")


def test_rules_split_between_two_processes_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a large fleet about half of the rules run in a second process; the report must
    be byte-identical to the one-process report (forced here on the examples)."""
    from mlflow_policy import engine

    monkeypatch.setattr(engine, "PARALLEL_MIN_WEIGHT", 0.0)
    reports = report_per_jobs(["check", "--format", "json"], 1, tmp_path, monkeypatch)
    assert reports["2"].count(b'"rule"') > 10
    assert reports["2"] == reports["1"]
