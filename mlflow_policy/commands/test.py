"""``mlflow-policy test [PATH...]``: run PolicyTest documents, report pass/fail and coverage.

Exit 1 when a test fails (or coverage is below ``--coverage-fail-under``), 0 otherwise, 2
for input that does not load (a test, its policies or its inventory).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.commands import common
from mlflow_policy.errors import UsageError

if TYPE_CHECKING:
    from mlflow_policy.findings import Finding
    from mlflow_policy.policytest import Report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or directories holding PolicyTest documents "
                             "(default: the configured policy paths, policies/)")
    common.add_config_options(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="report format (default text)")
    common.add_output_options(parser)
    parser.add_argument("--coverage-fail-under", type=float, metavar="PERCENT",
                        help="also fail when fewer than PERCENT of the rules are exercised "
                             "both failing and passing")


def _finding_json(f: Finding) -> dict[str, Any]:
    from mlflow_policy.secrets import mask_text

    return {"rule": f.rule, "severity": f.severity, "host": f.host, "inventory": f.inventory,
            "fact": f.fact, "message": mask_text(f.message),
            "location": f.location.to_json() if f.location else None}


def _finding_text(f: Finding) -> str:
    from mlflow_policy.secrets import mask_text

    where = f" at {f.location.path}:{f.location.line}" if f.location else ""
    host = f"{f.inventory}/{f.host}" if f.host else "(no host)"
    fact = f" {f.fact}" if f.fact else ""
    return f"{f.rule} on {host}{fact}: {mask_text(f.message)}{where}"


def render_json(report: Report, fail_under: float | None) -> str:
    doc = {
        "schema_version": 1,
        "tests": [
            {"name": t.name, "path": t.path, "line": t.location.line, "passed": t.passed,
             "hosts": t.hosts, "findings": t.findings, "skipped": t.skipped,
             "missing": [dict(m) for m in t.missing],
             "unexpected": [_finding_json(f) for f in t.unexpected]}
            for t in report.tests
        ],
        "coverage": {
            "percent": round(report.percent, 1),
            "rules": [{"rule": c.rule, "failing": c.failing, "passing": c.passing,
                       "location": c.location.to_json()} for c in report.coverage],
        },
        "summary": {"tests": len(report.tests), "passed": len(report.tests) - report.failed,
                    "failed": report.failed, "rules": len(report.coverage),
                    "covered": sum(1 for c in report.coverage if c.covered),
                    "coverage_fail_under": fail_under},
    }
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def render_text(report: Report) -> str:
    lines: list[str] = []
    for t in report.tests:
        state = "PASS" if t.passed else "FAIL"
        lines.append(f"{state} {t.name} ({t.path}:{t.location.line}; {t.hosts} hosts, "
                     f"{t.findings} findings, {t.skipped} skipped)")
        for want in t.missing:
            shown = ", ".join(f"{k}: {v}" for k, v in want.items())
            lines.append(f"     missing:    {{{shown}}}")
        lines.extend(f"     unexpected: {_finding_text(f)}" for f in t.unexpected)
    covered = sum(1 for c in report.coverage if c.covered)
    lines += ["", f"rule coverage: {covered}/{len(report.coverage)} rules exercised failing "
                  f"and passing ({report.percent:.1f}%)"]
    width = max((len(c.rule) for c in report.coverage), default=0)
    for c in report.coverage:
        if c.covered:
            continue
        gaps = [side for side, seen in (("failing", c.failing), ("passing", c.passing))
                if not seen]
        lines.append(f"  {c.rule:<{width}}  no test exercises it {' or '.join(gaps)}  "
                     f"({c.location.path}:{c.location.line})")
    n = len(report.tests)
    lines.append(f"{n} test{'s' if n != 1 else ''}: {n - report.failed} passed, "
                 f"{report.failed} failed")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.policy.loader import load_paths
    from mlflow_policy.policytest import run_tests

    config, root = common.run_config(args)
    paths = tuple(args.paths) if args.paths else config.policies
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"path not found: {', '.join(map(str, missing))}")
    loaded = load_paths(paths, root, skip_foreign=True)
    if not loaded.tests:
        raise UsageError(f"no PolicyTest documents found in {', '.join(map(str, paths))}")
    report = run_tests(loaded.tests, config, root, today=datetime.now(UTC).date())
    fail_under = args.coverage_fail_under
    text = render_json(report, fail_under) if args.format == "json" else render_text(report)
    if fail_under is not None and report.percent < fail_under and args.format == "text":
        text += (f"mlflow-policy: rule coverage {report.percent:.1f}% is below "
                 f"--coverage-fail-under {fail_under:g}\n")
    common.write_output(text, args.output)
    if report.failed or (fail_under is not None and report.percent < fail_under):
        return 1
    return 0
