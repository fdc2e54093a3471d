"""``mlflow-policy explain RULE``: what a rule checks, why, how to fix it, where it lives,
and which MLflow variables and versions it involves (from the built-in catalogue)."""

from __future__ import annotations

import argparse
import difflib
import textwrap
from typing import TYPE_CHECKING, Any

from mlflow_policy.commands import common
from mlflow_policy.commands.check import add_policy_options, policy_set
from mlflow_policy.errors import UsageError
from mlflow_policy.findings import BUILTIN_RULES

if TYPE_CHECKING:
    from mlflow_policy.policy.loader import LoadedRule
    from mlflow_policy.policy.models import Condition, Selector

WIDTH = 92


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


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent=indent,
                         subsequent_indent=indent) or [indent]


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


# --------------------------------------------------------------------------- what it checks
def _conditions(conds: dict[str, Condition], indent: str) -> list[str]:
    from mlflow_policy.policy.conditions import describe as describe_condition

    return [f"{indent}{path}: {describe_condition(c)}" for path, c in conds.items()]


def _selector(sel: Selector | None) -> list[str]:
    if sel is None:
        return []
    parts = [f"{key} {', '.join(getattr(sel, key))}"
             for key in ("hosts", "groups", "roles", "inventories") if getattr(sel, key)]
    lines = [", ".join(parts)] if parts else []
    if sel.where:
        lines += ["where " + line.strip() for line in _conditions(sel.where, "")]
    return lines


def _checks(rule: LoadedRule) -> list[str]:
    r = rule.rule
    if r.kind == "assert":
        return ["each host on its own:", *_conditions(r.assert_ or {}, "  ")]
    if r.kind == "consistent":
        c = r.consistent
        assert c is not None
        part = f"hosts with the same {c.by}" if c.by else "all the hosts it selects"
        return [f"{c.fact} has one value among {part} (absent counts as a value); each host "
                "that differs from the most common value is a finding"]
    if r.kind == "unique":
        u = r.unique
        assert u is not None
        part = f" with the same {u.by}" if u.by else ""
        return [f"at most {u.max} host{'s' if u.max != 1 else ''}{part} share a value of "
                f"{u.fact}"]
    if r.kind == "peer":
        p = r.peer
        assert p is not None
        target = "; ".join(_selector(p.target.match)) or "any host"
        return [f"each host against the host its {p.via} points at (the {p.target.key_text} of "
                f"a host with {target}):", *_conditions(p.assert_, "  "),
                f"a pointer that matches no such host: {p.unresolved}"]
    if r.kind == "aggregate":
        a = r.aggregate
        assert a is not None
        part = f"hosts with the same {a.by}" if a.by else "all the hosts it selects"
        return [f"aggregate.sum is the sum of {a.sum} over the {part} (aggregate.count: how "
                "many); each of them:", *_conditions(a.assert_, "  "),
                "a partition where one host's number is unknown is skipped"]
    pr = r.promotion
    assert pr is not None
    leaders = "; ".join(_selector(pr.from_)) or "any host"
    return [f"each host's {pr.fact} is a value some host with {leaders} already has"]


# --------------------------------------------------------------------------- what it involves
def _walk_conditions(conds: dict[str, Condition] | None) -> list[tuple[str, Condition]]:
    out: list[tuple[str, Condition]] = []
    stack = list((conds or {}).items())
    while stack:
        path, cond = stack.pop(0)
        out.append((path, cond))
        for op in ("all_of", "any_of"):
            if op in cond.operators:
                stack.extend((path, c) for c in cond.arg(op))
        if "not" in cond.operators:
            stack.append((path, cond.arg("not")))
    return out


def fact_paths(rule: LoadedRule) -> list[str]:
    """Every fact path the rule reads or sets, in the order written, once each."""
    r = rule.rule
    paths: list[str] = []
    conds: list[tuple[str, Condition]] = []
    for sel in (rule.policy_match, r.match, r.exclude):
        if sel is not None:
            conds += _walk_conditions(sel.where)
    if r.assert_:
        conds += _walk_conditions(r.assert_)
    if r.consistent:
        paths += [r.consistent.fact, *([r.consistent.by] if r.consistent.by else [])]
    if r.unique:
        paths += [r.unique.fact, *([r.unique.by] if r.unique.by else [])]
    if r.peer:
        paths += [r.peer.via, *r.peer.target.keys]
        conds += [(p.removeprefix("peer."), c) for p, c in _walk_conditions(r.peer.assert_)]
    if r.promotion:
        paths.append(r.promotion.fact)
    if r.aggregate:
        from mlflow_policy.facts.table import known
        from mlflow_policy.policy.factpaths import template_paths

        total = r.aggregate.sum
        paths += [p for p in template_paths(total) if known(p)] if "{" in total else [total]
        paths += [r.aggregate.by] if r.aggregate.by else []
        conds += _walk_conditions(r.aggregate.assert_)
    paths += [p for p, _ in conds]
    if r.remediation is not None and r.remediation.set:
        paths += list(r.remediation.set)
    return list(dict.fromkeys(paths))


def _versions(rule: LoadedRule) -> list[str]:
    r = rule.rule
    out: list[str] = []
    for where, conds in (("match", r.match.where if r.match else None),
                         ("exclude", r.exclude.where if r.exclude else None),
                         ("assert", r.assert_),
                         ("peer", r.peer.assert_ if r.peer else None)):
        for path, cond in _walk_conditions(conds):
            if "version" in cond.operators:
                out.append(f"{path} {cond.arg('version')} ({where})")
            if "pinned" in cond.operators:
                out.append(f"{path} pinned to one exact release ({where})")
    return out


def _variable(name: str) -> str:
    from mlflow_policy import catalogue

    var = catalogue.env_vars().get(name)
    if var is None and any(c in name for c in "*?["):  # an assert glob (env.MLFLOW_*_TIMEOUT)
        from fnmatch import fnmatchcase

        hits = sorted(n for n in catalogue.env_vars()
                      if not n.startswith("_") and fnmatchcase(n, name))
        shown = ", ".join(hits[:10]) + (f" and {len(hits) - 10} more" if len(hits) > 10 else "")
        return f"{name}: a glob; MLflow variables it matches: {shown or 'none'}"
    if var is None:
        return (f"{name}: not an MLflow variable (not in the catalogue; read by other "
                "software on the host, e.g. boto3 or an OpenTelemetry SDK)")
    since = "2.0.0 or earlier" if var.first == "2.0.0" else var.first
    parts = [f"{var.type}", f"default {var.default}", f"read by MLflow {since} and later"]
    if var.last is not None:
        parts.append(f"last read by {var.last}")
    if var.secret:
        parts.append("secret: never printed")
    elif var.may_embed_credentials:
        parts.append("may embed credentials: passwords masked")
    return f"{name}: " + ", ".join(parts)


def applies_to_versions(rule: LoadedRule) -> str:
    """The MLflow releases the rule applies to, from its selectors' ``mlflow.version``
    conditions: ``>=3.5.0``, or ``all`` (the rule reference's pack table and ``explain``)."""
    specs: list[str] = []
    for sel in (rule.policy_match, rule.rule.match):
        if sel is not None and sel.where:
            for path, cond in _walk_conditions(sel.where):
                if path == "mlflow.version" and "version" in cond.operators:
                    specs.append(str(cond.arg("version")))
    if rule.rule.exclude is not None and rule.rule.exclude.where:
        for path, cond in _walk_conditions(rule.rule.exclude.where):
            if path == "mlflow.version" and "version" in cond.operators:
                specs.append(f"not {cond.arg('version')}")
    if _advisory_scopes(rule):
        specs.append("affected releases (advisories)")
    return ", ".join(specs) if specs else "all"


def _advisory_scopes(rule: LoadedRule) -> list[str]:
    r = rule.rule
    conds = _walk_conditions(r.assert_) + _walk_conditions(r.peer.assert_ if r.peer else None)
    return [str(c.arg("not_vulnerable")) for _, c in conds if "not_vulnerable" in c.operators]


def is_live_only(rule: LoadedRule) -> bool:
    """Every fact the rule asserts on is observed only (a static run skips it)."""
    from mlflow_policy.facts.table import OBSERVED_ONLY

    paths = list(rule.rule.assert_ or {})
    return bool(paths) and all(
        any(p == o or p.startswith(o + ".") for o in OBSERVED_ONLY) for p in paths)


def _advisories(rule: LoadedRule) -> list[str]:
    from mlflow_policy import catalogue

    lines: list[str] = []
    for scope in _advisory_scopes(rule):
        known = [a for a in catalogue.advisories() if scope in a.scope]
        lines.append(f"  {len(known)} published advisories that hurt a {scope} (the "
                     "catalogue's OSV table, tools/advisories/):")
        lines += [f"    {a.label}: {a.url or 'no reference'}" for a in known]
    return lines


def involves(rule: LoadedRule) -> list[str]:
    from mlflow_policy.facts.table import OBSERVED_ONLY

    paths = fact_paths(rule)
    lines = [f"  facts:     {', '.join(paths)}"]
    env = [p.split(".", 1)[1] for p in paths if p.startswith("env.")]
    if env:
        lines.append("  variables:")
        lines += [f"    {_variable(name)}" for name in env]
    versions = _versions(rule)
    if versions:
        lines.append("  versions:")
        lines += [f"    {v}" for v in versions]
    live = sorted({p for p in paths for o in OBSERVED_ONLY if p == o or p.startswith(o + ".")})
    if live:
        lines += _wrap(f"live only: {', '.join(live)}: observed on the host by a live run; "
                       "static runs count the rule as skipped, never as a violation", "  ")
    return lines


def describe(rule: LoadedRule) -> str:
    r = rule.rule
    dumped = r.model_dump(mode="json", by_alias=True, exclude_unset=True)
    lines = [rule.full_id]
    if r.title:
        lines.append(f"  {r.title}")
    lines += ["", f"severity: {rule.severity}", f"kind:     {r.kind}",
              f"defined:  {rule.location.path}:{rule.location.line}"]
    if r.description:
        lines += ["", *_wrap(r.description)]
    applies = _selector(rule.policy_match) + _selector(r.match)
    lines += ["", "applies to: " + ("; ".join(applies) if applies else "every host")]
    if r.exclude is not None:
        lines.append("except:     " + "; ".join(_selector(r.exclude)))
    lines.append(f"versions:   MLflow {applies_to_versions(rule)}")
    lines += ["", "checks:", *("  " + line for line in _checks(rule))]
    lines += ["", "involves:", *involves(rule)]
    lines += ["", "definition:", f"  {r.kind}:", *_yaml(dumped.get(r.kind), "    ")]
    if r.remediation is not None:
        lines += ["", "remediation:"]
        if r.remediation.hint:
            lines += _wrap(f"hint: {r.remediation.hint}", "  ")
        if r.remediation.set:
            lines += ["  set:"]
            lines += _yaml(dumped["remediation"]["set"], "    ")
        else:
            lines.append("  (no `set`: `remediate` lists it as needing a human)")
    else:
        lines += ["", "remediation: none given (needs a human)"]
    advisories = _advisories(rule)
    if advisories:
        lines += ["", "advisories:", *advisories]
    if r.references:
        lines += ["", "references:", *(f"  {ref}" for ref in r.references)]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.rule in BUILTIN_RULES:
        common.write_output(f"{args.rule} (built-in)\n\n{BUILTIN_RULES[args.rule]}\n",
                            args.output)
        return 0
    config, root = common.run_config(args)
    loaded = policy_set(args, config, root)
    # what the config's `rules:` table did to it, said first (a disabled rule is gone)
    said = [c for c in loaded.configured if c.rule == args.rule]
    note = "".join(f"configured: {c.describe()}\n" for c in said)
    if said and not said[0].enabled:
        common.write_output(note, args.output)
        return 0
    rule = find_rule([r for p in loaded.policies for r in p.rules], args.rule)
    common.write_output(note + ("\n" if note else "") + describe(rule), args.output)
    return 0
