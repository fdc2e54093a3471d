"""Options and plumbing shared by the commands that read inventories and write reports."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_policy import safeio
from mlflow_policy.config import RunConfig, load_config
from mlflow_policy.errors import InputErrors, UsageError

if TYPE_CHECKING:
    from mlflow_policy.facts.declared import Fleet
    from mlflow_policy.sources import StaticInventories
    from mlflow_policy.sources.live import LiveInventories


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="config file (default: .mlflow-policy.yaml, then "
                             "[tool.mlflow-policy] in pyproject.toml)")


def add_inventory_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("inventories")
    group.add_argument("-i", "--inventory", action="append", type=Path, metavar="PATH",
                       help="inventory file or directory, repeatable (default: every "
                            "directory under inventories/)")
    group.add_argument("--playbook-dir", type=Path, metavar="DIR",
                       help="also load group_vars/ and host_vars/ next to the playbooks")
    group.add_argument("--vault-password-file", action="append", type=Path, default=[],
                       metavar="FILE", help="decrypt whole-file vaulted vars files")
    group.add_argument("--vault-id", action="append", default=[], metavar="[LABEL@]FILE",
                       help="vault identity, as for ansible")


def add_live_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live mode")
    group.add_argument("--live", action="store_true",
                       help="gather each host's observed facts through Ansible "
                            "(ansible-runner over the inventories as they are) and compare "
                            "them with the declared ones")
    group.add_argument("--forks", type=int, default=10, metavar="N",
                       help="--live: hosts gathered at once (default 10)")
    group.add_argument("--timeout", type=int, default=30, metavar="SECONDS",
                       help="--live: per host, connecting plus gathering (default 30)")
    group.add_argument("--limit", metavar="PATTERN",
                       help="--live: Ansible host pattern, as ansible-playbook --limit")


def live_requested(args: argparse.Namespace) -> bool:
    """``--live``; its knobs without it are a mistake, not silently ignored."""
    live = bool(getattr(args, "live", False))
    if not live:
        for option, default in (("forks", 10), ("timeout", 30), ("limit", None)):
            if getattr(args, option, default) != default:
                raise UsageError(f"--{option} applies to --live only")
    elif args.forks < 1 or args.timeout < 1:
        raise UsageError("--forks and --timeout must be at least 1")
    return live


def add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, metavar="FILE",
                        help="write the report to FILE (atomically) instead of stdout")


def run_config(args: argparse.Namespace, root: Path | None = None) -> tuple[RunConfig, Path]:
    """The run's config and root: the current directory, unless the caller names another
    (the merge base's copy in pull-request mode). The CLI is the one place that reads the
    current directory; everything below gets the root."""
    root = Path.cwd() if root is None else root
    config = load_config(getattr(args, "config", None), root)
    playbook_dir = getattr(args, "playbook_dir", None)
    if playbook_dir is not None:
        if not playbook_dir.is_dir():
            raise UsageError(f"--playbook-dir: not a directory: {playbook_dir}")
        config = replace(config, playbook_dir=playbook_dir)
    return config, root


def inventory_paths_or_none(args: argparse.Namespace, config: RunConfig, root: Path
                            ) -> tuple[Path, ...]:
    given = getattr(args, "inventory", None)
    if given:
        return tuple(given)
    found = config.default_inventories(root)
    if config.inventories is None:
        # inventories/<name>/ found by listing: a symlink there is the repository's
        errors = safeio.confined_paths(found, safeio.Confinement(root), "inventory")
        if errors:
            raise InputErrors(errors)
    return found


def inventory_paths(args: argparse.Namespace, config: RunConfig, root: Path) -> tuple[Path, ...]:
    paths = inventory_paths_or_none(args, config, root)
    if not paths:
        raise UsageError("no inventory: pass -i PATH, or create inventories/<name>/")
    return paths


def inventory_source(args: argparse.Namespace, config: RunConfig, root: Path
                     ) -> StaticInventories:
    from mlflow_policy.sources import StaticInventories

    secrets = None
    files = list(getattr(args, "vault_password_file", []) or [])
    ids = list(getattr(args, "vault_id", []) or [])
    if files or ids:
        from mlflow_policy.inventory import VaultSecrets

        secrets = VaultSecrets.from_cli(files, ids)
    return StaticInventories(inventory_paths(args, config, root), config, root, secrets)


def live_source(args: argparse.Namespace, config: RunConfig, root: Path) -> LiveInventories:
    from mlflow_policy.sources.live import LiveInventories

    return LiveInventories(inventory_source(args, config, root), forks=args.forks,
                           timeout=args.timeout, limit=args.limit)


def fleet(args: argparse.Namespace, config: RunConfig, root: Path) -> Fleet:
    if live_requested(args):
        return live_source(args, config, root).load()
    return inventory_source(args, config, root).load()


def write_output(text: str, path: Path | None) -> None:
    """Print, or write ``path`` safely (see :mod:`mlflow_policy.outputs`): a report is
    never left half-written, and a device, FIFO or symlink named by -o survives."""
    write_stream((text,), path)


def write_stream(chunks: Iterable[str], path: Path | None) -> None:
    """``write_output`` for a report produced piece by piece (never held whole in memory)."""
    from mlflow_policy import outputs

    outputs.write(chunks, path)
