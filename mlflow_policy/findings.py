"""What an evaluation produces: frozen, totally ordered findings and the run's Result.

The Result, not a reporter, decides the exit code (``Result.exit_code(fail_on)``), so every
output format of one run agrees on pass/fail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, total_ordering
from typing import Any

from mlflow_policy.core import HostFacts, Location

SEVERITIES = ("error", "warning", "info")
# --fail-on threshold -> the severities that fail the run.
_FAILING: Mapping[str, frozenset[str]] = {
    "error": frozenset({"error"}),
    "warning": frozenset({"error", "warning"}),
    "info": frozenset({"error", "warning", "info"}),
    "never": frozenset(),
}
FAIL_ON_CHOICES = tuple(_FAILING)

INTERNAL_ERROR = "mlflow-policy/internal-error"
WAIVER_EXPIRED = "mlflow-policy/waiver-expired"
WAIVER_UNUSED = "mlflow-policy/waiver-unused"
SCHEMA_MIGRATION = "mlflow-policy/schema-migration"
DRIFT = "mlflow-policy/drift"
UNREACHABLE = "mlflow-policy/unreachable"

# The engine's own finding ids (policy-language.md section 10) and what each means; explain
# prints these, and they filter and waive like any rule (internal-error excepted).
BUILTIN_RULES: Mapping[str, str] = {
    INTERNAL_ERROR: "a rule raised while being evaluated: a bug in mlflow-policy. The rule "
                    "was not evaluated; the run exits 3. Never filtered or waived.",
    WAIVER_EXPIRED: "a waiver's expires day has passed (valid through that day, UTC); the "
                    "findings it waived fail again.",
    WAIVER_UNUSED: "a waiver that matches no finding; remove it so exceptions don't pile up.",
    "mlflow-policy/vaulted-file": "a whole-file vault-encrypted vars file was skipped because "
                                  "no vault secret was given (--vault-password-file).",
    "mlflow-policy/unresolved-template": "a hostvar's Jinja2 could not be rendered statically "
                                         "(lookup(), undefined variables); it stays as written.",
    "mlflow-policy/unknown-mlflow-env": "an MLFLOW_* variable in a host's environment that "
                                        "the host's MLflow release does not read (a typo, or "
                                        "introduced later / removed earlier than that "
                                        "release), so the setting silently has no effect. "
                                        "The message names the closest variable it does read.",
    SCHEMA_MIGRATION: "pull-request mode (--diff-base): a tracking server's mlflow.version "
                      "changes to a release with another alembic head, so its database needs "
                      "migrating (warning, with the number of revisions), or cannot be served "
                      "at all when the new head is older (error: MLflow has no downgrades); "
                      "and a server the change adds to a backend store, or moves onto one, "
                      "whose release has an older head than the newest one that backend's "
                      "servers ran at the merge base (error: the database was migrated past "
                      "it).",
    DRIFT: "live mode: a fact's observed value differs from the value the inventory declares "
           "(the config's drift: paths). A vaulted value that cannot be compared is unknown, "
           "never drift. The declared value of db.revision is the alembic head of the declared "
           "mlflow.version, so a database left behind by an upgrade drifts too.",
    UNREACHABLE: "live mode: a host Ansible could not gather (unreachable, failed or timed "
                 "out), with Ansible's reason (secrets masked). Its observed facts are all "
                 "unavailable, so the rules on them are skipped; every other host is still "
                 "reported.",
}

# Built-ins every run may produce, which waivers and --rule/--skip-rule scope over.
# internal-error is never filtered or waived; schema-migration (pull-request mode) and
# drift and unreachable (live mode) are in scope only in runs that can produce them.
ENGINE_BUILTINS = tuple(r for r in BUILTIN_RULES
                        if r not in (INTERNAL_ERROR, SCHEMA_MIGRATION, DRIFT,
                                      UNREACHABLE))


@dataclass(frozen=True, slots=True)
class Related:
    """A value a finding's message quotes from another host (the majority value of a
    ``consistent`` partition, a ``from`` host's value...). Reporters need the host it came
    from to mask it (vaulted there?); it never appears in a report by itself."""

    inventory: str
    host: str
    value: Any
    fact: str | None = None  # its path on that host, when not the finding's own fact


@total_ordering
@dataclass(frozen=True, eq=True)
class Finding:
    rule: str  # full id: "<policy>/<rule id>" or "mlflow-policy/<built-in>"
    severity: str
    message: str
    host: str | None = None
    inventory: str | None = None
    fact: str | None = None
    actual: Any = None
    expected: str | None = None
    location: Location | None = None
    waived: bool = False
    waiver: str | None = None
    related: tuple[Related, ...] = field(default=(), repr=False)
    # The traceback of an internal error, for the CLI to write to a file; never reported.
    detail: str | None = field(default=None, repr=False, compare=False)
    # The waiver a waiver-expired / waiver-unused finding is about (waivers match on it,
    # never on the message's text).
    about_waiver: str | None = field(default=None, repr=False, compare=False)

    @property
    def sort_key(self) -> tuple[str, str, str, str, str]:
        return (self.inventory or "", self.host or "", self.rule, self.fact or "", self.message)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self.sort_key < other.sort_key

    def __hash__(self) -> int:
        return hash(self.sort_key)

    @property
    def fingerprint(self) -> str:
        """Stable across runs and across edits that only move lines: never hashes a location.

        A finding that names neither a host nor a fact (an unused waiver, a vaulted file)
        would collide with its siblings on (rule, inventory, host, fact) alone, so its
        message, which the engine writes without line numbers, joins the hash.
        """
        parts: list[str | None] = [self.rule, self.inventory, self.host, self.fact]
        if self.host is None and self.fact is None:
            parts.append(self.message)
        digest = hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()
        return digest[:32]

    def with_waiver(self, name: str) -> Finding:
        return replace(self, waived=True, waiver=name)


@dataclass(frozen=True)
class Summary:
    hosts: int
    rules: int
    findings: Mapping[str, int]  # severity -> unwaived findings
    waived: int
    skipped: int
    unmatched_rules: tuple[str, ...]
    internal_errors: int


@dataclass(frozen=True)
class DiffSummary:
    """Pull-request mode: the findings of a Result are only those new since ``merge_base``."""

    base: str  # the ref the user gave to --diff-base
    merge_base: str  # its merge base with HEAD (sha)
    new: int
    fixed: int


PASS, FAIL, SKIP, ERROR = "pass", "fail", "skip", "error"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule decided for one host it selected: ``pass``, ``fail`` (it has a
    finding, waived or not), ``skip`` (a fact it needs is unavailable in this mode; see
    ``reason``) or ``error`` (the rule raised)."""

    rule: str
    inventory: str
    host: str
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Result:
    """Everything a reporter needs and nothing it must compute: reporters never evaluate."""

    findings: tuple[Finding, ...]  # sorted
    hosts: tuple[HostFacts, ...]  # every host of the run, sorted by (inventory, host)
    rules: tuple[Any, ...]  # the LoadedRules that were evaluated (after --rule/--skip-rule)
    unmatched_rules: tuple[str, ...]
    inventories: tuple[str, ...] = ()
    mode: str = "static"
    # (rule full id, inventory, host) for every host a rule evaluated: junit's test cases.
    evaluated: tuple[tuple[str, str, str], ...] = ()
    diff: DiffSummary | None = None
    # The run's waivers (LoadedWaiver), so reports can quote a waiver's justification.
    waivers: tuple[Any, ...] = ()
    # (rule full id, inventory, host) -> why the rule skipped that host; the rules that
    # raised -> the internal-error message. With ``evaluated`` and the findings they give
    # every pair's Outcome (built on demand: a large fleet has millions of pass pairs).
    skips: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    # what the config's `rules:` table did (ConfiguredRule), listed in reports
    configured: tuple[Any, ...] = ()

    @cached_property
    def _failing(self) -> frozenset[tuple[str, str, str]]:
        return frozenset((f.rule, f.inventory or "", f.host) for f in self.findings
                         if f.host is not None)

    def outcome(self, rule: str, inventory: str, host: str) -> Outcome:
        error = self.errors.get(rule)
        if error is not None:
            return Outcome(rule, inventory, host, ERROR, error)
        key = (rule, inventory, host)
        if key in self._failing:
            return Outcome(rule, inventory, host, FAIL)
        reason = self.skips.get(key)
        if reason is not None:
            return Outcome(rule, inventory, host, SKIP, reason)
        return Outcome(rule, inventory, host, PASS)

    def outcomes(self) -> list[Outcome]:
        """One Outcome per (rule, inventory, host) a rule evaluated, in evaluation order."""
        return [self.outcome(*key) for key in self.evaluated]

    @property
    def skipped(self) -> int:
        """Pairs whose outcome is ``skip``: a pair with a finding is a failure, even when
        another of the rule's facts was unavailable there."""
        failing = self._failing
        return sum(1 for key in self.skips if key not in failing and key[0] not in self.errors)

    @cached_property
    def host_index(self) -> Mapping[tuple[str, str], HostFacts]:
        return {h.key: h for h in self.hosts}

    def facts_for(self, inventory: str | None, host: str | None) -> HostFacts | None:
        if inventory is None or host is None:
            return None
        return self.host_index.get((inventory, host))

    @property
    def internal_errors(self) -> int:
        return sum(1 for f in self.findings if f.rule == INTERNAL_ERROR)

    @property
    def summary(self) -> Summary:
        counts = dict.fromkeys(SEVERITIES, 0)
        waived = 0
        for f in self.findings:
            if f.waived:
                waived += 1
            else:
                counts[f.severity] = counts.get(f.severity, 0) + 1
        return Summary(
            hosts=len(self.hosts), rules=len(self.rules), findings=counts, waived=waived,
            skipped=self.skipped, unmatched_rules=self.unmatched_rules,
            internal_errors=self.internal_errors,
        )

    def failed(self, fail_on: str) -> bool:
        failing = _FAILING[fail_on]
        return any(not f.waived and f.severity in failing for f in self.findings)

    def exit_code(self, fail_on: str = "error") -> int:
        """3 when a rule raised (a bug must never pass silently), else 1 when an unwaived
        finding is at or above ``fail_on``, else 0."""
        if self.internal_errors:
            return 3
        return 1 if self.failed(fail_on) else 0
