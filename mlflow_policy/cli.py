"""Command line: ``main(argv) -> int``. The one place that prints errors and exit codes.

Each command lives in ``mlflow_policy/commands/<name>.py`` with ``add_arguments(parser)``
and ``run(args) -> int``; :data:`COMMANDS` lists them explicitly (no discovery by side
effect), and only the chosen command's module is imported, so ``validate`` in a pre-commit
hook never pays for Ansible or Jinja2.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from mlflow_policy import __version__
from mlflow_policy.display import escape_controls
from mlflow_policy.errors import InputErrors, PolicyError
from mlflow_policy.gcpause import paused
from mlflow_policy.secrets import mask_text

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("mlflow_policy.commands.check", "evaluate inventories against policies"),
    "explain": ("mlflow_policy.commands.explain", "what a rule checks, why, and how to fix it"),
    "rules": ("mlflow_policy.commands.rules", "list every loaded rule"),
    "facts": ("mlflow_policy.commands.facts", "print hosts' fact documents with provenance"),
    "test": ("mlflow_policy.commands.test", "run PolicyTest documents; report rule coverage"),
    "validate": ("mlflow_policy.commands.validate", "schema-check policy, waiver and test files"),
    "schema": ("mlflow_policy.commands.schema",
               "print the JSON Schema of policy files (--config: of the run configuration)"),
    "remediate": ("mlflow_policy.commands.remediate",
                  "render the fix for failing findings: playbook, env files, inventory patches"),
    "init": ("mlflow_policy.commands.init", "scaffold a configuration repository"),
    "gather-playbook": ("mlflow_policy.commands.gather_playbook", "write the gathering playbook"),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="mlflow-policy",
        description="Check MLflow fleets declared in Ansible inventories against YAML policies.",
        epilog=("environment: MLFLOW_POLICY_JOBS=1 keeps a run in one process (by default, "
                "with 2 CPUs, a fleet of 2,000 hosts or more has its facts report and its "
                "rules split between two processes; the output is the same)."),
    )
    parser.add_argument("--version", action="version", version=f"mlflow-policy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands: dict[str, argparse.ArgumentParser] = {}
    for name, (module, help_text) in COMMANDS.items():
        commands[name] = sub.add_parser(name, help=help_text, description=help_text)
        commands[name].set_defaults(_module=module)
    return parser, commands


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser, commands = build_parser()
    # Only the chosen command's module is imported to add its arguments.
    args_list = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args_list if not a.startswith("-")), None)
    if name in commands:
        importlib.import_module(COMMANDS[name][0]).add_arguments(commands[name])
    return parser.parse_args(args_list)


def _internal_error(exc: BaseException) -> int:
    fd, path = tempfile.mkstemp(prefix="mlflow-policy-traceback-", suffix=".txt")
    with os.fdopen(fd, "w") as fh:
        traceback.print_exception(exc, file=fh)
    print(
        f"mlflow-policy: internal error: {type(exc).__name__} (a bug; traceback written to "
        f"{path})",
        file=sys.stderr,
    )
    return 3


@contextmanager
def _notes_on_stderr() -> Iterator[None]:
    """``-v``: what the library logs (a second process that failed...) goes to stderr for
    this command; the handler is removed after, for callers of main() in-process."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mlflow-policy: %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("mlflow_policy")
    level = logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. The cyclic collector is paused for the command (what it builds
    lives until it ends; see gcpause.py) and left as it was found after: tests and other
    programs call this in-process."""
    with paused():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        try:
            args = _parse(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            return int(exc.code) if isinstance(exc.code, int) else 2
        module = importlib.import_module(args._module)
        if getattr(args, "verbose", False):
            with _notes_on_stderr():
                return int(module.run(args))
        return int(module.run(args))
    except KeyboardInterrupt:
        print("mlflow-policy: interrupted", file=sys.stderr)
        return 130
    except InputErrors as exc:
        for err in exc.errors:
            # errors quote input lines: they go through the reports' masking
            print(f"error: {escape_controls(mask_text(err.render()))}", file=sys.stderr)
        n = len(exc.errors)
        print(f"mlflow-policy: {n} input error{'s' if n != 1 else ''}", file=sys.stderr)
        return exc.exit_code
    except PolicyError as exc:
        print(f"error: {escape_controls(mask_text(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # `mlflow-policy facts | head`: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        return _internal_error(exc)


def main_entry() -> None:
    code = main()
    # The process ends now: move what the command built out of the sight of the
    # collection the interpreter runs at exit, which would walk it all and free nothing
    # the exit does not. Only here, where the process is ours; never in library code.
    gc.freeze()
    raise SystemExit(code)
