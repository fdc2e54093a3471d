"""Running ``PolicyTest`` documents (policy-language.md section 9) and measuring rule coverage.

A test names policy files, an inventory and the findings it must give. The inventory is:

- an inventory file or directory, resolved exactly as ``check -i`` does;
- a directory holding no inventory sources of its own, only inventory directories (like a
  repository's ``inventories/``): each subdirectory is one inventory, all evaluated together
  (what promotion rules need: ``staging`` and ``prod``);
- a facts snapshot, ``mlflow-policy facts --format json`` output (``.json``): its hosts'
  fact documents are used as they are; with ``"mode": "live"`` each host's ``observed``
  document and ``unavailable`` reasons, so live-only rules (``db.*``, ``http.*``) can be
  tested without a fleet.

Coverage, per rule of the policies the tests load: the *failing* side is exercised when some
test expects a finding of the rule and gets it; the *passing* side when some test evaluates
the rule on a host that gives no finding of it and is not skipped (a rule that only ever
meets unavailable facts has not been seen to pass).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.config import RunConfig
from mlflow_policy.core import Location
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.findings import Finding

if TYPE_CHECKING:
    from mlflow_policy.facts.declared import Fleet
    from mlflow_policy.policy.loader import LoadedPolicy, LoadedTest, LoadedWaiver
    from mlflow_policy.sources import FactSource

# Files Ansible never reads as inventory sources (INVENTORY_IGNORE_EXTS), so a directory that
# holds only these besides subdirectories is a root of several inventories.
_NOT_SOURCES = (".md", ".txt", ".rst", ".orig", ".cfg", ".retry", ".pyc", ".pyo", ".swp",
                ".bak", "~", ".rpm")
_KEYS = ("rule", "host", "inventory", "fact", "severity", "waived")


@dataclass(frozen=True)
class TestOutcome:
    name: str
    path: str
    location: Location
    missing: tuple[Mapping[str, Any], ...]  # expectations no finding met
    unexpected: tuple[Finding, ...]  # unwaived findings no expectation covers (exhaustive)
    findings: int  # every finding of the run, waived or not
    hosts: int
    skipped: int

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected


@dataclass(frozen=True)
class RuleCoverage:
    rule: str
    location: Location
    failing: bool  # some test expected and got a finding of it
    passing: bool  # some test evaluated it on a host without a finding (not skipped)

    @property
    def covered(self) -> bool:
        return self.failing and self.passing


@dataclass(frozen=True)
class Report:
    tests: tuple[TestOutcome, ...]
    coverage: tuple[RuleCoverage, ...]

    @property
    def failed(self) -> int:
        return sum(1 for t in self.tests if not t.passed)

    @property
    def percent(self) -> float:
        if not self.coverage:
            return 100.0
        return 100.0 * sum(1 for c in self.coverage if c.covered) / len(self.coverage)


@dataclass
class _Seen:
    failing: set[str] = field(default_factory=set)
    passing: set[str] = field(default_factory=set)


def inventory_paths(path: Path) -> tuple[Path, ...]:
    """The inventories a test's ``inventory`` stands for (see the module docstring)."""
    if not path.is_dir():
        return (path,)
    entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]
    subdirs = [p for p in entries if p.is_dir()]
    own_sources = [p for p in entries if p.is_file() and not p.name.endswith(_NOT_SOURCES)]
    if subdirs and not own_sources and not any(
            p.name in ("group_vars", "host_vars") for p in subdirs):
        return tuple(subdirs)
    return (path,)


def load_snapshot(path: Path, root: Path) -> Fleet | None:
    """The fleet of a facts document, or None when ``path`` is not one (an inventory)."""
    from mlflow_policy.facts.snapshot import is_snapshot
    from mlflow_policy.sources import SnapshotFile

    return SnapshotFile(path, root).load() if is_snapshot(path) else None


def _matches(want: Mapping[str, Any], f: Finding) -> bool:
    if not fnmatchcase(f.rule, str(want["rule"])):
        return False
    return all(want[k] == getattr(f, k) for k in _KEYS[1:] if k in want)


class Runner:
    """Runs tests, caching each policy file set (tests usually share one pack)."""

    def __init__(self, config: RunConfig, root: Path, today: date) -> None:
        self.config = config
        self.root = root
        self.today = today
        self._policies: dict[tuple[Path, ...], tuple[tuple[LoadedPolicy, ...],
                                                     tuple[LoadedWaiver, ...]]] = {}
        self.rules: dict[str, Location] = {}
        self._seen = _Seen()

    def _load(self, paths: tuple[Path, ...]) -> tuple[tuple[LoadedPolicy, ...],
                                                      tuple[LoadedWaiver, ...]]:
        from mlflow_policy.policy.loader import load_paths

        if paths not in self._policies:
            loaded = load_paths(paths, self.root)
            if self.config.rules:  # the config's `rules:` apply to tests as to check
                from mlflow_policy.policy.ruleconfig import apply_rule_settings

                loaded = apply_rule_settings(loaded, self.config.rules).policies
            self._policies[paths] = (loaded.policies, loaded.waivers)
            for rule in loaded.rules:
                self.rules.setdefault(rule.full_id, rule.location)
        return self._policies[paths]

    def _source(self, test: LoadedTest) -> FactSource:
        from mlflow_policy.sources import StaticInventories

        snapshot = load_snapshot(test.inventory, self.root)
        if snapshot is not None:
            return snapshot
        return StaticInventories(inventory_paths(test.inventory), self.config, self.root)

    def run(self, test: LoadedTest) -> TestOutcome:
        from mlflow_policy.findings import PASS
        from mlflow_policy.pipeline import run_check

        policies, waivers = self._load(test.policies)
        result = run_check(self._source(test), policies, waivers, today=self.today,
                           drift=self.config.drift)
        missing = []
        for want in test.expect:
            got = [f for f in result.findings if _matches(want, f)]
            if not got:
                missing.append(want)
            self._seen.failing.update(f.rule for f in got)
        unexpected: tuple[Finding, ...] = ()
        if test.exhaustive:
            unexpected = tuple(f for f in result.findings if not f.waived and not any(
                _matches(w, f) for w in test.expect))
        # the passing side: some host the rule evaluated passed (not failed, not skipped)
        self._seen.passing.update(o.rule for o in result.outcomes() if o.status == PASS)
        return TestOutcome(
            name=test.name, path=test.path, location=test.location, missing=tuple(missing),
            unexpected=unexpected, findings=len(result.findings), hosts=len(result.hosts),
            skipped=result.skipped)

    def coverage(self) -> tuple[RuleCoverage, ...]:
        return tuple(
            RuleCoverage(rule=rid, location=loc, failing=rid in self._seen.failing,
                         passing=rid in self._seen.passing)
            for rid, loc in sorted(self.rules.items()))


def run_tests(tests: Sequence[LoadedTest], config: RunConfig, root: Path, *,
              today: date) -> Report:
    """Run every test; input errors of all of them (a policy or inventory that does not
    load) are raised together."""
    runner = Runner(config, root, today)
    outcomes: list[TestOutcome] = []
    errors: list[InputError] = []
    for test in tests:
        try:
            outcomes.append(runner.run(test))
        except InputErrors as exc:
            errors.extend(exc.errors)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors)
    return Report(tests=tuple(outcomes), coverage=runner.coverage())
