"""What the live fleet's module-scoped fixtures share: the CLI run in-process, and the
fleet's clean Ansible environment entered (and left) around a module's runs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any


def cli(argv: list[str]) -> tuple[int, str, str]:
    """``mlflow-policy ARGV`` in this process: (exit code, stdout, stderr)."""
    from mlflow_policy.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def enter_fleet(fleet: Any, temp: Path, work: Path) -> Callable[[], None]:
    """The fleet's Ansible environment (none of the caller's ANSIBLE_*), temporary files
    under ``temp`` (runner's private directories included) and ``work`` as the working
    directory; the returned function restores all three."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("ANSIBLE_"):
            del os.environ[name]
    os.environ.update(fleet.ansible_env)
    old_tempdir = tempfile.tempdir
    tempfile.tempdir = str(temp)
    cwd = os.getcwd()
    os.chdir(work)

    def restore() -> None:
        tempfile.tempdir = old_tempdir
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)

    return restore


def findings_of(report: str, rules: Collection[str]) -> set[tuple[str, str, str | None]]:
    """(rule, host, fact) of a JSON report's findings of ``rules``."""
    doc = json.loads(report)
    return {(f["rule"], f["host"], f["fact"]) for f in doc["findings"] if f["rule"] in rules}
