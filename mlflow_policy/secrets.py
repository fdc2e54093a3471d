"""Secret masking, applied by every reporter and by ``facts``: secrets never leave us.

Three kinds of secret are masked as ``***``:
- vaulted values (``!vault``, ``__ansible_vault``, values of a decrypted vault file);
- values of secret variables: names MLflow's catalogue marks as secrets, and any key whose
  name says it holds one (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``...), at any depth;
- the password part of a URI (``postgresql://user:***@db/mlflow``), in values and in text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from mlflow_policy.model import HostFacts, VaultedValue

MASK = "***"

SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|PRIVATE_KEY|API_KEY|APIKEY"
    r"|ACCESS_KEY(?!_ID)|CONNECTION_STRING|SAS_KEY|AUTH_KEY",
    re.IGNORECASE,
)
# user:password@ inside anything that looks like scheme://...; the user part is kept.
_URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)[^\s@/?#]+(?=@)")


def _catalogue_secret(name: str) -> bool:
    try:
        from mlflow_policy import catalogue
    except ImportError:  # the catalogue ships with the package; absent only in a broken tree
        return False
    checker = getattr(catalogue, "is_secret_env", None)
    return bool(checker(name)) if checker is not None else False


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """A variable or key whose value is a secret by its name."""
    return bool(SECRET_NAME.search(name)) or _catalogue_secret(name)


def is_secret_path(fact_path: str) -> bool:
    return is_secret_name(fact_path.rsplit(".", 1)[-1])


def mask_text(text: str) -> str:
    """Mask URI passwords in free text (messages, hints)."""
    return _URI_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def _mask(value: Any, path: str, vaulted: frozenset[str], marker: bool) -> Any:
    if isinstance(value, VaultedValue) or path in vaulted:
        if marker:
            return {"__vault__": True}
        redacted = value.redacted if isinstance(value, VaultedValue) else None
        return mask_text(redacted) if redacted is not None else MASK
    if path and is_secret_path(path) and value is not None and not isinstance(
        value, (Mapping, list, tuple)
    ):
        return MASK
    if isinstance(value, Mapping):
        prefix = f"{path}." if path else ""
        return {str(k): _mask(v, f"{prefix}{k}", vaulted, marker) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v, path, vaulted, marker) for v in value]
    if isinstance(value, str):
        return mask_text(value) if "://" in value else value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def mask(
    value: Any, fact_path: str = "", facts: HostFacts | None = None, *, vault_marker: bool = False
) -> Any:
    """A JSON-safe copy of ``value`` (the value of ``fact_path``) with every secret masked.

    ``vault_marker`` prints vaulted values as ``{"__vault__": true}`` (the facts report)
    instead of ``***``.
    """
    vaulted = facts.vaulted_paths if facts is not None else frozenset()
    return _mask(value, fact_path, vaulted, vault_marker)
