"""``mlflow-policy validate [FILE...]``: schema-check policy, waiver and policy-test files.

The pre-commit hook: it reads only the given files (default: the config's policy and waiver
paths), never an inventory, and imports neither Ansible nor Jinja2. Exit 0 when every file
loads, 2 with every error of every file otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE",
                        help="policy, waiver or policy-test files or directories (default: "
                             "the config's policies and waivers, else policies/)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="config file (default: .mlflow-policy.yaml, then "
                             "[tool.mlflow-policy] in pyproject.toml)")


def _default_paths(config_file: Path | None, root: Path) -> list[Path]:
    from mlflow_policy.config import load_config
    from mlflow_policy.errors import UsageError

    config = load_config(config_file, root)
    paths = [p for p in config.policies if p.exists()]
    paths += [p for p in config.waivers if p.exists()]
    if not paths:
        wanted = ", ".join(p.as_posix() for p in config.policies) or "policies/"
        raise UsageError(f"nothing to validate: no FILE given and {wanted} does not exist")
    return paths


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.policy.loader import count_files

    root = Path.cwd()
    paths = list(args.files) or _default_paths(args.config, root)
    count = count_files(paths, root)
    print(f"{count} file{'s' if count != 1 else ''} valid")
    return 0
