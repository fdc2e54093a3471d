"""``mlflow-policy rules``: every loaded rule, one line each."""

from __future__ import annotations

import argparse

from mlflow_policy.commands import common
from mlflow_policy.commands.check import add_policy_options, policy_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_policy_options(parser)
    common.add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    config, root = common.run_config(args)
    loaded = policy_set(args, config, root)
    rows = sorted(
        (r.full_id, r.severity, r.rule.kind, r.rule.title or "")
        for p in loaded.policies for r in p.rules
    )
    width = max((len(r[0]) for r in rows), default=0)
    lines = [f"{rid:<{width}}  {sev:<7}  {kind:<10}  {title}".rstrip()
             for rid, sev, kind, title in rows]
    lines.append(f"{len(rows)} rule{'s' if len(rows) != 1 else ''}")
    # what the config's `rules:` table did: disabled rules are not listed above
    lines.extend(f"configured: {c.describe()}" for c in loaded.configured)
    common.write_output("\n".join(lines) + "\n", args.output)
    return 0
