"""Report formats. ``REPORTERS`` is the one list of formats: the CLI's ``--format`` choices
and the docs come from it. Each reporter is ``render(result, options) -> str`` and gets
its values through :mod:`mlflow_policy.report.view`, which masks secrets."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlflow_policy.findings import Result
from mlflow_policy.report import (
    codeclimate,
    github,
    html,
    json_report,
    junit,
    markdown,
    sarif,
    text,
)
from mlflow_policy.report.options import ReportOptions

Reporter = Callable[[Result, ReportOptions], str]

REPORTERS: Mapping[str, Reporter] = {
    "text": text.render,
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "github": github.render,
    "markdown": markdown.render,
    "codeclimate": codeclimate.render,
    "html": html.render,
}

__all__ = ["REPORTERS", "ReportOptions", "Reporter"]
