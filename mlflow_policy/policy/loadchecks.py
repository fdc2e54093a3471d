"""Load-time checks beyond what pydantic runs on a document.

- Rule-kind and duplicate-id problems of a policy that has other errors too: pydantic runs
  a model's after-validators only when its fields are valid, so without this a user would
  fix one round of errors only to meet the next.
- Jinja2 syntax of templated values (imports jinja2 only when a value holds a template).
"""

from __future__ import annotations

from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.errors import InputError
from mlflow_policy.policy.fields import duplicate_id_problems, rule_kind_problem
from mlflow_policy.policy.locate import custom_error, human_path
from mlflow_policy.policy.models import RULE_KINDS

# Free text that is shown, never rendered: braces in it are not templates.
_PROSE_KEYS = frozenset({"title", "description", "hint", "justification", "owner", "ticket",
                         "labels", "name"})


def template_errors(doc: Any, display: str) -> list[InputError]:
    """Jinja2 syntax errors in a document's values, located (imports jinja2 only when a
    value holds a template)."""
    from mlflow_policy.policy.templating import is_template

    found: list[tuple[str, Location | None, tuple[Any, ...]]] = []
    stack: list[tuple[Any, Location | None, tuple[Any, ...]]] = [
        (doc, getattr(doc, "loc", None), ())]
    while stack:
        node, where, parts = stack.pop()
        if isinstance(node, dict):
            locs = getattr(node, "locs", {})
            stack.extend((v, locs.get(k, where), (*parts, k)) for k, v in node.items()
                         if k not in _PROSE_KEYS)
        elif isinstance(node, list):
            locs = getattr(node, "locs", [])
            stack.extend((v, locs[i] if i < len(locs) else where, (*parts, i))
                         for i, v in enumerate(node))
        elif is_template(node):
            found.append((node, where, parts))
    if not found:
        return []
    from mlflow_policy.policy.templating import syntax_error

    out = []
    for source, where, parts in found:
        problem = syntax_error(source)
        if problem is not None:
            line, col = (where.line, where.column) if where is not None else (None, None)
            out.append(InputError(f"{human_path(parts)}: {problem}", display, line, col))
    return out


def structural_errors(doc: Any, display: str) -> list[InputError]:
    """Rule-kind and duplicate-id problems of a policy whose other errors kept pydantic
    from running the validators that find them (they run only on otherwise valid models)."""
    spec = doc.get("spec")
    rules = spec.get("rules") if isinstance(spec, dict) else None
    if not isinstance(rules, list):
        return []
    out = []
    for i, raw in enumerate(rules):
        if isinstance(raw, dict):
            problem = rule_kind_problem(raw.get("id"), [k for k in RULE_KINDS if k in raw])
            if problem is not None:
                out.append(custom_error(problem, doc, ("spec", "rules", i), display))
    ids = [raw.get("id") if isinstance(raw, dict) else None for raw in rules]
    out += [custom_error(p, doc, ("spec",), display) for p in duplicate_id_problems(ids)]
    return out
