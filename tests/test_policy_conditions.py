"""Conditions, operator by operator: present (holds / fails), absent, type mismatch,
unavailable. One table; each row is (fact, condition as written in YAML, outcome, text the
message must contain)."""

from __future__ import annotations

from typing import Any

import pytest

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.policy.conditions import CheckResult, check, check_value, describe
from mlflow_policy.policy.models import OPERATORS, Condition
from mlflow_policy.yamlio import loads

CIPHER = "$ANSIBLE_VAULT;1.1;AES256\n6231626364"

HOST = HostFacts(
    host="client-1",
    inventory="prod",
    facts={
        "host": "client-1", "inventory": "prod", "groups": ["mlflow_clients", "prod"],
        "role": "client",
        "s": {"https": "https://mlflow.corp", "http": "http://mlflow.corp:5000",
              "pg": "postgresql+psycopg2://mlflow:hunter2@db/mlflow", "path": "/data/mlruns",
              "rel": "./mlruns", "win": "C:\\mlruns", "winfwd": "d:/mlruns",
              "dbx": "databricks", "empty": "", "one": "1", "numstr": "7.5", "word": "many",
              "ver": "3.17.2", "vold": "3.4.0", "range": ">=3.1", "latest": "latest", "wild": "3.*",
              "pre": "3.18.0rc1", "spaced": " 3.17.2", "vprefix": "v3.17.2"},
        "n": {"int": 5, "one": 1, "float": 2.5, "zero": 0, "true": True, "false": False,
              "null": None, "fver": 3.1},
        "l": {"ab": ["a", "b"], "empty": [], "mixed": [1, "1", True]},
        "m": {"kv": {"k": "v"}, "empty": {}},
        "env": {"MLFLOW_TRACKING_PASSWORD": "hunter2", "MLFLOW_TRACKING_URI": "https://x"},
        "secret": VaultedValue(CIPHER),
        "decrypted": {"password": "plain-secret"},
    },
    unavailable={"db": "observed only (static mode)"},
    vaulted_paths=frozenset({"decrypted"}),
)

PASS, FAIL, SKIP = "pass", "fail", "skip"

# (fact path, condition, outcome, message fragment or None)
TABLE: list[tuple[str, Any, str, str | None]] = [
    # required / forbidden: the only operators that look at absence
    ("s.https", {"required": True}, PASS, None),
    ("s.nope", {"required": True}, FAIL, "s.nope is absent, expected to be set"),
    ("n.null", {"required": True}, PASS, None),  # null is a value: present
    ("db.revision", {"required": True}, SKIP, "observed only (static mode)"),
    ("s.nope", {"forbidden": True}, PASS, None),
    ("s.https", {"forbidden": True}, FAIL, "expected to be absent"),
    ("db.revision", {"forbidden": True}, SKIP, "observed only"),
    # type
    ("s.one", {"type": "string"}, PASS, None),
    ("n.int", {"type": "integer"}, PASS, None),
    ("n.true", {"type": "integer"}, FAIL, "n.true is true, expected to be of type integer"),
    ("n.float", {"type": "number"}, PASS, None),
    ("n.int", {"type": "number"}, PASS, None),
    ("n.true", {"type": "boolean"}, PASS, None),
    ("l.ab", {"type": "list"}, PASS, None),
    ("m.kv", {"type": "mapping"}, PASS, None),
    ("s.one", {"type": "integer"}, FAIL, "s.one is '1', expected to be of type integer"),
    ("s.nope", {"type": "integer"}, PASS, None),
    ("secret", {"type": "string"}, PASS, None),
    ("db.revision", {"type": "string"}, SKIP, None),
    # equals / not_equals: YAML types compared as values
    ("s.one", "1", PASS, None),
    ("s.one", {"equals": 1}, FAIL, "s.one is '1', expected to equal 1"),
    ("n.one", {"equals": "1"}, FAIL, "n.one is 1, expected to equal '1'"),
    ("n.one", {"equals": True}, FAIL, "n.one is 1, expected to equal true"),
    ("n.true", {"equals": 1}, FAIL, "n.true is true, expected to equal 1"),
    ("n.one", {"equals": 1.0}, PASS, None),
    ("n.null", {"equals": None}, PASS, None),
    ("n.false", False, PASS, None),
    ("l.ab", {"equals": ["a", "b"]}, PASS, None),
    ("m.kv", {"equals": {"k": "v"}}, PASS, None),
    ("s.nope", {"equals": "x"}, PASS, None),  # absent: vacuous
    ("s.one", {"not_equals": 1}, PASS, None),
    ("s.one", {"not_equals": "1"}, FAIL, "s.one is '1', expected to differ from '1'"),
    ("s.nope", {"not_equals": "x"}, PASS, None),
    ("db.revision", {"equals": "x"}, SKIP, None),
    ("db.revision", {"not_equals": "x"}, SKIP, None),
    # one_of / not_one_of
    ("s.one", {"one_of": ["1", "2"]}, PASS, None),
    ("n.one", {"one_of": ["1", "2"]}, FAIL, "n.one is 1, expected to be one of ['1', '2']"),
    ("n.true", {"one_of": [1, 2]}, FAIL, "n.true is true, expected to be one of [1, 2]"),
    ("s.nope", {"one_of": ["a"]}, PASS, None),
    ("s.one", {"not_one_of": ["1"]}, FAIL, "expected not to be one of ['1']"),
    ("n.one", {"not_one_of": ["1"]}, PASS, None),
    ("db.revision", {"one_of": ["a"]}, SKIP, None),
    ("db.revision", {"not_one_of": ["a"]}, SKIP, None),
    ("s.nope", {"not_one_of": ["a"]}, PASS, None),
    # matches / not_matches: re.search, type mismatch on non-strings
    ("s.https", {"matches": "^https://"}, PASS, None),
    ("s.http", {"matches": "^https://"}, FAIL,
     "s.http is 'http://mlflow.corp:5000', expected to match '^https://'"),
    ("s.http", {"matches": "corp"}, PASS, None),  # search, not match
    ("m.kv", {"matches": "k"}, FAIL, "m.kv is {k: 'v'} (a mapping, not a string), expected"),
    ("n.int", {"matches": "5"}, FAIL, "(an integer, not a string)"),
    ("s.nope", {"matches": "x"}, PASS, None),
    ("s.http", {"not_matches": "^https://"}, PASS, None),
    ("s.https", {"not_matches": "^https"}, FAIL, "expected not to match '^https'"),
    ("l.ab", {"not_matches": "z"}, FAIL, "(a list, not a string)"),
    ("db.revision", {"matches": "x"}, SKIP, None),
    ("db.revision", {"not_matches": "x"}, SKIP, None),
    ("s.nope", {"not_matches": "x"}, PASS, None),
    # prefix / suffix
    ("s.https", {"prefix": "https://"}, PASS, None),
    ("s.http", {"prefix": "https://"}, FAIL, "expected to start with 'https://'"),
    ("s.path", {"suffix": "mlruns"}, PASS, None),
    ("s.path", {"suffix": "/"}, FAIL, "expected to end with '/'"),
    ("n.int", {"prefix": "5"}, FAIL, "(an integer, not a string)"),
    ("s.nope", {"suffix": "/"}, PASS, None),
    ("db.revision", {"prefix": "x"}, SKIP, None),
    ("db.revision", {"suffix": "x"}, SKIP, None),
    ("s.nope", {"prefix": "x"}, PASS, None),
    # version: PEP 440 specifiers
    ("s.ver", {"version": "==3.17.2"}, PASS, None),
    ("s.ver", {"version": ">=3.10,<4"}, PASS, None),
    ("s.ver", {"version": ">=3.18"}, FAIL,
     "s.ver is '3.17.2', expected to be a version satisfying '>=3.18'"),
    ("s.pre", {"version": ">=3.17"}, PASS, None),  # a running rc still compares
    ("s.latest", {"version": ">=3"}, FAIL, "s.latest is 'latest' (not a PEP 440 version)"),
    ("n.fver", {"version": ">=3"}, FAIL, "(a number, not a version string (quote it in YAML))"),
    ("l.ab", {"version": ">=3"}, FAIL, "(a list, not a string)"),
    ("s.nope", {"version": ">=3"}, PASS, None),
    ("db.revision", {"version": ">=3"}, SKIP, None),
    # pinned: exactly one version
    ("s.ver", {"pinned": True}, PASS, None),
    ("s.vprefix", {"pinned": True}, PASS, None),
    ("s.range", {"pinned": True}, FAIL, "s.range is '>=3.1', expected to be pinned"),
    ("s.latest", {"pinned": True}, FAIL, "expected to be pinned to one exact version"),
    ("s.wild", {"pinned": True}, FAIL, None),
    ("s.spaced", {"pinned": True}, FAIL, None),
    ("s.range", {"pinned": False}, PASS, None),
    ("s.ver", {"pinned": False}, FAIL, "expected not to be pinned"),
    ("n.fver", {"pinned": True}, FAIL, "(a number, not a version string (quote it in YAML))"),
    ("s.nope", {"pinned": True}, PASS, None),
    ("s.nope", {"required": True, "pinned": True}, FAIL, "expected to be set"),
    ("db.revision", {"pinned": True}, SKIP, None),
    # scheme / not_scheme
    ("s.pg", {"scheme": ["postgresql"]}, PASS, None),
    ("s.pg", {"scheme": ["postgresql+psycopg2"]}, PASS, None),
    ("s.pg", {"scheme": ["mysql"]}, FAIL,
     "s.pg is 'postgresql+psycopg2://mlflow:***@db/mlflow', expected to have a URI scheme"),
    ("s.path", {"scheme": ["file"]}, PASS, None),
    ("s.rel", {"scheme": ["file"]}, PASS, None),
    ("s.win", {"scheme": ["file"]}, PASS, None),
    ("s.winfwd", {"scheme": ["file"]}, PASS, None),
    ("s.dbx", {"scheme": ["databricks"]}, PASS, None),
    ("s.https", {"scheme": ["HTTPS"]}, PASS, None),
    ("s.empty", {"scheme": ["file"]}, FAIL, "(an empty string, not a URI)"),
    ("s.path", {"not_scheme": ["file", "sqlite"]}, FAIL,
     "expected not to have a URI scheme in ['file', 'sqlite']"),
    ("s.pg", {"not_scheme": ["file"]}, PASS, None),
    ("n.int", {"scheme": ["http"]}, FAIL, "(an integer, not a string)"),
    ("s.nope", {"scheme": ["http"]}, PASS, None),
    ("db.revision", {"not_scheme": ["http"]}, SKIP, None),
    ("db.revision", {"scheme": ["http"]}, SKIP, None),
    ("s.nope", {"not_scheme": ["http"]}, PASS, None),
    # min / max: numbers and numeric strings
    ("n.int", {"min": 5}, PASS, None),
    ("n.int", {"min": 6}, FAIL, "n.int is 5, expected to be >= 6"),
    ("n.float", {"max": 2.5}, PASS, None),
    ("n.float", {"max": "2"}, FAIL, "n.float is 2.5, expected to be <= '2'"),
    ("s.numstr", {"min": 7, "max": 8}, PASS, None),
    ("s.word", {"min": 1}, FAIL, "s.word is 'many' (a string that is not a number)"),
    ("n.true", {"max": 5}, FAIL, "n.true is true (a boolean, not a number)"),
    ("l.ab", {"min": 1}, FAIL, "(a list, not a number)"),
    ("s.nope", {"min": 1}, PASS, None),
    ("db.revision", {"max": 1}, SKIP, None),
    ("db.revision", {"min": 1}, SKIP, None),
    ("s.nope", {"max": 1}, PASS, None),
    # contains: list membership (typed) or substring
    ("l.ab", {"contains": "a"}, PASS, None),
    ("l.mixed", {"contains": True}, PASS, None),
    ("l.ab", {"contains": "c"}, FAIL, "l.ab is ['a', 'b'], expected to contain 'c'"),
    ("groups", {"contains": "mlflow_clients"}, PASS, None),
    ("s.https", {"contains": "mlflow"}, PASS, None),
    ("s.https", {"contains": 5}, FAIL, "(a string; it cannot contain an integer)"),
    ("m.kv", {"contains": "k"}, FAIL, "(a mapping, not a list or a string)"),
    ("s.nope", {"contains": "x"}, PASS, None),
    ("db.revision", {"contains": "x"}, SKIP, None),
    # empty
    ("l.empty", {"empty": True}, PASS, None),
    ("m.empty", {"empty": True}, PASS, None),
    ("s.empty", {"empty": True}, PASS, None),
    ("n.null", {"empty": True}, PASS, None),
    ("l.ab", {"empty": True}, FAIL, "expected to be empty"),
    ("l.empty", {"empty": False}, FAIL, "l.empty is [], expected not to be empty"),
    ("n.int", {"empty": False}, FAIL, "(an integer, not a list, mapping or string)"),
    ("s.nope", {"empty": False}, PASS, None),
    ("db.revision", {"empty": True}, SKIP, None),
    # not_vulnerable: the catalogue's advisories (OSV ranges) of one scope
    ("s.ver", {"not_vulnerable": "server"}, PASS, None),
    ("s.vold", {"not_vulnerable": "server"}, FAIL,
     "s.vold is '3.4.0' (affected by CVE-2025-14279, fixed in 3.5.0; CVE-2026-4137"),
    ("s.vold", {"not_vulnerable": "client"}, FAIL, "(affected by CVE-2026-4137, fixed in 3.11.0)"),
    ("s.range", {"not_vulnerable": "server"}, PASS, None),  # `pinned` says it is a range
    ("n.fver", {"not_vulnerable": "server"}, FAIL, "a number, not a version string"),
    ("s.nope", {"not_vulnerable": "server"}, PASS, None),
    ("db.revision", {"not_vulnerable": "server"}, SKIP, None),
    # vaulted
    ("secret", {"vaulted": True}, PASS, None),
    ("decrypted.password", {"vaulted": True}, PASS, None),  # from a decrypted vault file
    ("s.https", {"vaulted": True}, FAIL, "s.https is 'https://mlflow.corp', expected to be "
                                         "vault-encrypted"),
    ("secret", {"vaulted": False}, FAIL, "secret is *** (vaulted), expected not to be"),
    ("s.nope", {"vaulted": True}, PASS, None),
    ("db.revision", {"vaulted": True}, SKIP, None),
    # a vault-encrypted value cannot be inspected statically: skipped, never guessed
    ("secret", {"equals": "x"}, SKIP, "not checked: vaulted ('equals'"),
    ("secret", {"required": True, "matches": "x"}, SKIP, None),
    ("secret", {"forbidden": True}, FAIL, "secret is *** (vaulted), expected to be absent"),
    # combinators
    ("s.nope", {"not": {"equals": "x"}}, FAIL,
     "s.nope is absent, expected not to satisfy: equals 'x'"),
    ("s.one", {"not": {"equals": "2"}}, PASS, None),
    ("s.one", {"not": {"equals": "1"}}, FAIL, None),
    ("db.revision", {"not": {"equals": "x"}}, SKIP, None),
    ("s.http", {"all_of": [{"prefix": "http"}, {"suffix": "5000"}]}, PASS, None),
    ("s.http", {"all_of": [{"prefix": "http"}, {"suffix": "/"}]}, FAIL,
     "expected to end with '/'"),
    ("s.http", {"any_of": [{"prefix": "https"}, {"suffix": "5000"}]}, PASS, None),
    ("s.http", {"any_of": [{"prefix": "https"}, {"suffix": "/"}]}, FAIL,
     "expected any of: prefix 'https'; or suffix '/'"),
    ("s.nope", {"any_of": [{"required": True}, {"forbidden": True}]}, PASS, None),
    ("s.nope", {"all_of": [{"prefix": "x"}, {"suffix": "y"}]}, PASS, None),
    ("s.nope", {"all_of": [{"prefix": "x"}, {"required": True}]}, FAIL, "expected to be set"),
    ("db.revision", {"all_of": [{"prefix": "x"}]}, SKIP, None),
    ("db.revision", {"any_of": [{"prefix": "x"}]}, SKIP, None),
    ("secret", {"any_of": [{"equals": "x"}, {"vaulted": True}]}, PASS, None),
    ("secret", {"any_of": [{"equals": "x"}, {"vaulted": False}]}, SKIP, None),
    ("secret", {"all_of": [{"equals": "x"}, {"vaulted": False}]}, FAIL, None),
    # several operators: AND, the first failure (in operator order) is the one named
    ("s.http", {"matches": "^https", "required": True, "suffix": "/"}, FAIL,
     "expected to match '^https'"),
]


def _cond(raw: Any) -> Condition:
    return Condition.model_validate(raw)


def _outcome(res: CheckResult) -> str:
    if res.skipped is not None:
        assert res.ok is False
        return SKIP
    return PASS if res.ok else FAIL


@pytest.mark.parametrize(("path", "raw", "outcome", "fragment"), TABLE,
                         ids=[f"{p}-{c}" for p, c, _, _ in TABLE])
def test_condition_table(path: str, raw: Any, outcome: str, fragment: str | None) -> None:
    res = check(_cond(raw), HOST, path)
    assert _outcome(res) == outcome, res.message
    if fragment is not None:
        assert fragment in res.message
    # no message ever shows vault ciphertext or a secret's plaintext
    for text in (res.message, res.expected, str(res.skipped)):
        assert "ANSIBLE_VAULT" not in text
        assert "hunter2" not in text
        assert "plain-secret" not in text


def test_table_covers_every_operator_present_absent_and_unavailable() -> None:
    seen: dict[str, set[str]] = {op: set() for op in OPERATORS}
    for path, raw, outcome, _ in TABLE:
        for op in _cond(raw).operators:
            if path.startswith("db."):
                seen[op].add("unavailable")
            elif path.startswith("s.nope"):
                seen[op].add("absent")
            else:
                seen[op].add(outcome)
    # forbidden cannot pass on a present fact: its pass is the absent row
    seen["forbidden"].add(PASS)
    missing = {op: {PASS, FAIL, "absent", "unavailable"} - kinds for op, kinds in seen.items()}
    assert {op: m for op, m in missing.items() if m} == {}


def test_secret_names_and_uri_passwords_are_masked() -> None:
    res = check(_cond({"equals": "x"}), HOST, "env.MLFLOW_TRACKING_PASSWORD")
    assert res.message == "env.MLFLOW_TRACKING_PASSWORD is ***, expected to equal 'x'"
    assert res.actual == "hunter2"  # the raw value travels on; reporters mask it
    # decrypted vault plaintext is as opaque as an inline !vault value: not compared at all
    res = check(_cond({"equals": "x"}), HOST, "decrypted.password")
    assert res.skipped is not None
    assert res.message == ("decrypted.password: not checked: vaulted ('equals' does not "
                           "read vault-encrypted values)")
    res = check(_cond({"matches": "^https"}), HOST, "env")
    assert "hunter2" not in res.message
    assert "***" in res.message


def test_expected_describes_the_failing_operator_or_the_whole_condition() -> None:
    cond = _cond({"required": True, "matches": "^https://"})
    assert describe(cond) == "required, matches '^https://'"
    assert check(cond, HOST, "s.http").expected == "matches '^https://'"
    assert check(cond, HOST, "s.https").expected == "required, matches '^https://'"
    assert check(cond, HOST, "s.nope").expected == "required"
    assert describe(_cond({"not": {"one_of": [1, "a"]}})) == "not (one of [1, 'a'])"
    assert describe(_cond({"min": 2, "scheme": ["s3"]})) == "scheme in ['s3'], >= 2"


def test_actual_is_the_value_or_none_when_absent() -> None:
    assert check(_cond({"equals": 2}), HOST, "n.int").actual == 5
    assert check(_cond({"required": True}), HOST, "s.nope").actual is None


def test_check_value_takes_a_computed_value() -> None:
    cond = _cond({"min": 3})
    assert check_value(cond, True, 2, "clock.offset_seconds", HOST).ok is False
    assert check_value(cond, False, None, "clock.offset_seconds", HOST).ok is True


def test_conditions_from_yaml_keep_yaml_types() -> None:
    """Through the YAML layer: `"1"` and `1` and `true` stay three different values."""
    doc = loads('a: "1"\nb: 1\nc: true\nd: {one_of: [1, "2"]}\n', "t.yaml")
    conds = {k: _cond(v) for k, v in doc.items()}
    assert check(conds["a"], HOST, "s.one").ok
    assert not check(conds["b"], HOST, "s.one").ok
    assert check(conds["b"], HOST, "n.one").ok
    assert not check(conds["c"], HOST, "n.one").ok
    assert check(conds["d"], HOST, "n.one").ok


def test_messages_are_deterministic() -> None:
    for path, raw, _, _ in TABLE:
        assert check(_cond(raw), HOST, path) == check(_cond(raw), HOST, path)


def test_shared_verdicts_still_mask_per_host() -> None:
    """Verdicts are shared between hosts with the same value; whether the path is vaulted
    on a host is part of what is shared, in either order of evaluation."""
    cond = Condition.model_validate({"equals": "b"})
    plain = HostFacts(host="p", inventory="prod", facts={"x": {"y": "a"}})
    vaulted = HostFacts(host="v", inventory="prod", facts={"x": {"y": "a"}},
                        vaulted_paths=frozenset({"x"}))
    for order in ((plain, vaulted), (vaulted, plain)):
        results = {h.host: check(cond, h, "x.y") for h in order}
        assert "'a'" in results["p"].message
        assert "'a'" not in results["v"].message
        assert results["v"].skipped is not None
        assert results["p"].skipped is None


def test_peer_templates_render_per_peer() -> None:
    """A template reading only the peer is rendered once per peer, not once per host, and
    never answers for another peer."""
    cond = Condition.model_validate({"version": "<={{ peer.mlflow.version }}"})
    client = HostFacts(host="c", inventory="prod", facts={"mlflow": {"version": "3.1.0"}})
    old = {"mlflow": {"version": "3.0.0"}}
    new = {"mlflow": {"version": "3.2.0"}}
    for _ in range(2):
        assert check(cond, client, "mlflow.version", extra={"peer": new}).ok
        assert not check(cond, client, "mlflow.version", extra={"peer": old}).ok


def test_shared_verdicts_tell_negative_zero_apart() -> None:
    cond = Condition.model_validate({"min": 1})
    messages = [check(cond, HostFacts(host=str(v), inventory="prod", facts={"x": v}), "x").message
                for v in (0.0, -0.0)]
    assert "-0.0" not in messages[0]
    assert "-0.0" in messages[1]
