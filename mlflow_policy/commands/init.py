"""``mlflow-policy init [DIR]``: scaffold a configuration repository that passes its own
check out of the box: the bundled policies, an example inventory, the config, pre-commit
hooks and CI examples for GitHub Actions and GitLab CI."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from mlflow_policy.bundled import bundled
from mlflow_policy.commands.common import write_output
from mlflow_policy.errors import UsageError

# Package data can't hold dotfiles reliably (globs skip them), so they ship as dot-NAME.
_DOT = "dot-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", type=Path, default=Path("."), metavar="DIR",
                        help="where to create the repository (default: the current directory)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite files that already exist")


def _walk(node: Traversable, prefix: PurePosixPath) -> Iterator[tuple[PurePosixPath, bytes]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith((".", "__")) or child.name.endswith((".pyc", "~")):
            continue
        name = "." + child.name[len(_DOT):] if child.name.startswith(_DOT) else child.name
        if child.is_dir():
            yield from _walk(child, prefix / name)
        else:
            yield prefix / name, child.read_bytes()


def scaffold() -> list[tuple[PurePosixPath, bytes]]:
    """Every file ``init`` writes, relative to the new repository, in a stable order."""
    files = list(_walk(bundled("scaffold"), PurePosixPath()))
    files += _walk(bundled("policies"), PurePosixPath("policies"))
    files += _walk(bundled("example-inventory"), PurePosixPath("inventories/example"))
    return sorted(files)


def run(args: argparse.Namespace) -> int:
    target: Path = args.directory
    if target.exists() and not target.is_dir():
        raise UsageError(f"init: {target} exists and is not a directory")
    files = scaffold()
    existing = [str(rel) for rel, _ in files if (target / rel).exists()]
    if existing and not args.force:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more"
                                           if len(existing) > 5 else "")
        raise UsageError(f"init: would overwrite {shown} in {target}; use --force")
    for rel, data in files:
        path = target / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"init: cannot create {path.parent}: {exc.strerror}") from None
        write_output(data.decode("utf-8"), path)
    print(f"created {len(files)} files in {target}")
    print("next: git init; pre-commit install; mlflow-policy check")
    return 0
