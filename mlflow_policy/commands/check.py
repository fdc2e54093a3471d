"""``mlflow-policy check``: evaluate the inventories against the policies (static mode).

Loads everything first (all input errors of the run together, exit 2), then evaluates,
then writes each requested report. The Result decides the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mlflow_policy import outputs as outputs_
from mlflow_policy.commands import common
from mlflow_policy.config import RunConfig
from mlflow_policy.errors import UsageError
from mlflow_policy.findings import FAIL_ON_CHOICES, INTERNAL_ERROR, Result
from mlflow_policy.gcpause import long_lived

if TYPE_CHECKING:
    from mlflow_policy.facts.declared import Fleet
    from mlflow_policy.policy.loader import LoadedWaiver, PolicySet


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--policy", action="append", type=Path, metavar="PATH",
                        help="policy file or directory, repeatable (default: policies/)")
    common.add_config_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlflow_policy.report import REPORTERS

    add_policy_options(parser)
    common.add_inventory_options(parser)
    parser.add_argument(
        "--format", action="append", metavar="FORMAT[=FILE]",
        help=f"report format: {', '.join(REPORTERS)} (default text); repeat with FORMAT=FILE "
             "to write several reports in one run")
    common.add_output_options(parser)
    parser.add_argument("--fail-on", choices=FAIL_ON_CHOICES,
                        help="lowest unwaived severity that fails the run (default: error)")
    parser.add_argument("--rule", action="append", default=[], metavar="GLOB",
                        help="only rules whose full id matches, repeatable")
    parser.add_argument("--skip-rule", action="append", default=[], metavar="GLOB",
                        help="skip rules whose full id matches, repeatable")
    parser.add_argument("--waivers", action="append", type=Path, default=[], metavar="PATH",
                        help="waiver file or directory, repeatable")
    parser.add_argument("--no-color", action="store_true", help="never colour the text report")
    parser.add_argument("--timestamps", action="store_true",
                        help="json report: record when the run happened (off by default, so "
                             "the same input gives the same bytes)")
    parser.add_argument("--diff-base", metavar="REF",
                        help="pull-request mode: report only findings new since the merge base "
                             "of REF and HEAD (and count the fixed ones)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="text report: hide waived findings")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="text report: also list rules that selected no host")


def policy_set(args: argparse.Namespace, config: RunConfig, root: Path) -> PolicySet:
    from mlflow_policy.policy.loader import load_paths

    paths = tuple(args.policy) if args.policy else config.policies
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"policy path not found: {', '.join(map(str, missing))}")
    return load_paths(paths, root)


def waivers(args: argparse.Namespace, config: RunConfig, root: Path,
            loaded: PolicySet) -> tuple[LoadedWaiver, ...]:
    from mlflow_policy.policy.loader import load_waivers

    paths = tuple(args.waivers) if args.waivers else config.waivers
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"waiver path not found: {', '.join(map(str, missing))}")
    extra = load_waivers(paths, root) if paths else ()
    return tuple(loaded.waivers) + tuple(extra)


def outputs(args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """``--format`` values as (format, file or None for -o/stdout)."""
    from mlflow_policy.report import REPORTERS

    plain: list[str] = []
    to_files: list[tuple[str, Path | None]] = []
    for item in args.format or ["text"]:
        name, sep, file = item.partition("=")
        if name not in REPORTERS:
            raise UsageError(f"--format: unknown format '{name}' (choose from "
                             f"{', '.join(REPORTERS)})")
        if sep and not file:
            raise UsageError(f"--format {item}: missing file name after '='")
        if sep:
            to_files.append((name, Path(file)))
        else:
            plain.append(name)
    if len(plain) > 1:
        raise UsageError("--format: only one format can go to stdout/-o; use FORMAT=FILE for "
                         "the others")
    found = [(name, args.output) for name in plain] + to_files
    for name, path in found:
        outputs_.check_target(path, "-o" if path is args.output else f"--format {name}=")
    return found


def use_color(args: argparse.Namespace, stream: TextIO, to_file: bool) -> bool:
    if to_file or args.no_color or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def evaluate_tree(args: argparse.Namespace, config: RunConfig, root: Path, *,
                  tolerant: bool = False) -> tuple[Result, Fleet]:
    """Load and evaluate the inputs as seen from ``root``. ``tolerant`` (the merge base)
    drops input paths that did not exist yet instead of failing."""
    from mlflow_policy.engine import evaluate
    from mlflow_policy.facts.declared import Fleet as _Fleet

    if tolerant:
        args = _existing_only(args, config, root)
    loaded = policy_set(args, config, root)
    if not tolerant:
        _globs_match_rules(args, loaded)
    active_waivers = waivers(args, config, root, loaded)
    if tolerant and not args.inventory:
        fleet: Fleet = _Fleet(inventories=(), hosts=(), diagnostics=())
    else:
        fleet = common.fleet(args, config, root)
    # findings and the engine's caches live until the report is written
    with long_lived():
        result = evaluate(
            loaded.policies, fleet.hosts, fleet.diagnostics, active_waivers,
            today=datetime.now(UTC).date(), rule_filter=args.rule, skip_filter=args.skip_rule,
            inventories=fleet.inventories,
        )
    return result, fleet


def _globs_match_rules(args: argparse.Namespace, loaded: PolicySet) -> None:
    """A --rule/--skip-rule glob that matches no rule is a typo: it would silently check
    nothing (or skip nothing)."""
    from fnmatch import fnmatchcase

    from mlflow_policy.findings import BUILTIN_RULES

    ids = [r.full_id for r in loaded.rules] + list(BUILTIN_RULES)
    for option, globs in (("--rule", args.rule), ("--skip-rule", args.skip_rule)):
        for glob in globs or ():
            if not any(fnmatchcase(i, glob) for i in ids):
                raise UsageError(f"{option} {glob}: matches no rule (rule ids are "
                                 "<policy>/<rule>; see mlflow-policy rules)")


def _existing_only(args: argparse.Namespace, config: RunConfig, root: Path) -> argparse.Namespace:
    ns = argparse.Namespace(**vars(args))
    ns.policy = [p for p in (args.policy or config.policies) if p.exists()] or [root / ".none"]
    ns.inventory = [p for p in common.inventory_paths_or_none(args, config, root) if p.exists()]
    ns.waivers = [p for p in (args.waivers or config.waivers) if p.exists()]
    return ns


def _inputs(args: argparse.Namespace, config: RunConfig, root: Path) -> list[Path]:
    paths: list[Path] = [*(args.policy or config.policies),
                         *common.inventory_paths_or_none(args, config, root),
                         *(args.waivers or config.waivers)]
    if config.source is not None:
        paths.append(root / config.source)
    if config.playbook_dir is not None:
        paths.append(config.playbook_dir)
    return paths


def _rebase_args(args: argparse.Namespace, head: Path, base: Path) -> argparse.Namespace:
    """Absolute paths into the working tree point into the merge base's copy instead."""
    def move(p: Path) -> Path:
        if p.is_absolute():
            try:
                return base / p.resolve().relative_to(head.resolve())
            except ValueError:
                return p
        return p

    ns = argparse.Namespace(**vars(args))
    for key in ("policy", "inventory", "waivers"):
        value = getattr(args, key, None)
        if value:
            setattr(ns, key, [move(p) for p in value])
    for key in ("config", "playbook_dir"):
        value = getattr(args, key, None)
        if value is not None:
            setattr(ns, key, move(value))
    return ns


def diff_against_base(args: argparse.Namespace, config: RunConfig, root: Path, head: Result,
                      head_fleet: Fleet) -> Result:
    """Evaluate the merge base's inputs the same way; keep only what is new."""
    import tempfile
    from dataclasses import replace

    from mlflow_policy.errors import InputErrors
    from mlflow_policy.findings import DiffSummary
    from mlflow_policy.gitdiff import compare, export_merge_base, schema_migrations

    with tempfile.TemporaryDirectory(prefix="mlflow-policy-base-") as tmp:
        base = export_merge_base(args.diff_base, _inputs(args, config, root), Path(tmp), root)
        base.root.mkdir(parents=True, exist_ok=True)
        here = Path.cwd()
        os.chdir(base.root)
        try:
            base_args = _rebase_args(args, root, base.root)
            if base_args.config is not None and not base_args.config.exists():
                base_args.config = None  # the config file is new on this branch
            base_config, base_root = common.run_config(base_args)
            base_result, base_fleet = evaluate_tree(base_args, base_config, base_root,
                                                    tolerant=True)
        except InputErrors as exc:
            for err in exc.errors:
                err.message = f"at the merge base {base.commit[:12]}: {err.message}"
            raise InputErrors(exc.errors) from None
        finally:
            os.chdir(here)
    diff = compare(base_result.findings, head.findings)
    migrations = schema_migrations(base_fleet.hosts, head_fleet.hosts)
    findings = tuple(sorted((*diff.new, *migrations)))
    return replace(head, findings=findings, diff=DiffSummary(
        base=args.diff_base, merge_base=base.commit, new=len(findings), fixed=diff.fixed))


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.report import REPORTERS, ReportOptions

    if args.diff_base is not None and not args.diff_base.strip():
        raise UsageError("--diff-base: empty reference; name a branch, tag or commit")
    targets = outputs(args)  # usage errors before any slow loading
    config, root = common.run_config(args)
    result, fleet = evaluate_tree(args, config, root)
    if args.diff_base:
        result = diff_against_base(args, config, root, result, fleet)
    fail_on = args.fail_on or config.fail_on
    stamp = datetime.now(UTC).isoformat(timespec="seconds") if args.timestamps else None
    reports: list[tuple[Iterable[str], Path | None]] = []
    for name, path in targets:
        options = ReportOptions(
            fail_on=fail_on, color=use_color(args, sys.stdout, path is not None),
            quiet=args.quiet, verbose=args.verbose, timestamp=stamp,
        )
        reports.append(((REPORTERS[name](result, options),), path))
    # every file is written before any is renamed: an interrupt leaves all old or all new
    outputs_.write_all(reports)
    _write_tracebacks(result)
    return result.exit_code(fail_on)


def _write_tracebacks(result: Result) -> None:
    """A rule that raised is a bug: say so on stderr, with the traceback in a file."""
    import tempfile

    for f in result.findings:
        if f.rule != INTERNAL_ERROR or f.detail is None:
            continue
        fd, tmp = tempfile.mkstemp(prefix="mlflow-policy-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f.detail)
        print(f"mlflow-policy: internal error: {f.message.split(' (a bug')[0]} (a bug; "
              f"traceback written to {tmp})", file=sys.stderr)
