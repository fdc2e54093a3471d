"""Laws of the condition language, checked over generated conditions and values."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mlflow_policy.core import HostFacts
from mlflow_policy.policy.conditions import check
from mlflow_policy.policy.models import Condition
from mlflow_policy.policy.operators import same, scheme_of

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(-5, 5, allow_nan=False), st.sampled_from(["", "1", "a", "3.1"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
    max_leaves=6)
strings = st.sampled_from(["a", "^x", "3", "http", "/"])

# Value operators only (no required/forbidden): these hold vacuously on an absent fact.
leaf_ops = st.one_of(
    st.builds(lambda v: {"equals": v}, values),
    st.builds(lambda v: {"not_equals": v}, values),
    st.builds(lambda v: {"one_of": [v]}, values),
    st.builds(lambda v: {"not_one_of": [v]}, values),
    st.builds(lambda s: {"matches": s}, strings),
    st.builds(lambda s: {"not_matches": s}, strings),
    st.builds(lambda s: {"prefix": s}, strings),
    st.builds(lambda s: {"suffix": s}, strings),
    st.builds(lambda s: {"version": s}, st.sampled_from([">=3", "==3.1", "<4,>1"])),
    st.builds(lambda b: {"pinned": b}, st.booleans()),
    st.builds(lambda s: {"scheme": [s]}, st.sampled_from(["file", "https", "s3"])),
    st.builds(lambda s: {"not_scheme": [s]}, st.sampled_from(["file", "https", "s3"])),
    st.builds(lambda n: {"min": n}, st.integers(-3, 3)),
    st.builds(lambda n: {"max": n}, st.integers(-3, 3)),
    st.builds(lambda t: {"type": t}, st.sampled_from(
        ["string", "integer", "number", "boolean", "list", "mapping"])),
    st.builds(lambda v: {"contains": v}, scalars),
    st.builds(lambda b: {"empty": b}, st.booleans()),
    st.builds(lambda b: {"vaulted": b}, st.booleans()),
)
conditions = st.recursive(leaf_ops, lambda inner: st.one_of(
    st.builds(lambda cs: {"all_of": cs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda cs: {"any_of": cs}, st.lists(inner, min_size=1, max_size=3)),
), max_leaves=5)


def _host(value: Any = None, present: bool = True) -> HostFacts:
    return HostFacts(host="h", inventory="i", facts={"f": value} if present else {})


@given(conditions)
def test_every_value_operator_holds_on_an_absent_fact(raw: dict[str, Any]) -> None:
    assert check(Condition.model_validate(raw), _host(present=False), "f").ok


@given(conditions, values)
def test_not_inverts_a_decided_outcome(raw: dict[str, Any], value: Any) -> None:
    host = _host(value)
    plain = check(Condition.model_validate(raw), host, "f")
    negated = check(Condition.model_validate({"not": raw}), host, "f")
    assert plain.skipped is None
    assert negated.ok is (not plain.ok)


@given(conditions, values)
def test_checking_is_deterministic_and_never_raises(raw: dict[str, Any], value: Any) -> None:
    cond = Condition.model_validate(raw)
    first = check(cond, _host(value), "f")
    assert first == check(cond, _host(value), "f")
    assert first.message.startswith("f")


@given(values, values)
def test_same_is_symmetric_and_keeps_yaml_types_apart(a: Any, b: Any) -> None:
    assert same(a, b) is same(b, a)
    assert same(a, a)
    if isinstance(a, bool) != isinstance(b, bool):
        assert not same(a, b)
    if isinstance(a, str) != isinstance(b, str):
        assert not same(a, b)


@given(st.sampled_from(["postgresql", "mysql", "s3", "http", "gs"]),
       st.sampled_from(["", "+psycopg2", "+pymysql"]),
       st.text("abc/:@", max_size=10))
def test_scheme_is_the_lowercased_prefix(scheme: str, driver: str, rest: str) -> None:
    assert scheme_of(f"{scheme.upper()}{driver}://{rest}") == f"{scheme}{driver}"
