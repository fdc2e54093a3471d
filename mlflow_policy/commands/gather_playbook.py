"""``mlflow-policy gather-playbook DIR``: write the gathering playbook and its module for a
user's own ``ansible-playbook`` run or an AWX / Automation Platform job template.

The run leaves one JSON document per host in ``mlflow-policy-facts/`` beside the playbook
(``-e mlflow_policy_results=DIR`` to change it), which ``check --facts`` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", type=Path,
                        help="where to write gather.yml, library/ and README.md "
                             "(created if missing; these three files are replaced)")


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.errors import UsageError
    from mlflow_policy.live.playbook import RESULTS_DEFAULT, write

    target: Path = args.directory
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory")
    try:
        written = write(target)
    except OSError as exc:
        raise UsageError(f"cannot write into {target}: {exc.strerror}") from exc
    for path in written:
        print(path)
    print(f"run: ansible-playbook -i INVENTORY {target / 'gather.yml'}\n"
          f"then: mlflow-policy check --facts {target / RESULTS_DEFAULT}")
    return 0
