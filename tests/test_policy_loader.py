"""Loading policy files: every invalid fixture gives exactly the located errors it lists.

Cases live in tests/fixtures/policy/invalid/: a file lists its expected errors as trailing
``# error: LINE:COL: message`` comments; a directory (several files loaded together) lists
them in ``EXPECTED`` as ``FILE:LINE:COL: message``. New cases are picked up automatically.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pydantic
import pytest

from mlflow_policy.errors import InputErrors
from mlflow_policy.policy import models
from mlflow_policy.policy.loader import load_paths, load_waivers

FIXTURES = Path(__file__).parent / "fixtures" / "policy"
INVALID = FIXTURES / "invalid"
VALID = FIXTURES / "valid"
_ERROR_LINE = re.compile(r"^# error: (\d+):(\d+): (.*)$")


def _expected(case: Path) -> list[tuple[str, int, int, str]]:
    if case.is_dir():
        out = []
        for line in (case / "EXPECTED").read_text().splitlines():
            where, _, message = line.partition(": ")
            file, ln, col = where.rsplit(":", 2)
            out.append((file, int(ln), int(col), message))
        return out
    return [(case.name, int(m[1]), int(m[2]), m[3])
            for m in map(_ERROR_LINE.match, case.read_text().splitlines()) if m]


def _cases() -> list[Path]:
    return sorted(p for p in INVALID.iterdir() if p.suffix == ".yaml" or p.is_dir())


@pytest.mark.parametrize("case", _cases(), ids=lambda p: p.name)
def test_invalid_fixture_gives_exactly_its_errors(case: Path) -> None:
    expected = _expected(case)
    assert expected, f"{case} lists no expected errors"
    root = case if case.is_dir() else case.parent
    with pytest.raises(InputErrors) as info:
        load_paths([case], root=root)
    got = [(e.path, e.line, e.column, e.message) for e in info.value.errors]
    assert got == sorted(expected)


def test_all_invalid_fixtures_load_together_with_every_error() -> None:
    """One run reports the errors of all files, not only the first file's."""
    with pytest.raises(InputErrors) as info:
        load_paths(_cases(), root=INVALID)
    assert len(info.value.errors) == sum(len(_expected(c)) for c in _cases())


def test_valid_fixtures_load_into_located_rules() -> None:
    loaded = load_paths([VALID], root=VALID)
    assert [p.name for p in loaded.policies] == ["kinds", "operators"]  # sorted file order
    kinds = loaded.policies[0]
    assert [(r.full_id, r.rule.kind, r.severity) for r in kinds.rules] == [
        ("kinds/assert-one", "assert", "info"),  # the rule's own severity wins
        ("kinds/consistent-version", "consistent", "error"),  # the policy default
        ("kinds/unique-store", "unique", "error"),
        ("kinds/peer-version", "peer", "error"),
        ("kinds/promoted", "promotion", "error"),
    ]
    assert [str(r.location) for r in kinds.rules][:2] == ["kinds.yaml:7:11", "kinds.yaml:15:11"]
    assert kinds.location.line == 3
    assert kinds.path == "kinds.yaml"
    assert kinds.rules[0].policy_match == models.Selector(inventories=["prod", "staging"])
    ops = loaded.policies[1]
    assert ops.rules[0].severity == "warning"
    assert ops.labels == {"owner": "ml-platform", "tier": "1"}


def test_rule_kind_and_spec() -> None:
    rules = {r.rule.id: r.rule for r in load_paths([VALID / "kinds.yaml"]).rules}
    assert isinstance(rules["unique-store"].spec, models.UniqueSpec)
    assert rules["unique-store"].spec.by == "inventory"
    peer = rules["peer-version"].spec
    assert isinstance(peer, models.PeerSpec)
    assert peer.unresolved == "warning"
    assert peer.target.key == "server.url"
    assert list(peer.assert_) == ["mlflow.version"]
    promo = rules["promoted"].spec
    assert isinstance(promo, models.PromotionSpec)
    assert promo.from_.inventories == ["staging"]
    conds = rules["assert-one"].spec
    assert isinstance(conds, dict)
    assert conds["env.MLFLOW_TRACKING_URI"].required is True


def test_conditions_keep_their_operators_and_shorthand() -> None:
    rule = load_paths([VALID / "operators.yaml"]).rules[0].rule
    conds = rule.assert_
    assert conds is not None
    # a bare scalar means {equals: X}, with its YAML type kept
    assert conds["server.port"].operators == ("equals",)
    assert conds["server.port"].equals == 5000
    assert conds["server.serve_artifacts"].equals is False
    # `equals: null` is an operator, not "nothing given"
    assert conds["vars.legacy"].operators == ("equals",)
    assert conds["vars.legacy"].equals is None
    assert conds["mlflow.version"].operators == ("type", "version", "pinned")
    # an alias shares the anchored condition
    assert conds["env.MLFLOW_REGISTRY_URI"] == conds["env.MLFLOW_TRACKING_URI"]
    every = {op for c in conds.values() for op in _all_ops(c)}
    assert every == set(models.OPERATORS)  # the fixture really uses each operator


def _all_ops(cond: models.Condition) -> set[str]:
    ops = set(cond.operators)
    for c in (cond.all_of or []) + (cond.any_of or []) + ([cond.not_] if cond.not_ else []):
        ops |= _all_ops(c)
    return ops


def test_waivers_and_tests() -> None:
    loaded = load_paths([VALID], root=VALID)
    legacy, quoted = loaded.waivers
    assert legacy.rules == ("kinds/assert-one", "operators/*")
    assert legacy.expires == dt.date(2027, 1, 31)
    assert legacy.ticket == "MLP-1234"
    assert legacy.match == models.Selector(hosts=["gpu-legacy-*"])
    assert quoted.expires == dt.date(2026, 12, 1)
    assert quoted.ticket is None
    (test,) = loaded.tests
    assert test.policies == (VALID / "kinds.yaml",)  # relative to the test file
    assert test.inventory == VALID / "tests" / "inventory.ini"
    assert test.exhaustive is True
    assert test.expect[0] == {"rule": "kinds/assert-one", "host": "client-1"}
    assert test.expect[1]["waived"] is False


def test_models_are_frozen() -> None:
    rule = load_paths([VALID / "kinds.yaml"]).rules[0]
    with pytest.raises(pydantic.ValidationError):
        rule.rule.id = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.full_id = "x/y"  # type: ignore[misc]


def test_a_file_given_twice_is_loaded_once() -> None:
    loaded = load_paths([VALID / "kinds.yaml", VALID, VALID / "kinds.yaml"], root=VALID)
    assert [p.name for p in loaded.policies] == ["kinds", "operators"]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputErrors) as info:
        load_paths([tmp_path / "nope.yaml", tmp_path / "empty"], root=tmp_path)
    assert [(e.path, e.message) for e in info.value.errors] == [
        (f"{tmp_path.as_posix()}/empty", "no policy files (*.yml, *.yaml) in this directory"),
        (f"{tmp_path.as_posix()}/nope.yaml", "no such file or directory"),
    ]


def test_directories_are_walked_recursively_skipping_hidden(tmp_path: Path) -> None:
    text = (VALID / "kinds.yaml").read_text()
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub" / "deeper" / "b.yml").write_text(text.replace("name: kinds", "name: b"))
    (tmp_path / "a.yaml").write_text(text.replace("name: kinds", "name: a"))
    (tmp_path / ".git" / "x.yaml").write_text("not: a policy")
    (tmp_path / "notes.txt").write_text("ignored: true")
    loaded = load_paths([tmp_path], root=tmp_path)
    assert [(p.name, p.path) for p in loaded.policies] == [("a", "a.yaml"),
                                                           ("b", "sub/deeper/b.yml")]


def test_skip_foreign_ignores_inventories_found_in_directories(tmp_path: Path) -> None:
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("all:\n  hosts: {h1: {}}\n")
    (tmp_path / "p.yaml").write_text((VALID / "kinds.yaml").read_text())
    with pytest.raises(InputErrors):
        load_paths([tmp_path], root=tmp_path)
    assert len(load_paths([tmp_path], root=tmp_path, skip_foreign=True).policies) == 1
    # a file named explicitly is always held to the format
    with pytest.raises(InputErrors):
        load_paths([tmp_path / "inv" / "hosts.yml"], skip_foreign=True)


def test_load_waivers_accepts_only_waivers(tmp_path: Path) -> None:
    assert [w.name for w in load_waivers([VALID / "waivers.yaml"])] == ["legacy-gpu",
                                                                       "quoted-date"]
    with pytest.raises(InputErrors) as info:
        load_waivers([VALID / "kinds.yaml"], root=VALID)
    (err,) = info.value.errors
    assert (err.path, err.line) == ("kinds.yaml", 3)
    assert "expected only Waiver documents here, found Policy 'kinds'" in err.message


def test_waiver_names_are_unique_too(tmp_path: Path) -> None:
    text = (VALID / "waivers.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text)
    with pytest.raises(InputErrors) as info:
        load_paths([tmp_path], root=tmp_path)
    assert [(e.path, e.line, e.message) for e in info.value.errors] == [
        ("b.yaml", 3, "metadata.name: waiver name 'legacy-gpu' is already used at a.yaml:3:18"),
        ("b.yaml", 14,
         "metadata.name: waiver name 'quoted-date' is already used at a.yaml:14:18"),
    ]


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: mlflow-policy/v1\nkind: [Policy\n")
    (tmp_path / "good.yaml").write_text("apiVersion: mlflow-policy/v1\nkind: Nope\n")
    with pytest.raises(InputErrors) as info:
        load_paths([tmp_path], root=tmp_path)
    assert [(e.path, e.line) for e in info.value.errors] == [("bad.yaml", 3), ("good.yaml", 2)]


def test_an_impossible_date_is_a_located_error(tmp_path: Path) -> None:
    """yamlio locates PyYAML's bare ValueError for a date like 2027-13-01; the loader has
    no unlocated fallback for it any more."""
    bad = tmp_path / "waiver.yaml"
    bad.write_text("apiVersion: mlflow-policy/v1\nkind: Waiver\nmetadata:\n  name: w\n"
                   "spec:\n  expires: 2027-13-01\n")
    with pytest.raises(InputErrors) as info:
        load_waivers([bad], tmp_path)
    [error] = info.value.errors
    assert (error.path, error.line, error.column) == ("waiver.yaml", 6, 12)
    assert "invalid date '2027-13-01'" in error.message
