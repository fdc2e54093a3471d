"""``mlflow-policy remediate``: render the fix for the failing findings.

The same inputs as ``check`` (static, ``--live``, ``--facts FILE|DIR``) go through the same
pipeline; the failing findings become the desired state per host (remediate/plan.py),
rendered under ``--out`` (remediate/render.py): a playbook, env files, host_vars and
group_vars patches and REPORT.md. ``--write`` / ``--diff`` edit the inventory's own files
(remediate/inventory_edit.py); ``--apply`` runs the playbook (remediate/apply.py).

Exit codes: 0 nothing to fix, 1 fixes rendered or something needs a human, 2 bad input,
3 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.commands import check as check_cmd
from mlflow_policy.commands import common
from mlflow_policy.errors import UsageError

if TYPE_CHECKING:
    from mlflow_policy.config import RunConfig
    from mlflow_policy.findings import Result
    from mlflow_policy.remediate.plan import Plan
    from mlflow_policy.remediate.render import Rendered

DEFAULT_OUT = Path("remediation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    check_cmd.add_policy_options(parser)
    common.add_inventory_options(parser)
    common.add_live_options(parser)
    parser.add_argument("--facts", type=Path, metavar="FILE|DIR",
                        help="remediate from a facts document (`facts --format json -o FILE`) "
                             "or a gather-playbook results directory, as check --facts does")
    parser.add_argument("--rule", action="append", default=[], metavar="GLOB",
                        help="only remediate rules whose full id matches, repeatable")
    parser.add_argument("--skip-rule", action="append", default=[], metavar="GLOB",
                        help="skip rules whose full id matches, repeatable")
    parser.add_argument("--waivers", action="append", type=Path, default=[], metavar="PATH",
                        help="waiver file or directory, repeatable (waived findings are not "
                             "remediated)")
    out = parser.add_argument_group("output")
    out.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                     help="where to render playbook.yml, env files, host_vars/group_vars "
                          "patches and REPORT.md (default: remediation/); written "
                          "atomically, files of an earlier run that no longer apply removed")
    out.add_argument("--write", action="store_true",
                     help="also edit the inventory's own files in place (comments and key "
                          "order kept), at the narrowest place that holds the value")
    out.add_argument("--diff", action="store_true",
                     help="show the unified diff --write would make, without writing")
    out.add_argument("--apply", action="store_true",
                     help="run playbook.yml through ansible-runner: check mode with diff "
                          "first, then for real with --yes or after a confirmation")
    out.add_argument("--yes", action="store_true", help="--apply without asking")
    out.add_argument("--format", choices=("text", "json"), default="text",
                     help="summary on stdout (default text)")
    parser.epilog = (
        "exit codes: 0 nothing to fix; 1 fixes rendered (findings exist) or something\n"
        "needs a human (see REPORT.md); 2 bad input; 3 internal error.\n"
        "Templates come from the package's templates/; a templates/ directory in the\n"
        "current directory overrides them file by file.")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _inventory_paths(args: argparse.Namespace, config: RunConfig, root: Path) -> dict[str, Path]:
    """Inventory name -> absolute source path (the name the resolver gives it)."""
    from mlflow_policy.inventory.build import inventory_name

    if getattr(args, "facts", None) is not None and not args.inventory:
        return {}
    paths = common.inventory_paths_or_none(args, config, root)
    out: dict[str, Path] = {}
    for p in paths:
        full = p if p.is_absolute() else root / p
        out[inventory_name(full)] = full.resolve()
    return out


def _validate(args: argparse.Namespace) -> None:
    if args.yes and not args.apply:
        raise UsageError("--yes applies to --apply only")
    if args.write and args.diff:
        raise UsageError("--diff shows what --write would do: use one of them")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: not a directory")


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.remediate.plan import plan as make_plan
    from mlflow_policy.remediate.render import render

    _validate(args)
    config, root = common.run_config(args)
    inventories = _inventory_paths(args, config, root)
    out = args.out if args.out.is_absolute() else root / args.out
    for path in inventories.values():
        if path.is_dir() and out.resolve().is_relative_to(path):
            raise UsageError(f"--out {args.out}: inside the inventory directory {path}; "
                             "Ansible would read the rendered files as inventory sources")
    result = check_cmd.evaluate_tree(args, config, root)
    if result.internal_errors:
        check_cmd._write_tracebacks(result)
        return 3
    the_plan = make_plan(result, config.mapping_for, inventories)
    mappings = {name: config.mapping_for(name) for name in result.inventories}
    rendered = render(the_plan, out, root, mappings, source=_source_text(args, result))
    edits = _inventory_edits(args, config, root, the_plan) if (args.write or args.diff) \
        else None
    # --apply plugs in here: it runs rendered.playbook (remediate/apply.py)
    applied: dict[str, Any] | None = None
    if args.apply:
        applied, code = _apply(args, config, root, rendered, the_plan)
    _summary(args, the_plan, rendered, edits, applied)
    if args.apply:
        # the apply's own code; what needs a human is not done, so not a success either
        return 1 if code == 0 and rendered.needs_human else code
    if the_plan.hosts or rendered.needs_human:
        return 1
    return 0


def _source_text(args: argparse.Namespace, result: Result) -> str:
    if getattr(args, "facts", None) is not None:
        return f"--facts {args.facts}"
    names = ", ".join(result.inventories)
    return f"{'live' if result.mode == 'live' else 'static'}: {names}" if names else ""


def _inventory_edits(args: argparse.Namespace, config: RunConfig, root: Path,
                     the_plan: Plan) -> list[str]:
    """``--diff`` / ``--write``: edit the inventory's own files (remediate/inventory_edit)
    so that they hold the plan's changes; returns the lines to show (the diff, the notes,
    what was written), secrets masked."""
    from mlflow_policy.facts.declared import resolve_all
    from mlflow_policy.remediate.inventory_edit import plan_edits
    from mlflow_policy.secrets import mask_text

    if getattr(args, "facts", None) is not None and not args.inventory:
        raise UsageError("--write and --diff edit inventories: name them with -i")
    if not the_plan.changes:
        return ["inventory: nothing to change"]
    source = common.inventory_source(args, config, root)
    resolved = resolve_all(source.paths, config, root=root, vault_secrets=source.vault_secrets)
    edits = plan_edits(the_plan.changes, resolved, root=root)
    lines: list[str] = []
    if args.diff:
        lines.extend(mask_text(edits.diff()).splitlines())
    lines.extend(f"note: {mask_text(n)}" for n in edits.notes)
    if args.write:
        edits.write()
        lines.extend(f"written: {edits.display(p)}" for p in sorted(edits.files))
    return lines


def _apply(args: argparse.Namespace, config: RunConfig, root: Path, rendered: Rendered,
           the_plan: Plan) -> tuple[dict[str, Any], int]:
    """``--apply``: the rendered playbook through ansible-runner (check mode with diff,
    confirmation, the real run), then the remediated hosts checked again live. Its text
    goes to stdout, or to stderr when stdout carries the JSON summary."""
    from mlflow_policy.remediate import apply as ap

    paths = list(_inventory_paths(args, config, root).values())
    if not paths:
        raise UsageError("--apply runs the playbook over the inventories: pass -i")
    show = sys.stderr if args.format == "json" else sys.stdout
    hosts = ap.playbook_hosts(rendered.playbook) if rendered.playbook is not None else []
    covered = ap.covers([(f.host or "", f.rule, f.fact) for f in the_plan.remediated
                         if f.host in hosts])
    secrets = [s for h in the_plan.all_hosts or tuple(p.facts for p in the_plan.hosts)
               for s in ap.host_secrets(h)]

    def recheck(targets: Sequence[str]) -> Result:
        again = argparse.Namespace(**vars(args))
        again.facts, again.live, again.limit = None, True, ",".join(targets)
        return check_cmd.evaluate_tree(again, config, root)

    outcome = ap.apply(
        rendered.playbook or root / "playbook.yml", paths, hosts,
        options=ap.ApplyOptions(forks=args.forks, timeout=args.timeout),
        yes=args.yes, recheck=recheck, covered=covered, secrets=secrets, show=show)
    for line in ap.render_outcome(outcome):
        print(line, file=show)
    return outcome.to_json(), outcome.exit_code


def _summary(args: argparse.Namespace, the_plan: Plan, rendered: Rendered,
             edits: list[str] | None, applied: dict[str, Any] | None) -> None:
    from mlflow_policy.secrets import mask_text

    counts: dict[str, int] = {}
    for n in rendered.needs_human:
        counts[n.kind] = counts.get(n.kind, 0) + 1
    if args.format == "json":
        doc: dict[str, Any] = {
            "hosts": [{"inventory": h.facts.inventory, "host": h.facts.host,
                       "facts": {f: {"value": d.shown, "rules": list(d.rules),
                                     "hostvar": ".".join(d.hostvar) if d.hostvar else None}
                                 for f, d in sorted(h.desired.items())}}
                      for h in the_plan.hosts],
            "changes": len(the_plan.changes),
            "needs_human": [{"kind": n.kind, "inventory": n.inventory, "host": n.host,
                             "rule": n.rule, "fact": n.fact, "message": n.message,
                             "hint": n.hint, "command": n.command}
                            for n in rendered.needs_human],
            "out": str(rendered.out),
            "files": [str(f) for f in rendered.files],
        }
        if edits is not None:
            doc["edits"] = edits
        if applied is not None:
            doc["apply"] = applied
        sys.stdout.write(mask_text(json.dumps(doc, indent=2, sort_keys=True)) + "\n")
        return
    lines = [f"remediate: {len(the_plan.hosts)} host(s) to change, "
             f"{len(the_plan.changes)} inventory value(s) to write, "
             f"{len(rendered.needs_human)} item(s) need a human"
             + (f" ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})"
                if counts else "")]
    for h in the_plan.hosts:
        facts = ", ".join(sorted(h.desired))
        lines.append(f"  {h.facts.inventory}/{h.facts.host}: {facts}")
    lines.append(f"written under {rendered.out}: {len(rendered.files)} files; see "
                 f"{rendered.out / 'REPORT.md'}"
                 + (f" and {rendered.playbook}" if rendered.playbook else ""))
    if edits:
        lines.extend(edits)
    from mlflow_policy.display import escape_controls

    sys.stdout.write("".join(escape_controls(mask_text(line)) + "\n" for line in lines))
