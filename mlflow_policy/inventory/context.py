"""What one resolver run shares: display paths, vault secrets, collected diagnostics and
the cache of vars files already read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_policy import safeio
from mlflow_policy.core import Diagnostic, Location
from mlflow_policy.errors import InputError
from mlflow_policy.inventory.vault import VaultSecrets, is_vault_file

if TYPE_CHECKING:
    from mlflow_policy.inventory.data import Entry


class ResolverState:
    def __init__(self, name: str, root: Path, secrets: VaultSecrets | None) -> None:
        self.name = name
        self.root = root.resolve()
        self._root_prefix = self.root.as_posix().rstrip("/") + "/"
        self._cwd = os.getcwd()
        self._real_dirs: dict[str, str] = {}
        self.secrets = secrets
        self.diagnostics: list[Diagnostic] = []
        self.errors: list[InputError] = []
        self._vars_files: dict[Path, dict[str, Entry]] = {}
        # Where this inventory may read: the root, plus the paths the caller trusts (the
        # inventory and playbook dir it was given), set by the resolver.
        self.confine = safeio.Confinement(self.root)

    def display(self, path: Path) -> str:
        """The path as findings show it: relative to the root when inside it."""
        # What the pathlib code below gives, by string operations, for the common case
        # of a path under the root: a fleet reads thousands of vars files.
        text = os.fspath(path)
        if text[:1] != "/":
            text = os.path.join(self._cwd, text)
        if text.startswith(self._root_prefix) and "/./" not in text and "//" not in text:
            return text[len(self._root_prefix):]
        absolute = Path(path).absolute()
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            real = self._realpath(str(absolute))
            if real.startswith(self._root_prefix):
                return real[len(self._root_prefix):]
            return "." if real == self._root_prefix[:-1] else str(absolute)

    def _realpath(self, path: str) -> str:
        """``os.path.realpath`` (what Path.resolve() does), with the directory part cached:
        thousands of vars files share a handful of directories."""
        parent, name = os.path.split(path)
        if not name or name in (".", "..") or os.path.islink(path):
            return os.path.realpath(path)
        real_parent = self._real_dirs.get(parent)
        if real_parent is None:
            real_parent = self._real_dirs[parent] = os.path.realpath(parent)
        return os.path.join(real_parent, name)

    def read_bytes(self, path: Path, display: str) -> tuple[bytes, bool] | None:
        """A file's bytes, decrypted when it is a whole-file vault and secrets were given;
        ``None`` (and a diagnostic) for a vault we cannot open. The flag says "was vaulted"."""
        data = safeio.read_bytes(path, display, self.confine)
        if not is_vault_file(data):
            return data, False
        if self.secrets is None:
            self.diagnostics.append(Diagnostic(
                rule="mlflow-policy/vaulted-file",
                message=(f"{display} is vault-encrypted and no vault secret was given "
                         "(--vault-password-file / --vault-id); its vars were skipped"),
                inventory=self.name,
                location=Location(display, 1, 1),
            ))
            return None
        return self.secrets.decrypt(data, display), True

    def vars_file(self, path: Path) -> dict[str, Entry]:
        cached = self._vars_files.get(path)
        if cached is None:
            from mlflow_policy.inventory.varsfiles import read_vars_file

            try:
                cached = read_vars_file(path, self)
            except InputError as exc:
                self.errors.append(exc)
                cached = {}
            self._vars_files[path] = cached
        return cached
