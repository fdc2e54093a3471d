"""The config's ``rules:`` table: turning rules off or re-grading them, permanently.

A waiver is an accountable, expiring exception for some hosts; this is a decision about a
rule itself, like ansible-lint's ``skip_list`` / ``warn_list`` or Checkov's
``--skip-check``, and it is listed in reports as configured (never silently applied):

```yaml
rules:
  mlflow-baseline/client-async-logging: {enabled: false, reason: "we log synchronously"}
  mlflow-baseline/otel-endpoint: {severity: info}
  mlflow-baseline/db-*: {enabled: false, reason: no live runs here}   # fnmatch globs too
  mlflow-policy/unresolved-template: {severity: info}                  # built-ins as well
```

Two steps, so that ``config.py`` only parses and the run applies:

- :func:`parse_rule_settings` validates the raw mapping (keys are full rule ids or globs,
  values ``enabled`` / ``severity`` / ``reason``; unknown keys are errors with file:line).
- :func:`apply_rule_settings` applies them to the loaded policies: disabled rules are
  dropped, re-graded ones get the new severity (a ``peer`` rule's ``unresolved`` severity
  too, unless it is ``ignore``: every finding of the rule has the configured severity). An
  id whose policy is loaded but which names no rule of it is an error with "did you mean"
  (a typo would otherwise leave the rule on); an id of a policy this run does not load is
  left alone (one config serves runs with different policy sets). Built-in ids
  (``mlflow-policy/...``) are not rules of a policy: :func:`apply_to_findings` drops or
  re-grades their findings after evaluation (``internal-error`` can't be configured).

Settings apply in the order written; for a rule matched by several entries, each given
field of a later entry overrides an earlier one's.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mlflow_policy.core import Location
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.findings import BUILTIN_RULES, INTERNAL_ERROR, SEVERITIES
from mlflow_policy.policy.fields import Severity

if TYPE_CHECKING:
    from mlflow_policy.core import Diagnostic
    from mlflow_policy.findings import Finding
    from mlflow_policy.policy.loader import LoadedPolicy, LoadedRule, PolicySet

BUILTIN_PREFIX = "mlflow-policy/"
_FIELDS = ("enabled", "severity", "reason")
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class RuleSetting:
    """One entry of ``rules:``: a full rule id or glob and what it decides."""

    pattern: str
    enabled: bool | None = None  # None: not said
    severity: Severity | None = None
    reason: str | None = None
    location: Location | None = None  # where the entry is written, for messages

    def matches(self, rule_id: str) -> bool:
        return fnmatchcase(rule_id, self.pattern)

    @property
    def is_glob(self) -> bool:
        return bool(_GLOB.intersection(self.pattern))


@dataclass(frozen=True)
class ConfiguredRule:
    """What the config did to one rule, for reports ("configured": listed, not hidden)."""

    rule: str  # full id
    enabled: bool
    severity: Severity | None  # the severity now, None when disabled
    was: Severity | None  # the rule's own severity (None for a built-in)
    reason: str | None
    location: Location | None

    def describe(self) -> str:
        """``mlflow-baseline/otel-endpoint: severity warning -> info (config
        .mlflow-policy.yaml:7): reason``"""
        if not self.enabled:
            what = "disabled"
        elif self.was is not None and self.was != self.severity:
            what = f"severity {self.was} -> {self.severity}"
        else:
            what = f"severity {self.severity}"
        where = f" (config {self.location.path}:{self.location.line})" if self.location else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.rule}: {what}{where}{why}"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "enabled": self.enabled, "severity": self.severity,
                "was": self.was, "reason": self.reason,
                "location": self.location.to_json() if self.location else None}


@dataclass(frozen=True)
class Applied:
    policies: PolicySet  # the policies with the settings applied
    configured: tuple[ConfiguredRule, ...]  # every policy rule a setting touched, by id
    builtins: tuple[RuleSetting, ...]  # the entries for mlflow-policy/... ids


# ----------------------------------------------------------------------------- parsing


def parse_rule_settings(raw: Any, display: str,
                        where: Location | None = None) -> tuple[RuleSetting, ...]:
    """The ``rules:`` mapping of a config file, validated. Raises :class:`InputErrors` with
    every problem, located through the mapping's ``locs`` when it has them (YAML)."""
    errors: list[InputError] = []

    def error(message: str, loc: Location | None) -> None:
        at = loc or where
        errors.append(InputError(message, display, at.line if at else None,
                                 at.column if at else None))

    if not isinstance(raw, Mapping):
        error("'rules' must map rule ids (or globs) to {enabled, severity, reason}", where)
        raise InputErrors(errors)
    locs: Mapping[Any, Location] = getattr(raw, "locs", {})
    out: list[RuleSetting] = []
    for key, value in raw.items():
        loc = locs.get(key, where)
        if not isinstance(key, str) or "/" not in key:
            error(f"rules: {key!r} is not a full rule id (policy/rule) or a glob over them",
                  loc)
            continue
        if key == INTERNAL_ERROR:
            error(f"rules: {key} cannot be configured (it is a bug in mlflow-policy)", loc)
            continue
        if not isinstance(value, Mapping) or not value:
            error(f"rules.{key}: expected a mapping with enabled, severity or reason", loc)
            continue
        vlocs: Mapping[Any, Location] = getattr(value, "locs", {})
        ok = True
        for field_name in value:
            if field_name not in _FIELDS:
                close = difflib.get_close_matches(str(field_name), _FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else \
                    f" (expected one of: {', '.join(_FIELDS)})"
                error(f"rules.{key}: unknown key {field_name!r}{hint}",
                      vlocs.get(field_name, loc))
                ok = False
        enabled = value.get("enabled")
        if "enabled" in value and not isinstance(enabled, bool):
            error(f"rules.{key}.enabled: expected true or false, got {enabled!r}",
                  vlocs.get("enabled", loc))
            ok = False
        severity = value.get("severity")
        if "severity" in value and severity not in SEVERITIES:
            error(f"rules.{key}.severity: expected one of {', '.join(SEVERITIES)}, "
                  f"got {severity!r}", vlocs.get("severity", loc))
            ok = False
        reason = value.get("reason")
        if "reason" in value and not (isinstance(reason, str) and reason.strip()):
            error(f"rules.{key}.reason: expected a non-empty string", vlocs.get("reason", loc))
            ok = False
        if ok:
            out.append(RuleSetting(
                pattern=key, enabled=cast("bool | None", enabled),
                severity=cast("Severity | None", severity),
                reason=reason.strip() if isinstance(reason, str) else None, location=loc))
    if errors:
        raise InputErrors(errors)
    return tuple(out)


# ----------------------------------------------------------------------------- applying


def _merged(settings: Iterable[RuleSetting]) -> tuple[bool, Severity | None, str | None,
                                                     Location | None]:
    enabled, severity, reason, location = True, None, None, None
    for s in settings:
        enabled = s.enabled if s.enabled is not None else enabled
        severity = s.severity or severity
        reason = s.reason or reason
        location = s.location
    return enabled, severity, reason, location


def _regraded(rule: LoadedRule, severity: Severity) -> LoadedRule:
    spec = rule.rule
    if spec.peer is not None and spec.peer.unresolved != "ignore":
        spec = spec.model_copy(update={
            "peer": spec.peer.model_copy(update={"unresolved": severity})})
    return replace(rule, severity=severity, rule=spec)


def _unknown_id_errors(settings: Sequence[RuleSetting],
                       policies: Sequence[LoadedPolicy]) -> list[InputError]:
    """Entries that name a loaded policy but match none of its rules (a typo)."""
    by_name = {p.name: p for p in policies}
    errors = []
    for s in settings:
        policy_name = s.pattern.partition("/")[0]
        policy = by_name.get(policy_name)
        if policy is None or any(s.matches(r.full_id) for r in policy.rules):
            continue
        ids = [r.full_id for r in policy.rules]
        close = difflib.get_close_matches(s.pattern, ids, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close and not s.is_glob else ""
        at = s.location
        errors.append(InputError(
            f"rules: {s.pattern!r} matches no rule of policy {policy_name!r}{hint}",
            at.path if at else None, at.line if at else None, at.column if at else None))
    return errors


def apply_rule_settings(policies: PolicySet, settings: Sequence[RuleSetting]) -> Applied:
    """``policies`` with ``settings`` applied (see the module docstring)."""
    from mlflow_policy.policy.loader import PolicySet

    builtins = tuple(s for s in settings if s.pattern.startswith(BUILTIN_PREFIX))
    own = [s for s in settings if not s.pattern.startswith(BUILTIN_PREFIX)]
    errors = _unknown_id_errors(own, policies.policies)
    if errors:
        raise InputErrors(errors)
    configured: list[ConfiguredRule] = []
    out: list[LoadedPolicy] = []
    for policy in policies.policies:
        rules: list[LoadedRule] = []
        for rule in policy.rules:
            hits = [s for s in own if s.matches(rule.full_id)]
            if not hits:
                rules.append(rule)
                continue
            enabled, severity, reason, location = _merged(hits)
            now = severity or rule.severity
            configured.append(ConfiguredRule(
                rule=rule.full_id, enabled=enabled, severity=now if enabled else None,
                was=rule.severity, reason=reason, location=location))
            if enabled:
                rules.append(_regraded(rule, now) if now != rule.severity else rule)
        out.append(replace(policy, rules=tuple(rules)))
    listed = tuple(sorted(configured, key=lambda c: c.rule)) + builtin_configured(builtins)
    return Applied(
        policies=PolicySet(policies=tuple(out), waivers=policies.waivers, tests=policies.tests,
                           configured=listed, builtin_settings=builtins),
        configured=listed[:len(configured)], builtins=builtins)


def builtin_configured(settings: Sequence[RuleSetting]) -> tuple[ConfiguredRule, ...]:
    """The built-in ids the settings touch, for reports (globs expanded over BUILTIN_RULES)."""
    out = []
    for rule_id in BUILTIN_RULES:
        hits = [s for s in settings if s.matches(rule_id)]
        if hits and rule_id != INTERNAL_ERROR:
            enabled, severity, reason, location = _merged(hits)
            out.append(ConfiguredRule(rule=rule_id, enabled=enabled,
                                      severity=severity if enabled else None, was=None,
                                      reason=reason, location=location))
    return tuple(out)


_Item = TypeVar("_Item", "Finding", "Diagnostic")


def apply_to_findings(items: Iterable[_Item], builtins: Sequence[RuleSetting]) -> list[_Item]:
    """Built-in findings (or the loaders' :class:`Diagnostic` s, before evaluation, so that
    waivers see the configured severity) with the settings applied: disabled ones dropped,
    re-graded ones with their new severity. Anything else passes unchanged."""
    out = []
    for item in items:
        hits = [s for s in builtins if s.matches(item.rule)] if \
            item.rule.startswith(BUILTIN_PREFIX) and item.rule != INTERNAL_ERROR else []
        if not hits:
            out.append(item)
            continue
        enabled, severity, _, _ = _merged(hits)
        if enabled:
            out.append(replace(item, severity=severity) if severity else item)
    return out
