"""``peer``: a host against the host it points at (a client against its tracking server).

Targets are indexed once by their normalised address, so each host resolves its peer with
one dict lookup. A target in the host's own inventory wins over one elsewhere (two
inventories may declare the same URL); among several, the first in (inventory, host) order.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mlflow_policy.core import HostFacts
from mlflow_policy.facts.lookup import lookup
from mlflow_policy.findings import Related
from mlflow_policy.rules.base import RuleContext, RuleOutcome, finding, host_name, quote

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
PEER_PREFIX = "peer."


def normalise_url(value: Any) -> str | None:
    """Scheme and host in lower case, default port and trailing slash dropped, credentials
    dropped (an address, not a login). None for anything that is not a URL."""
    if not isinstance(value, str) or "://" not in value:
        return None
    return _normalised(value)


@functools.lru_cache(maxsize=4096)  # thousands of clients share a few URLs (text keys)
def _normalised(value: str) -> str | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    hostname = (parts.hostname or "").lower()
    if not scheme or not hostname:
        return None
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    netloc = hostname if port is None or DEFAULT_PORTS.get(scheme) == port \
        else f"{hostname}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, parts.fragment))


def _addresses(target: HostFacts, keys: Sequence[str]) -> list[str]:
    """Every normalised address the target is known under: each key fact may hold one
    address or a list of them (aliases); a target is indexed once per distinct address."""
    out: list[str] = []
    for key in keys:
        got = lookup(target, key)
        if not got.present:
            continue
        values = got.value if isinstance(got.value, list) else [got.value]
        for value in values:
            url = normalise_url(value)
            if url is not None and url not in out:
                out.append(url)
    return out


def evaluate(rule: LoadedRule, hosts: Sequence[HostFacts], ctx: RuleContext) -> RuleOutcome:
    from mlflow_policy.policy.conditions import check
    from mlflow_policy.policy.selectors import selects

    spec = rule.rule.peer
    assert spec is not None
    out = RuleOutcome()
    index: dict[str, list[HostFacts]] = {}
    for target in ctx.all_hosts:
        if not selects(spec.target.match, target, ctx.memo):
            continue
        for url in _addresses(target, spec.target.keys):
            index.setdefault(url, []).append(target)
    for host in hosts:
        via = lookup(host, spec.via)
        if via.unavailable is not None:
            out.skip(host, f"{spec.via} is unavailable ({via.unavailable})")
            continue
        if not via.present:
            continue  # no pointer, nothing to compare; `assert: {required: true}` catches it
        candidates = index.get(normalise_url(via.value) or "", [])
        peer = next((t for t in candidates if t.inventory == host.inventory), None) or \
            next(iter(candidates), None)
        if peer is None:
            if spec.unresolved != "ignore":
                out.findings.append(finding(
                    rule, host, spec.via, actual=via.value, severity=spec.unresolved,
                    expected=f"the {spec.target.key_text} of a target host",
                    message=(f"{spec.via} is {quote(via.value)}, which is the "
                             f"{spec.target.key_text} of no target host"),
                ))
            continue
        extra = {**rule.template_context, "peer": peer.facts}
        for path, cond in spec.assert_.items():
            on_peer = path.startswith(PEER_PREFIX)
            subject = peer if on_peer else host
            fact = path[len(PEER_PREFIX):] if on_peer else path
            res = check(cond, subject, fact, extra=extra, memo=ctx.memo)
            if res.skipped is not None:
                out.skip(host, f"{path}: {res.skipped}")
            elif not res.ok:
                # A value read on the peer is masked by the peer's vaulted paths too.
                related = [Related(peer.inventory, peer.host, res.actual, fact)] if on_peer \
                    else []
                out.findings.append(finding(
                    rule, host, path, actual=res.actual, expected=res.expected,
                    located_on=(peer, fact) if on_peer else None, related=related,
                    message=f"{res.message} (peer: {host_name(peer, host)})",
                ))
    return out
