"""``mlflow-policy schema``: print the JSON Schema of policy, waiver and policy-test files,
or with ``--config`` the one of the run configuration file.

It prints the schema shipped with the package, which a test keeps identical to the one the
models generate (the loaders validate with those same models).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", action="store_true",
        help="the schema of the run configuration (.mlflow-policy.yaml, [tool.mlflow-policy])")


def run(args: argparse.Namespace) -> int:
    if args.config:
        from importlib import resources

        # the shipped file, read without importing the model (and so pydantic)
        sys.stdout.write(resources.files("mlflow_policy").joinpath(
            "config.schema.json").read_text("utf-8"))
        return 0
    from mlflow_policy.policy.schema import shipped

    sys.stdout.write(shipped())
    return 0
