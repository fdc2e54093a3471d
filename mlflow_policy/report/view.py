"""Findings as reporters may print them: every value and every text passed through
:func:`~mlflow_policy.secrets.mask`, so no reporter can forget a secret.

Messages quote values ("env.X is 'hunter2', expected ..."), so masking the ``actual`` field
alone is not enough: each secret leaf of the values a finding mentions (its own value and
the :class:`Related` values of other hosts) is also cut out of the message and expected text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlflow_policy.core import VaultedValue
from mlflow_policy.findings import Finding, Result
from mlflow_policy.secrets import MASK, mask, mask_text


@dataclass(frozen=True)
class FindingView:
    finding: Finding
    actual: Any  # JSON-safe, masked
    expected: str | None
    message: str

    @property
    def rule(self) -> str:
        return self.finding.rule


def _secret_leaves(raw: Any, masked: Any) -> Iterator[str]:
    """Plain-text forms of every leaf of ``raw`` that masking replaced."""
    if isinstance(raw, VaultedValue) or raw is None:
        return
    if isinstance(raw, Mapping) and isinstance(masked, Mapping):
        for k, v in raw.items():
            yield from _secret_leaves(v, masked.get(str(k)))
    elif isinstance(raw, (list, tuple)) and isinstance(masked, list):
        for r, m in zip(raw, masked, strict=False):
            yield from _secret_leaves(r, m)
    elif masked == MASK or (isinstance(masked, Mapping) and masked.get("__vault__")):
        text = str(raw)
        if text and text != MASK:
            yield text
            escaped = repr(text)[1:-1]
            if escaped != text:
                yield escaped


def _scrub(text: str, secrets: list[str]) -> str:
    # Longest first, so a secret that contains another is cut whole.
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return mask_text(text)


def view(f: Finding, result: Result) -> FindingView:
    path = f.fact or ""
    facts = result.facts_for(f.inventory, f.host)
    actual = mask(f.actual, path, facts)
    secrets = list(_secret_leaves(f.actual, actual))
    for rel in f.related:
        other = result.facts_for(rel.inventory, rel.host)
        secrets.extend(_secret_leaves(rel.value, mask(rel.value, rel.fact or path, other)))
    if isinstance(actual, str) and actual in secrets:
        # The same value is a secret where another host holds it (a peer's vaulted value).
        actual = MASK
    return FindingView(
        finding=f,
        actual=actual,
        expected=_scrub(f.expected, secrets) if f.expected is not None else None,
        message=_scrub(f.message, secrets),
    )


def views(result: Result) -> list[FindingView]:
    return [view(f, result) for f in result.findings]
