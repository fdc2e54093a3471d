"""Rule kinds: one module each, listed explicitly (no registration by import side effect).

``RULE_EVALUATORS`` maps the key a policy writes (``assert``, ``consistent``...) to the function
that evaluates a rule of that kind; docs and the schema's kind list come from it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlflow_policy.rules import aggregate, assert_, consistent, peer, promotion, unique
from mlflow_policy.rules.base import RuleContext, RuleKind, RuleOutcome

RULE_EVALUATORS: Mapping[str, RuleKind] = {
    "assert": assert_.evaluate,
    "consistent": consistent.evaluate,
    "unique": unique.evaluate,
    "peer": peer.evaluate,
    "promotion": promotion.evaluate,
    "aggregate": aggregate.evaluate,
}

__all__ = ["RULE_EVALUATORS", "RuleContext", "RuleKind", "RuleOutcome"]
