#!/usr/bin/env python3
"""Generate the baseline-pack table of the rule reference from the pack itself.

    python tools/pack_table.py [--check]

The table between ``<!-- pack-table:begin -->`` and ``<!-- pack-table:end -->`` in
docs/reference/rules/index.md comes from the rules' own metadata (id, kind, severity,
title, the MLflow versions they apply to, remediation, references), the same data
``mlflow-policy explain`` shows; ``--check`` (run by tests/test_pack_table.py) fails when
page and pack drift. ``python tools/gen_docs.py --write`` writes the whole page, this
table included.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from mlflow_policy.commands.explain import applies_to_versions, is_live_only  # noqa: E402
from mlflow_policy.policy.loader import LoadedRule, load_paths  # noqa: E402

PACK = REPO_ROOT / "policies" / "mlflow-baseline.yaml"
README = REPO_ROOT / "docs" / "reference" / "rules" / "index.md"
BEGIN, END = "<!-- pack-table:begin -->", "<!-- pack-table:end -->"


def _fix(rule: LoadedRule) -> str:
    rem = rule.rule.remediation
    if rem is not None and rem.set:
        return "`set` " + ", ".join(f"`{p}`" for p in rem.set)
    return "hint"


def _refs(rule: LoadedRule) -> str:
    return " ".join(f"[{i}]({url})" for i, url in enumerate(rule.rule.references or [], 1))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(rules: Sequence[LoadedRule]) -> str:
    live = sum(1 for r in rules if is_live_only(r))
    lines = [
        f"{len(rules)} rules; {live} need a live run (static runs count them as skipped).",
        "",
        "| rule | kind | severity | MLflow | title | fix | references |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rules:
        name = f"`{r.rule.id}`" + (" (live)" if is_live_only(r) else "")
        lines.append("| " + " | ".join(_cell(c) for c in (
            name, r.rule.kind, r.severity, applies_to_versions(r), r.rule.title or "",
            _fix(r), _refs(r))) + " |")
    return "\n".join(lines)


def render(readme: str, rules: Sequence[LoadedRule]) -> str:
    head, sep, rest = readme.partition(BEGIN)
    _old, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{README.name} has no {BEGIN} ... {END} section")
    return f"{head}{BEGIN}\n{table(rules)}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="fail when the table is stale")
    args = ap.parse_args(argv)
    rules = load_paths([PACK], REPO_ROOT).rules
    text = README.read_text(encoding="utf-8")
    new = render(text, rules)
    if args.check:
        if new != text:
            print("the rule reference's pack table is stale: run python tools/gen_docs.py --write")
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
