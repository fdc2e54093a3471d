"""Vault secrets given on the command line, and whole-file decryption with Ansible's
own vault library (imported only when an encrypted file is met and secrets were given)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_policy.errors import InputError

VAULT_HEADER = b"$ANSIBLE_VAULT"
DEFAULT_IDENTITY = "default"  # Ansible's DEFAULT_VAULT_IDENTITY


def is_vault_file(data: bytes) -> bool:
    """Ansible's ``is_encrypted``: pure ASCII that starts with the vault header."""
    if not data.startswith(VAULT_HEADER):
        return False
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class VaultSecrets:
    """``--vault-id [label@]FILE`` / ``--vault-password-file FILE``, in Ansible's order
    (vault ids first, then password files under the ``default`` label)."""

    ids: tuple[tuple[str, Path], ...]
    _lib: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_cli(
        cls, password_files: Sequence[Path | str] = (), vault_ids: Sequence[str] = ()
    ) -> VaultSecrets:
        ids: list[tuple[str, Path]] = []
        slugs = [str(v) for v in vault_ids]
        slugs += [f"{DEFAULT_IDENTITY}@{p}" for p in password_files]
        errors: list[InputError] = []
        for slug in slugs:
            label, sep, where = slug.partition("@")
            if not sep:
                label, where = DEFAULT_IDENTITY, slug
            if where in ("prompt", "prompt_ask_vault_pass"):
                errors.append(InputError(
                    f"vault id '{slug}': prompting for a vault password is not supported; "
                    "give a password file"))
                continue
            path = Path(where).expanduser()
            if not path.is_file():
                errors.append(InputError(f"vault password file not found: {where}"))
                continue
            ids.append((label or DEFAULT_IDENTITY, path))
        if errors:
            from mlflow_policy.errors import InputErrors

            raise InputErrors(errors)
        return cls(tuple(ids))

    def _vault_lib(self) -> Any:
        if self._lib:
            return self._lib[0]
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultLib, get_file_vault_secret

        loader = DataLoader()
        secrets = []
        for label, path in self.ids:
            try:
                secret = get_file_vault_secret(filename=str(path), vault_id=label, loader=loader)
                secret.load()
            except Exception as exc:  # Ansible raises AnsibleError subclasses
                raise InputError(f"cannot read vault password: {_first_line(exc)}",
                                 str(path)) from None
            secrets.append((label, secret))
        lib = VaultLib(secrets)
        self._lib.append(lib)
        return lib

    def decrypt(self, data: bytes, display: str) -> bytes:
        """The plaintext of a whole-file vault; an InputError naming the file otherwise."""
        lib = self._vault_lib()
        try:
            plain: bytes = lib.decrypt(data)
        except Exception as exc:
            raise InputError(f"cannot decrypt vault file: {_first_line(exc)}", display,
                             1) from None
        return plain


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
