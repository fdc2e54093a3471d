"""``group_vars/`` and ``host_vars/`` next to an inventory or a playbook dir, found and
read as Ansible's ``host_group_vars`` vars plugin and ``DataLoader.find_vars_files`` do:
the first of ``NAME``, ``NAME.yml``, ``NAME.yaml``, ``NAME.json`` that exists wins, a
directory ``NAME/`` is read recursively in sorted order (hidden and ``~`` files skipped,
only files with no extension or one of those extensions), empty files are ignored, and
later files replace earlier ones key by key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlflow_policy import safeio
from mlflow_policy.core import Location
from mlflow_policy.errors import InputError
from mlflow_policy.inventory.context import ResolverState
from mlflow_policy.inventory.data import Entry
from mlflow_policy.inventory.files import loads_data

EXTENSIONS = ("", ".yml", ".yaml", ".json")

VarsLayer = dict[str, Entry]


def _visible(name: str) -> bool:
    return not (name.startswith(".") or name.endswith("~"))


def _keep_dir(name: str) -> bool:
    return _visible(name) and not os.path.splitext(name)[1]


def _keep_file(name: str) -> bool:
    return _visible(name) and os.path.splitext(name)[1] in EXTENSIONS


def _dir_files(path: Path, ctx: ResolverState) -> list[Path]:
    # symlinks met on the way must stay inside the run's confinement; loops are errors
    return safeio.walk(path, keep_dir=_keep_dir, keep_file=_keep_file,
                       confine=ctx.confine, display=ctx.display)


class VarsDir:
    """``group_vars/`` or ``host_vars/`` under one base directory."""

    def __init__(self, base: Path, subdir: str, ctx: ResolverState) -> None:
        self.path = base / subdir
        self.ctx = ctx
        try:
            self.names: frozenset[str] = frozenset(os.listdir(self.path))
        except OSError:
            self.names = frozenset()

    def files_for(self, entity: str) -> list[Path]:
        # Ansible skips 'chroot'-style names that start with a path separator.
        if not entity or entity.startswith(os.sep) or not self.names:
            return []
        for ext in EXTENSIONS:
            name = entity + ext
            # a name with a separator ('a/b') is looked up as a path, as os.path.join does
            if name not in self.names and ("/" not in name or not (self.path / name).exists()):
                continue
            full = self.path / name
            if full.is_dir():
                return _dir_files(full, self.ctx)
            return [full]
        return []

    def layer_for(self, entity: str) -> VarsLayer:
        layer: VarsLayer = {}
        for path in self.files_for(entity):
            layer.update(self.ctx.vars_file(path))
        return layer


def read_vars_file(path: Path, ctx: ResolverState) -> VarsLayer:
    """One vars file's top-level vars; whole-file vaults decrypted or skipped with a
    ``mlflow-policy/vaulted-file`` diagnostic."""
    display = ctx.display(path)
    raw = ctx.read_bytes(path, display)
    if raw is None:
        return {}
    data_bytes, vaulted = raw
    from mlflow_policy.yamlio import decode_utf8

    data = loads_data(decode_utf8(data_bytes, display), display)
    if not data:
        return {}
    if not isinstance(data, Mapping):
        raise InputError(
            f"a vars file must hold a mapping of variable names to values, not a "
            f"{type(data).__name__}", display, 1, 1)
    fallback = Location(display, 1, 1)
    locs = getattr(data, "locs", {})
    return {key: Entry(value, locs.get(key, fallback), all_vaulted=vaulted)
            for key, value in data.items()}
