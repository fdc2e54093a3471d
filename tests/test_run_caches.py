"""Caches belong to a run: a run reuses what its hosts share (one verdict per distinct
value), and once it is over, nothing of it is kept by module state (a long-lived program
runs many; ids of dead objects are reused)."""

from __future__ import annotations

import gc
import weakref

from mlflow_policy.core import HostFacts


class _Reasons(dict[str, str]):
    """A dict that can be weakly referenced."""


def test_a_lookup_keeps_no_unavailable_mapping_alive() -> None:
    from mlflow_policy.facts.lookup import lookup

    reasons = _Reasons({"db": "observed only"})
    host = HostFacts(host="h", inventory="i", facts={"env": {}}, unavailable=reasons)
    assert lookup(host, "db.revision").unavailable == "observed only"
    assert lookup(host, "env.X").absent
    gone = weakref.ref(reasons)
    del reasons, host
    gc.collect()
    assert gone() is None
