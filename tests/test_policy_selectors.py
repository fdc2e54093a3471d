"""Selectors: AND across keys, OR within a list; `where` follows the absence rule."""

from __future__ import annotations

from typing import Any

import pytest

from mlflow_policy.core import HostFacts
from mlflow_policy.policy.models import Selector
from mlflow_policy.policy.selectors import selects


def _host(name: str, inventory: str = "prod", groups: Any = (), role: str | None = None,
          **vars_: Any) -> HostFacts:
    facts: dict[str, Any] = {"host": name, "inventory": inventory, "groups": list(groups),
                             "vars": vars_}
    if role is not None:
        facts["role"] = role
    return HostFacts(host=name, inventory=inventory, facts=facts,
                     unavailable={"db": "observed only"})


TRACKING = _host("tracking-1", groups=["mlflow_servers", "tracking"], role="tracking_server",
                 env="prod", workers=4)
CLIENT = _host("gpu-01", inventory="staging", groups=["mlflow_clients"], role="client",
               env="staging")
BARE = _host("Tracking-2")  # no groups, no role, no vars


@pytest.mark.parametrize(("sel", "expected"), [
    (None, ["tracking-1", "gpu-01", "Tracking-2"]),
    ({}, ["tracking-1", "gpu-01", "Tracking-2"]),
    ({"hosts": ["tracking-*"]}, ["tracking-1"]),  # case-sensitive glob
    ({"hosts": ["gpu-0[1-3]", "tracking-?"]}, ["tracking-1", "gpu-01"]),
    ({"hosts": ["gpu-01"]}, ["gpu-01"]),
    ({"groups": ["mlflow_clients", "tracking"]}, ["tracking-1", "gpu-01"]),  # OR in a list
    ({"groups": ["mlflow_*"]}, []),  # group names are exact, not globs
    ({"roles": ["tracking_server"]}, ["tracking-1"]),
    ({"inventories": ["staging"]}, ["gpu-01"]),
    ({"inventories": ["prod"], "groups": ["mlflow_clients"]}, []),  # AND across keys
    ({"inventories": ["prod"], "hosts": ["*"]}, ["tracking-1", "Tracking-2"]),
    ({"where": {"vars.env": "prod"}}, ["tracking-1", "Tracking-2"]),  # absent: vacuous
    ({"where": {"vars.env": {"required": True, "equals": "prod"}}}, ["tracking-1"]),
    ({"where": {"vars.workers": {"min": 2}, "vars.env": "prod"}}, ["tracking-1", "Tracking-2"]),
    ({"where": {"vars.env": {"not": {"equals": "staging"}}}}, ["tracking-1"]),
    ({"where": {"db.revision": {"forbidden": True}}}, []),  # unavailable: not selected
    ({"roles": ["client"], "where": {"vars.env": "staging"}}, ["gpu-01"]),
])
def test_selects(sel: Any, expected: list[str]) -> None:
    selector = None if sel is None else Selector.model_validate(sel)
    got = [h.host for h in (TRACKING, CLIENT, BARE) if selects(selector, h)]
    assert got == expected


def test_groups_fact_may_be_absent_or_odd() -> None:
    odd = HostFacts(host="x", inventory="i", facts={"groups": "solo", "role": ["a", "b"]})
    assert selects(Selector(groups=["solo"]), odd)
    assert selects(Selector(roles=["b"]), odd)
    assert not selects(Selector(groups=["x"]), HostFacts(host="x", inventory="i", facts={}))
