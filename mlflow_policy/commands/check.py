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

if TYPE_CHECKING:
    from mlflow_policy.findings import Finding
    from mlflow_policy.policy.loader import LoadedWaiver, PolicySet
    from mlflow_policy.sources import FactSource


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--policy", action="append", type=Path, metavar="PATH",
                        help="policy file or directory, repeatable (default: policies/)")
    common.add_config_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlflow_policy.report import REPORTERS

    add_policy_options(parser)
    common.add_inventory_options(parser)
    common.add_live_options(parser)
    parser.add_argument("--facts", type=Path, metavar="FILE|DIR",
                        help="evaluate a facts document (`facts --format json -o FILE`) "
                             "instead of inventories: the same findings as the run that "
                             "wrote it; or a gather-playbook results directory, with the "
                             "declared facts of -i when given (without -i, no drift)")
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
                           help="text report: also list rules that selected no host; "
                                "on stderr, note what the run did unusually (a second "
                                "process that failed; the report is complete all the same)")
    from mlflow_policy.report.text import SUMMARY_HELP

    parser.epilog = SUMMARY_HELP  # what the summary line's words mean, laid out as written
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def policy_set(args: argparse.Namespace, config: RunConfig, root: Path, *,
               check_fact_paths: bool = True) -> PolicySet:
    from mlflow_policy.policy.loader import load_paths

    paths = tuple(args.policy) if args.policy else config.policies
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"policy path not found: {', '.join(map(str, missing))}")
    loaded = load_paths(paths, root, check_fact_paths=check_fact_paths)
    if not config.rules:
        return loaded
    from mlflow_policy.policy.ruleconfig import apply_rule_settings

    return apply_rule_settings(loaded, config.rules).policies  # the config's `rules:`


def waivers(args: argparse.Namespace, config: RunConfig, root: Path,
            loaded: PolicySet, *, check_fact_paths: bool = True) -> tuple[LoadedWaiver, ...]:
    from mlflow_policy.policy.loader import load_waivers

    paths = tuple(args.waivers) if args.waivers else config.waivers
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"waiver path not found: {', '.join(map(str, missing))}")
    extra = load_waivers(paths, root, check_fact_paths=check_fact_paths) if paths else ()
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


def source(args: argparse.Namespace, config: RunConfig, root: Path) -> FactSource:
    """Where the run's facts come from: a facts document (``--facts``), else the
    inventories."""
    from mlflow_policy.sources import SnapshotFile

    facts_file = getattr(args, "facts", None)
    live = common.live_requested(args)
    if facts_file is not None:
        if live:
            raise UsageError("--facts evaluates facts gathered before: drop --live")
        if facts_file.is_dir():
            from mlflow_policy.sources.live import ResultsDirectory

            declared = common.inventory_source(args, config, root) if args.inventory else None
            return ResultsDirectory(facts_file, root, declared)
        if args.inventory:
            raise UsageError("--facts evaluates a facts document on its own: drop -i")
        if not facts_file.is_file():
            raise UsageError(f"--facts: not a file or directory: {facts_file}")
        return SnapshotFile(facts_file, root)
    if live:
        return common.live_source(args, config, root)
    return common.inventory_source(args, config, root)


def evaluate_tree(args: argparse.Namespace, config: RunConfig, root: Path, *,
                  tolerant: bool = False) -> Result:
    """Load and evaluate the inputs as seen from ``root``. ``tolerant`` (the merge base)
    drops input paths that did not exist yet instead of failing."""
    from mlflow_policy.facts.declared import Fleet

    if tolerant:
        args = _existing_only(args, config, root)
    # The merge base is history, not under review: a fact path it misspelt (and this branch
    # may be fixing) must not stop the comparison.
    loaded = policy_set(args, config, root, check_fact_paths=not tolerant)
    if not tolerant:
        _globs_match_rules(args, loaded)
    active_waivers = waivers(args, config, root, loaded, check_fact_paths=not tolerant)
    fleet: FactSource
    if tolerant and not args.inventory:
        fleet = Fleet(inventories=(), hosts=(), diagnostics=())
    else:
        fleet = source(args, config, root).load()
        facts = getattr(args, "facts", None)
        if facts is not None and facts.is_dir() and not args.inventory:
            from dataclasses import replace

            config = replace(config, drift=())  # nothing declared to compare with
    return _run(args, config, fleet, loaded, active_waivers)


def _run(args: argparse.Namespace, config: RunConfig, fleet: FactSource, loaded: PolicySet,
         active_waivers: tuple[LoadedWaiver, ...], *, builtins: tuple[Finding, ...] = (),
         builtin_ids: tuple[str, ...] = ()) -> Result:
    from dataclasses import replace

    from mlflow_policy.pipeline import Filters, run_check
    from mlflow_policy.policy.ruleconfig import apply_to_findings

    result = run_check(
        fleet, loaded.policies, active_waivers,
        Filters(tuple(args.rule), tuple(args.skip_rule)),
        today=datetime.now(UTC).date(), drift=config.drift, builtins=builtins,
        builtin_ids=builtin_ids)
    if not loaded.configured:
        return result
    findings = apply_to_findings(result.findings, loaded.builtin_settings)
    return replace(result, findings=tuple(sorted(findings)), configured=loaded.configured)


def _under(root: Path, p: Path) -> Path:
    return p if p.is_absolute() else root / p


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
    """The merge base's inputs that exist there, as paths under its ``root``."""
    ns = argparse.Namespace(**vars(args))
    ns.policy = [_under(root, p) for p in (args.policy or config.policies)
                 if _under(root, p).exists()] or [root / ".none"]
    ns.inventory = [_under(root, p) for p in common.inventory_paths_or_none(args, config, root)
                    if _under(root, p).exists()]
    ns.waivers = [_under(root, p) for p in (args.waivers or config.waivers)
                  if _under(root, p).exists()]
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
    """Paths into the working tree (relative to ``head`` or absolute) point into the merge
    base's copy instead; paths outside the working tree stay as they are."""
    def move(p: Path) -> Path:
        if not p.is_absolute():
            return base / p
        try:
            return base / p.resolve().relative_to(head.resolve())
        except ValueError:
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


def diff_against_base(args: argparse.Namespace, config: RunConfig, root: Path) -> Result:
    """Evaluate the merge base's inputs and the working tree's the same way; keep only what
    is new. The working tree's run also gets the schema migrations the change implies, as
    built-in findings (so filters and waivers apply to them)."""
    import tempfile
    from dataclasses import replace

    from mlflow_policy.errors import InputErrors
    from mlflow_policy.findings import SCHEMA_MIGRATION, DiffSummary
    from mlflow_policy.gitdiff import blame_change, compare, export_merge_base, schema_migrations

    if getattr(args, "facts", None) is not None:
        raise UsageError("--diff-base compares two trees of inventories: it cannot read --facts")
    if common.live_requested(args):
        raise UsageError("--diff-base compares two trees of inventories: drop --live")
    loaded = policy_set(args, config, root)
    active_waivers = waivers(args, config, root, loaded)
    head_fleet = source(args, config, root).load()
    with tempfile.TemporaryDirectory(prefix="mlflow-policy-base-") as tmp:
        base = export_merge_base(args.diff_base, _inputs(args, config, root), Path(tmp), root)
        base.root.mkdir(parents=True, exist_ok=True)
        try:
            base_args = _rebase_args(args, root, base.root)
            if base_args.config is not None and not base_args.config.exists():
                base_args.config = None  # the config file is new on this branch
            base_config, base_root = common.run_config(base_args, root=base.root)
            base_run = evaluate_tree(base_args, base_config, base_root, tolerant=True)
        except InputErrors as exc:
            for err in exc.errors:
                err.message = f"at the merge base {base.commit[:12]}: {err.message}"
            raise InputErrors(exc.errors) from None
    migrations = tuple(schema_migrations(base_run.hosts, head_fleet.hosts))
    head = _run(args, config, head_fleet, loaded, active_waivers, builtins=migrations,
                builtin_ids=(SCHEMA_MIGRATION,))
    diff = compare(base_run.findings, head.findings)
    # a disagreement the change caused is the changed host's, not its unchanged peers'
    findings = tuple(sorted(blame_change(diff.new, head.rules, base_run.hosts, head.hosts)))
    return replace(head, findings=findings, diff=DiffSummary(
        base=args.diff_base, merge_base=base.commit, new=len(findings), fixed=diff.fixed))


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.report import REPORTERS, ReportOptions

    if args.diff_base is not None and not args.diff_base.strip():
        raise UsageError("--diff-base: empty reference; name a branch, tag or commit")
    targets = outputs(args)  # usage errors before any slow loading
    config, root = common.run_config(args)
    if args.diff_base:
        result = diff_against_base(args, config, root)
    else:
        result = evaluate_tree(args, config, root)
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
