"""``mlflow-policy explain RULE``: what a rule checks, why, how to fix it, where it lives."""

from __future__ import annotations

import argparse
import difflib
from typing import TYPE_CHECKING, Any

from mlflow_policy.commands import common
from mlflow_policy.commands.check import add_policy_options, policy_set
from mlflow_policy.errors import UsageError
from mlflow_policy.findings import BUILTIN_RULES

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rule", metavar="RULE",
                        help="full rule id (policy/rule), or a rule id unique among policies")
    add_policy_options(parser)
    common.add_output_options(parser)


def _yaml(value: Any, indent: str) -> list[str]:
    import yaml

    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=96)
    return [indent + line for line in text.rstrip("\n").splitlines()]


def find_rule(rules: list[LoadedRule], wanted: str) -> LoadedRule:
    exact = [r for r in rules if r.full_id == wanted]
    if exact:
        return exact[0]
    bare = [r for r in rules if r.full_id.split("/", 1)[1] == wanted]
    if len(bare) == 1:
        return bare[0]
    if len(bare) > 1:
        raise UsageError(f"rule id '{wanted}' is ambiguous: "
                         f"{', '.join(sorted(r.full_id for r in bare))}")
    close = difflib.get_close_matches(wanted, [r.full_id for r in rules], n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"no loaded rule '{wanted}'{hint}; `mlflow-policy rules` lists them")


def describe(rule: LoadedRule) -> str:
    r = rule.rule
    dumped = r.model_dump(mode="json", by_alias=True, exclude_unset=True)
    lines = [rule.full_id]
    if r.title:
        lines.append(f"  {r.title}")
    lines += ["", f"severity: {rule.severity}", f"kind:     {r.kind}",
              f"defined:  {rule.location.path}:{rule.location.line}"]
    if r.description:
        lines += ["", r.description.rstrip()]
    lines += ["", f"{r.kind}:"]
    lines += _yaml(dumped.get(r.kind), "  ")
    if rule.policy_match is not None:
        lines += ["policy match:"]
        lines += _yaml(rule.policy_match.model_dump(mode="json", exclude_unset=True), "  ")
    for key in ("match", "exclude"):
        if key in dumped:
            lines += [f"{key}:"]
            lines += _yaml(dumped[key], "  ")
    if r.remediation is not None:
        lines += ["", "remediation:"]
        if r.remediation.hint:
            lines.append(f"  hint: {r.remediation.hint}")
        if r.remediation.set:
            lines += ["  set:"]
            lines += _yaml(dumped["remediation"]["set"], "    ")
    else:
        lines += ["", "remediation: none given (needs a human)"]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.rule in BUILTIN_RULES:
        common.write_output(f"{args.rule} (built-in)\n\n{BUILTIN_RULES[args.rule]}\n",
                            args.output)
        return 0
    config, root = common.run_config(args)
    loaded = policy_set(args, config, root)
    rule = find_rule([r for p in loaded.policies for r in p.rules], args.rule)
    common.write_output(describe(rule), args.output)
    return 0
