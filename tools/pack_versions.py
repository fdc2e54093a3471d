#!/usr/bin/env python3
"""Keep the baseline pack's version bounds equal to the catalogue's.

    python tools/pack_versions.py [--check] [PACK]

A rule that only applies where MLflow reads a variable writes its bound with a marker:

    mlflow.version: {version: ">=3.5.0"}  # since MLFLOW_SERVER_ALLOWED_HOSTS
    mlflow.version: {version: "<3.16.1"}  # before MLFLOW_AUTH_ADMIN_PASSWORD

and the version is the first release that reads the variable, from the built-in catalogue
(``mlflow_policy/catalogue/env_vars.json``, generated from the wheels). The policy language
has no "taken from the catalogue" (bounds are literal PEP 440 specifiers, so a policy reads
the same everywhere); this script rewrites the literals instead, and ``--check`` (run by
tests/test_pack_versions.py) fails when pack and catalogue disagree.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from mlflow_policy import catalogue  # noqa: E402

PACK = REPO_ROOT / "policies" / "mlflow-baseline.yaml"
MARKED = re.compile(
    r'(?P<head>version: ")(?P<op>>=|<)(?P<version>[^"]+)(?P<tail>"\}*\s*#\s*)'
    r"(?P<word>since|before) (?P<name>[A-Z_][A-Z0-9_]*)")


class Mismatch(ValueError):
    pass


def bound_for(name: str) -> str:
    var = catalogue.env_vars().get(name)
    if var is None:
        raise Mismatch(f"{name} is not in the catalogue")
    return var.first


def rewrite(text: str) -> tuple[str, list[str]]:
    """The pack with every marked bound set from the catalogue, and what changed."""
    changes: list[str] = []

    def one(m: re.Match[str]) -> str:
        want_op = ">=" if m["word"] == "since" else "<"
        if m["op"] != want_op:
            raise Mismatch(f"'{m['word']} {m['name']}' needs the operator {want_op}")
        first = bound_for(m["name"])
        if first != m["version"]:
            line = text.count("\n", 0, m.start()) + 1
            changes.append(f"line {line}: {m['name']}: {m['op']}{m['version']} -> "
                           f"{m['op']}{first}")
        return f"{m['head']}{m['op']}{first}{m['tail']}{m['word']} {m['name']}"

    return MARKED.sub(one, text), changes


def marked_names(text: str) -> list[str]:
    return [m["name"] for m in MARKED.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("pack", nargs="?", type=Path, default=PACK)
    ap.add_argument("--check", action="store_true", help="fail instead of rewriting")
    args = ap.parse_args(argv)
    text = args.pack.read_text(encoding="utf-8")
    try:
        new, changes = rewrite(text)
    except Mismatch as exc:
        print(f"{args.pack}: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        print(f"{args.pack}: {change}")
    if args.check:
        return 1 if changes else 0
    if changes:
        args.pack.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
