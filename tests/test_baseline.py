"""The baseline pack (``policies/mlflow-baseline.yaml``): its own PolicyTests pass with
every rule exercised failing and passing, every rule is documented for an operator, the
staging example is clean and the prod example's findings are the documented drift."""

from __future__ import annotations

import json
import re

import pytest

from mlflow_policy.cli import main
from mlflow_policy.policy.loader import load_paths
from tests.support import REPO

BASELINE = REPO / "policies" / "mlflow-baseline.yaml"
RULES = load_paths([BASELINE], REPO).rules
# Observed-only facts (db.max_connections is declared too, so its rule runs statically).
LIVE_PREFIXES = ("db.revision", "db.expected_revision", "db.schema_current",
                 "db.missing_tables", "db.extra_tables", "http.", "clock.")
# Written in plaintext on purpose in the fixtures and examples; never printed.
SECRETS = ("hunter2-plaintext", "Risk-Team-2024!")


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_policy_tests_pass_with_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "test", "policies/", "--format", "json",
                         "--coverage-fail-under", "100")
    assert code == 0, out + err
    doc = json.loads(out)
    assert [t["name"] for t in doc["tests"] if not t["passed"]] == []
    covered = {c["rule"]: (c["failing"], c["passing"]) for c in doc["coverage"]["rules"]}
    assert set(covered) == {r.full_id for r in RULES}
    assert {rule: sides for rule, sides in covered.items() if sides != (True, True)} == {}
    assert doc["coverage"]["percent"] == 100.0
    for secret in SECRETS:
        assert secret not in out


def test_text_report_of_the_pack_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test")  # default: the configured policy paths, policies/
    assert code == 0
    lines = out.splitlines()
    assert all(line.startswith("PASS ") for line in lines if line[:4] in ("PASS", "FAIL"))
    assert f"rule coverage: {len(RULES)}/{len(RULES)} rules exercised failing and passing " \
           "(100.0%)" in lines
    assert re.fullmatch(r"\d+ tests: (\d+) passed, 0 failed", lines[-1])


@pytest.mark.parametrize("rule", RULES, ids=[r.full_id for r in RULES])
def test_every_rule_is_documented_for_an_operator(rule: object) -> None:
    from mlflow_policy.policy.loader import LoadedRule

    assert isinstance(rule, LoadedRule)
    r = rule.rule
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.id)
    assert r.title
    assert r.description is not None
    assert len(r.description.split()) >= 15  # the failure it prevents, not a restatement
    assert r.remediation is not None
    assert r.remediation.hint or r.remediation.set
    assert r.references, "where the failure is documented (explain, README)"
    assert all(ref.startswith("https://") for ref in r.references)


def test_live_only_rules_are_skipped_in_static_mode(capsys: pytest.CaptureFixture[str]) -> None:
    live = [r.full_id for r in RULES if r.rule.assert_ and all(
        p.startswith(LIVE_PREFIXES) for p in r.rule.assert_)]
    assert len(live) == 4
    argv = ["check", "--format", "json", "--fail-on", "never"]
    code, out, _ = run(capsys, *argv, *(x for rid in live for x in ("--rule", rid)))
    doc = json.loads(out)
    assert code == 0
    assert [f for f in doc["findings"] if f["rule"] in live] == []
    # db/http rules on every server (2 in staging, 3 in prod), clock-skew on every host:
    # skipped, never a violation, never a pass
    assert doc["summary"]["skipped"] == 3 * 5 + 16
    assert doc["summary"]["unmatched_rules"] == []


def test_staging_example_is_clean_under_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "-i", "inventories/staging", "--format", "json")
    doc = json.loads(out)
    assert code == 0, err
    assert [f for f in doc["findings"] if f["rule"].startswith("mlflow-baseline/")] == []
    assert doc["summary"]["findings"]["error"] == 0


def test_prod_example_findings_are_the_documented_drift(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "json")
    assert code == 1
    findings = json.loads(out)["findings"]
    got = {(f["rule"].split("/", 1)[1], f["host"]) for f in findings
           if f["rule"].startswith("mlflow-baseline/")}
    # One row per line of inventories/README.md's drift table.
    documented = {
        ("prod-runs-staged-versions", "mlflow-tracking-1"),
        ("one-version-per-backend", "mlflow-tracking-1"),  # 2 replicas: a tie, said so
        ("one-version-per-inventory", "mlflow-tracking-2"),
        ("single-periodic-jobs-runner", "mlflow-tracking-1"),
        ("single-periodic-jobs-runner", "mlflow-tracking-2"),
        ("tracking-uri-https", "trainer-nlp-01"),
        ("tracking-uri-per-inventory", "trainer-nlp-02"),
        ("client-async-logging", "trainer-vision-01"),
        ("version-pinned", "trainer-vision-03"),
        ("backend-transactional", "mlflow-tracking-risk-1"),
        ("artifact-root-remote", "mlflow-tracking-risk-1"),
        ("credentials-vaulted", "trainer-risk-01"),
        ("server-allowed-hosts", "mlflow-tracking-1"),
        ("server-allowed-hosts", "mlflow-tracking-2"),
        ("auth-db-networked", "mlflow-tracking-1"),
        ("kek-passphrase-per-backend", "mlflow-tracking-2"),
        ("db-connections-fit", "mlflow-tracking-1"),
        ("otel-endpoint", "mlflow-tracking-1"),
        ("webhook-key-set", "mlflow-tracking-risk-1"),
    }
    assert documented <= got
    assert {inv for f in findings if f["rule"].startswith("mlflow-baseline/")
            for inv in [f["inventory"]]} == {"prod"}
    typo = [f for f in findings if f["rule"] == "mlflow-policy/unknown-mlflow-env"]
    assert {f["host"] for f in typo} == {"trainer-vision-01", "trainer-vision-02",
                                         "trainer-vision-03"}
    assert all("did you mean MLFLOW_ENABLE_ASYNC_LOGGING?" in f["message"] for f in typo)
    for secret in SECRETS:
        assert secret not in out


def test_explain_a_baseline_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "mlflow-baseline/client-async-logging")
    assert code == 0
    for text in (
        "Clients log metrics asynchronously",  # title
        "blocking HTTP round trip",  # description: the failure it prevents
        "applies to: roles client; where mlflow.version: version '>=2.11.0'",
        "env.MLFLOW_ENABLE_ASYNC_LOGGING: required, matches '^(?i:true|1)$'",  # conditions
        "MLFLOW_ENABLE_ASYNC_LOGGING: bool, default False, read by MLflow 2.11.0 and later",
        "mlflow.version >=2.11.0 (match)",  # versions involved
        "hint: Set MLFLOW_ENABLE_ASYNC_LOGGING=true",  # remediation
        "env.MLFLOW_ENABLE_ASYNC_LOGGING: 'true'",
    ):
        assert text in out
    code, out, _ = run(capsys, "explain", "db-schema-current")
    assert code == 0
    assert "live only: db.schema_current" in out
    assert "(no `set`: `remediate` lists it as needing a human)" in out
    code, out, _ = run(capsys, "explain", "credentials-vaulted")
    assert "MLFLOW_TRACKING_PASSWORD: str, default None, read by MLflow 2.0.0 or earlier and " \
           "later, secret: never printed" in out
    assert "AWS_SECRET_ACCESS_KEY: not an MLflow variable" in out
    code, out, _ = run(capsys, "explain", "mlflow-policy/unknown-mlflow-env")
    assert code == 0
    assert "closest variable" in out


def test_env_vars_named_by_the_pack_exist_in_the_catalogue() -> None:
    """A typo in the pack itself would check a variable nobody sets."""
    from mlflow_policy import catalogue
    from mlflow_policy.commands.explain import fact_paths

    names = {p.split(".", 1)[1] for r in RULES for p in fact_paths(r) if p.startswith("env.")}
    outside = {n for n in names if n not in catalogue.env_vars()}
    # Not MLflow's: credentials of the cloud SDKs MLflow's artifact stores use (boto3,
    # azure-storage, databricks-sdk) and the OpenTelemetry SDK's exporter settings.
    assert outside == {
        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_STORAGE_CONNECTION_STRING", "DATABRICKS_TOKEN",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL"}
    assert len(names) >= 10


def test_fixture_inventories_are_not_read_as_policies(
        capsys: pytest.CaptureFixture[str]) -> None:
    """check -p policies/ walks *.yml/*.yaml: the fixtures use extensionless files."""
    walked = [p for p in (REPO / "policies" / "tests" / "fixtures").rglob("*")
              if p.suffix in (".yml", ".yaml")]
    assert walked == []
    code, _out, err = run(capsys, "validate")
    assert code == 0, err


def test_backend_uris_with_vaulted_passwords_are_still_checked(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The examples' PostgreSQL URIs embed a vaulted password, so the whole rendered URI is
    opaque; the backend rules must still evaluate those servers, not skip them."""
    rules = ("mlflow-baseline/backend-transactional", "mlflow-baseline/db-pool-sized")
    argv = ["check", "-i", "inventories/staging", "--format", "json"]
    code, out, _ = run(capsys, *argv, *(x for r in rules for x in ("--rule", r)))
    doc = json.loads(out)
    assert code == 0
    assert doc["summary"]["skipped"] == 0
    assert doc["summary"]["unmatched_rules"] == []
