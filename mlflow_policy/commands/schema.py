"""``mlflow-policy schema``: print the JSON Schema of policy, waiver and policy-test files.

It prints the schema shipped with the package, which a test keeps identical to the one the
models generate (the loader validates with those same models).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the schema is one document


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.policy.schema import shipped

    sys.stdout.write(shipped())
    return 0
