"""``--format github``: GitHub Actions workflow commands, one annotation per unwaived
finding (``::error file=…,line=…,col=…,title=…::message``; warning and notice for the
other severities), then the text report's summary line.

Values are escaped exactly as ``@actions/core`` does (``escapeData``/``escapeProperty``),
so a message can neither end its command early nor smuggle in a second one on a new line.

When ``$GITHUB_STEP_SUMMARY`` is set, the Markdown report is appended to that file: the one
documented side effect of a reporter, done in a single append so concurrent steps'
summaries don't interleave.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mlflow_policy.errors import InputError
from mlflow_policy.findings import Result
from mlflow_policy.report import markdown
from mlflow_policy.report.options import ReportOptions
from mlflow_policy.report.text import summary_line
from mlflow_policy.report.view import FindingView, views

COMMANDS: Mapping[str, str] = {"error": "error", "warning": "warning", "info": "notice"}
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: Mapping[str, str], message: str) -> str:
    props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items() if v)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotation(v: FindingView) -> str:
    f = v.finding
    props: dict[str, str] = {}
    if f.location is not None:
        props.update(file=f.location.path, line=str(max(1, f.location.line)),
                     col=str(max(1, f.location.column)))
    where = f" on {f.inventory or ''}/{f.host}" if f.host is not None else ""
    props["title"] = f"{f.rule}{where}"
    return command(COMMANDS.get(f.severity, "warning"), props, v.message)


def append_step_summary(text: str) -> None:
    path = os.environ.get(SUMMARY_ENV)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(f"cannot append the step summary: {exc.strerror}", path) from None


def render(result: Result, options: ReportOptions) -> str:
    lines = [annotation(v) for v in views(result) if not v.finding.waived]
    lines.append(summary_line(result, ReportOptions(
        fail_on=options.fail_on, quiet=options.quiet, verbose=options.verbose)))
    append_step_summary(markdown.render(result, options) + "\n")
    return "\n".join(lines) + "\n"
