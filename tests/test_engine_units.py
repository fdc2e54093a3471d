"""Unit tests of the engine's parts with hand-built fact documents: value order, findings'
order and fingerprints, the Result's exit code, the kinds' partitions, masking of views."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlflow_policy.core import HostFacts, Location, VaultedValue
from mlflow_policy.engine import evaluate
from mlflow_policy.findings import (
    INTERNAL_ERROR,
    WAIVER_EXPIRED,
    WAIVER_UNUSED,
    Finding,
    Related,
    Result,
)
from mlflow_policy.policy.loader import LoadedPolicy, LoadedRule, LoadedWaiver
from mlflow_policy.policy.models import Rule, Selector
from mlflow_policy.report.view import view
from mlflow_policy.rules import RULE_EVALUATORS, RuleContext
from mlflow_policy.rules.base import value_key
from mlflow_policy.rules.peer import normalise_url

LOC = Location("policies/p.yaml", 7, 7)


def host(name: str, inventory: str = "inv", **facts: Any) -> HostFacts:
    doc: dict[str, Any] = {"host": name, "inventory": inventory}
    for path, value in facts.items():
        node = doc
        parts = path.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return HostFacts(host=name, inventory=inventory, facts=doc)


def loaded(raw: dict[str, Any], severity: str = "error") -> LoadedRule:
    rule = Rule.model_validate({"id": "r", **raw})
    return LoadedRule(full_id="p/r", policy="p", rule=rule, severity=severity,  # type: ignore[arg-type]
                      policy_match=None, location=LOC)


def run(kind: str, raw: dict[str, Any], hosts: list[HostFacts]) -> list[Finding]:
    rule = loaded(raw)
    return sorted(RULE_EVALUATORS[kind](rule, hosts, RuleContext(all_hosts=hosts)).findings)


# --------------------------------------------------------------------------- value order

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5),
                    st.floats(allow_nan=False))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8)


@given(st.lists(values, max_size=6))
def test_value_key_is_a_total_order_over_mixed_types(items: list[Any]) -> None:
    keys = [value_key(v) for v in items]
    assert sorted(keys) == sorted(reversed(keys))  # never raises, never order-dependent
    for v in items:
        assert value_key(v) == value_key(v)


def test_value_key_keeps_yaml_types_apart() -> None:
    assert value_key("1") != value_key(1)
    assert value_key(True) != value_key(1)
    assert value_key(1) == value_key(1.0)
    assert value_key(None) != value_key(None, present=False)
    assert value_key("a") < value_key("b")
    assert value_key(VaultedValue("x")) == value_key(VaultedValue("x"))


# --------------------------------------------------------------------------- findings


def test_findings_order_by_inventory_host_rule_fact_message() -> None:
    a = Finding(rule="p/b", severity="error", message="m", host="h1", inventory="prod")
    b = Finding(rule="p/a", severity="error", message="m", host="h2", inventory="prod")
    c = Finding(rule="p/a", severity="error", message="m", host="h1", inventory="staging")
    d = Finding(rule="mlflow-policy/waiver-unused", severity="warning", message="w")
    assert sorted([c, b, a, d]) == [d, a, b, c]


def test_fingerprint_ignores_locations_and_values() -> None:
    one = Finding(rule="p/r", severity="error", message="x is 1", host="h", inventory="i",
                  fact="x", actual=1, location=Location("a.yml", 3, 1))
    moved = Finding(rule="p/r", severity="error", message="x is 2", host="h", inventory="i",
                    fact="x", actual=2, location=Location("a.yml", 9, 1))
    other = Finding(rule="p/r", severity="error", message="x is 1", host="h2", inventory="i",
                    fact="x", actual=1)
    assert one.fingerprint == moved.fingerprint
    assert one.fingerprint != other.fingerprint


def _result(*findings: Finding) -> Result:
    return Result(findings=tuple(sorted(findings)), hosts=(), rules=(),
                  unmatched_rules=())


@pytest.mark.parametrize(("severity", "fail_on", "code"), [
    ("error", "error", 1), ("warning", "error", 0), ("warning", "warning", 1),
    ("info", "warning", 0), ("info", "info", 1), ("error", "never", 0),
])
def test_exit_code_follows_fail_on(severity: str, fail_on: str, code: int) -> None:
    f = Finding(rule="p/r", severity=severity, message="m", host="h", inventory="i")
    assert _result(f).exit_code(fail_on) == code
    assert _result(f.with_waiver("w")).exit_code(fail_on) == 0


def test_internal_error_exits_3_even_with_fail_on_never() -> None:
    f = Finding(rule=INTERNAL_ERROR, severity="error", message="rule p/r raised")
    assert _result(f).exit_code("never") == 3


# --------------------------------------------------------------------------- kinds


def test_consistent_absent_counts_and_absent_by_is_not_checked() -> None:
    hosts = [host("a", mlflow__version="1", server__db="x"),
             host("b", mlflow__version="1", server__db="x"),
             host("c", server__db="x"),
             host("d", mlflow__version="2")]
    found = run("consistent", {"consistent": {"fact": "mlflow.version", "by": "server.db"}},
                hosts)
    assert [(f.host, f.actual) for f in found] == [("c", None)]
    assert "'1'" in found[0].message
    assert "a, b" in found[0].message


def test_consistent_tie_reports_every_side_in_either_input_order() -> None:
    hosts = [host("x", v=2), host("y", v="2"), host("z", v=True)]
    for order in (hosts, hosts[::-1]):
        found = run("consistent", {"consistent": {"fact": "v"}}, order)
        # no majority: no side is chosen (issue 11), every host is told the others' values
        assert sorted(f.host for f in found) == ["x", "y", "z"]
        assert all("no majority (a tie)" in f.message for f in found)
        by_host = {f.host: f.message for f in found}
        assert "True held by z" in by_host["x"]
        assert "2 held by x" in by_host["z"]


def test_unique_names_at_most_ten_others() -> None:
    hosts = [host(f"h{i:02}", u="same") for i in range(30)]
    found = run("unique", {"unique": {"fact": "u"}}, hosts)
    assert len(found) == 30
    assert all("and 19 more" in f.message for f in found)
    assert "h00" not in found[0].message.split("also used by")[1].split(" and ")[0] or \
        found[0].host != "h00"


@pytest.mark.parametrize(("a", "b"), [
    ("HTTPS://Mlflow.Corp:443/", "https://mlflow.corp"),
    ("http://mlflow.corp:80/api/", "http://mlflow.corp/api"),
    ("https://user:pw@mlflow.corp", "https://mlflow.corp"),
])
def test_normalise_url_equal(a: str, b: str) -> None:
    assert normalise_url(a) == normalise_url(b)


@pytest.mark.parametrize(("a", "b"), [
    ("http://mlflow.corp:8080", "http://mlflow.corp"),
    ("http://mlflow.corp", "https://mlflow.corp"),
    ("http://mlflow.corp/A", "http://mlflow.corp/a"),
])
def test_normalise_url_different(a: str, b: str) -> None:
    assert normalise_url(a) != normalise_url(b)


def test_normalise_url_refuses_non_urls() -> None:
    assert normalise_url(5) is None
    assert normalise_url("mlflow.corp") is None
    assert normalise_url("http://h:notaport") is None


# --------------------------------------------------------------------------- masking


def test_view_masks_secrets_in_value_message_and_related_values() -> None:
    h = host("c", env__MLFLOW_TRACKING_PASSWORD="hunter2")
    other = host("d", env__MLFLOW_TRACKING_PASSWORD="s3cr3t-other")
    f = Finding(rule="p/r", severity="error", host="c", inventory="inv",
                fact="env.MLFLOW_TRACKING_PASSWORD", actual="hunter2",
                expected="'s3cr3t-other'",
                message="env.MLFLOW_TRACKING_PASSWORD is 'hunter2', but the most common value "
                        "is 's3cr3t-other'",
                related=(Related("inv", "d", "s3cr3t-other"),))
    res = Result(findings=(f,), hosts=(h, other), rules=(), unmatched_rules=())
    v = view(f, res)
    assert v.actual == "***"
    assert "hunter2" not in v.message
    assert "s3cr3t-other" not in v.message
    assert v.expected == "'***'"


def test_view_masks_uri_passwords_and_decrypted_vault_values() -> None:
    uri = "postgresql://mlflow:pw-123@db/mlflow"
    base = host("s", server__backend_store_uri=uri, vars__db_pw="plain-but-vaulted")
    h = HostFacts(host="s", inventory="inv", facts=base.facts,
                  vaulted_paths=frozenset({"vars.db_pw"}))
    f1 = Finding(rule="p/r", severity="error", host="s", inventory="inv",
                 fact="server.backend_store_uri", actual=uri, message=f"uri is {uri!r}")
    f2 = Finding(rule="p/r", severity="error", host="s", inventory="inv", fact="vars.db_pw",
                 actual="plain-but-vaulted", message="vars.db_pw is 'plain-but-vaulted'")
    res = Result(findings=(f1, f2), hosts=(h,), rules=(), unmatched_rules=())
    v1, v2 = view(f1, res), view(f2, res)
    assert "pw-123" not in str(v1.actual)
    assert "pw-123" not in v1.message
    assert v2.actual == "***"
    assert "plain-but-vaulted" not in v2.message


# --------------------------------------------------------------------------- engine + waivers

TODAY = date(2026, 11, 26)


def policy(*raws: dict[str, Any]) -> LoadedPolicy:
    rules = tuple(
        LoadedRule(full_id=f"p/{r['id']}", policy="p", rule=Rule.model_validate(r),
                   severity="error", policy_match=None, location=LOC)
        for r in raws)
    return LoadedPolicy(name="p", path="p.yaml", location=LOC, description=None, labels={},
                        rules=rules)


def waiver(name: str, rules: tuple[str, ...], expires: date,
           match: dict[str, Any] | None = None) -> LoadedWaiver:
    return LoadedWaiver(name=name, rules=rules,
                        match=Selector.model_validate(match) if match else None,
                        justification="j", owner="o", expires=expires, ticket=None,
                        location=Location("w.yaml", 1, 1))


FAILING = {"id": "r", "assert": {"x": {"required": True}}}


@pytest.mark.parametrize(("expires", "waived", "expired"), [
    (TODAY, True, False),                       # valid through its day (UTC)
    (TODAY - timedelta(days=1), False, True),   # from the next day on: fails again
])
def test_waiver_valid_through_its_expiry_day(expires: date, waived: bool,
                                             expired: bool) -> None:
    res = evaluate([policy(FAILING)], [host("h")], waivers=[waiver("w", ("p/*",), expires)],
                   today=TODAY)
    rule_finding = next(f for f in res.findings if f.rule == "p/r")
    assert rule_finding.waived is waived
    assert any(f.rule == WAIVER_EXPIRED for f in res.findings) is expired
    assert res.exit_code("error") == (0 if waived else 1)


def test_waiver_selector_limits_it_to_matching_hosts() -> None:
    res = evaluate([policy(FAILING)], [host("a"), host("b")],
                   waivers=[waiver("w", ("p/r",), TODAY, {"hosts": ["a"]})], today=TODAY)
    assert [(f.host, f.waived) for f in res.findings] == [("a", True), ("b", False)]


def test_unused_waiver_is_reported_unless_its_rules_were_filtered_out() -> None:
    w = waiver("w", ("p/other",), TODAY)
    pol = policy(FAILING, {"id": "other", "assert": {"x": {"forbidden": True}}})
    res = evaluate([pol], [host("h")], waivers=[w], today=TODAY)
    assert [f.rule for f in res.findings if f.host is None] == [WAIVER_UNUSED]
    res = evaluate([pol], [host("h")], waivers=[w], today=TODAY, rule_filter=["p/r"])
    assert [f.rule for f in res.findings if f.host is None] == []


def test_waiver_findings_can_themselves_be_waived_or_filtered() -> None:
    stale = waiver("stale", ("p/nothing",), TODAY)
    quiet = waiver("quiet", ("mlflow-policy/waiver-unused",), TODAY)
    pol = policy(FAILING, {"id": "nothing", "assert": {"x": {"forbidden": True}}})
    res = evaluate([pol], [host("h")], waivers=[stale, quiet], today=TODAY)
    unused = [f for f in res.findings if f.rule == WAIVER_UNUSED]
    assert [(f.waived, f.waiver) for f in unused] == [(True, "quiet")]
    res = evaluate([pol], [host("h")], waivers=[stale], today=TODAY,
                   skip_filter=["mlflow-policy/*"])
    assert not [f for f in res.findings if f.rule.startswith("mlflow-policy/")]


def test_internal_error_is_never_waived_nor_filtered(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setitem(RULE_EVALUATORS, "assert", boom)  # type: ignore[arg-type]
    res = evaluate([policy(FAILING)], [host("h")], waivers=[waiver("all", ("*",), TODAY)],
                   today=TODAY, skip_filter=["mlflow-policy/*"])
    errors = [f for f in res.findings if f.rule == INTERNAL_ERROR]
    assert len(errors) == 1
    assert not errors[0].waived
    assert "p/r" in errors[0].message
    assert res.exit_code("never") == 3


def test_skipped_counts_rule_host_pairs_and_unmatched_rules_are_listed() -> None:
    h = HostFacts(host="h", inventory="inv", facts={"host": "h", "inventory": "inv"},
                  unavailable={"db": "observed only"})
    pol = policy({"id": "live", "assert": {"db.revision": {"required": True},
                                           "db.schema_current": {"equals": True}}},
                 {"id": "none", "match": {"hosts": ["zzz"]}, "assert": {"x": {"required": True}}})
    res = evaluate([pol], [h, host("h2")], today=TODAY)
    assert res.skipped == 1  # h once for p/live (two facts); h2 has no unavailable db
    assert res.unmatched_rules == ("p/none",)
    assert [(f.host, f.fact) for f in res.findings] == [("h2", "db.revision")]


ALL_KINDS = policy(
    {"id": "a", "assert": {"v": {"required": True, "equals": "1"}}},
    {"id": "c", "consistent": {"fact": "v", "by": "g"}},
    {"id": "u", "unique": {"fact": "v"}},
    {"id": "p", "match": {"roles": ["client"]}, "peer": {
        "via": "to", "target": {"match": {"roles": ["server"]}, "key": "url"},
        "assert": {"v": {"equals": "{{ peer.v }}"}}}},
    {"id": "pr", "match": {"inventories": ["prod"]},
     "promotion": {"fact": "v", "from": {"inventories": ["staging"]}}},
)


@st.composite
def fleets(draw: st.DrawFn) -> list[HostFacts]:
    hosts = []
    for i in range(draw(st.integers(1, 12))):
        inv = draw(st.sampled_from(["prod", "staging"]))
        facts: dict[str, Any] = {"role": draw(st.sampled_from(["client", "server"])),
                                 "url": f"https://s{i % 3}", "to": f"HTTPS://s{i % 4}/"}
        if draw(st.booleans()):
            facts["v"] = draw(st.sampled_from(["1", "2", 1, True]))
        if draw(st.booleans()):
            facts["g"] = draw(st.sampled_from(["x", "y"]))
        hosts.append(HostFacts(host=f"h{i}", inventory=inv,
                               facts={"host": f"h{i}", "inventory": inv, **facts}))
    return hosts


@given(fleets(), st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_host_order(hosts: list[HostFacts], rnd: Any) -> None:
    first = evaluate([ALL_KINDS], hosts, today=TODAY)
    shuffled = list(hosts)
    rnd.shuffle(shuffled)
    second = evaluate([ALL_KINDS], shuffled, today=TODAY)
    assert [(f.sort_key, f.expected, f.severity) for f in first.findings] == \
        [(f.sort_key, f.expected, f.severity) for f in second.findings]
    assert first.skipped == second.skipped
    assert first.internal_errors == 0
