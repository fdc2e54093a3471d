"""Reading YAML/JSON data files the way Ansible's ``DataLoader`` does (JSON first, then
YAML), through the strict :mod:`mlflow_policy.yamlio` layer, with ``__ansible_vault`` /
``__ansible_unsafe`` mappings turned into opaque values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlflow_policy import yamlio
from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.errors import InputError


def _special(value: Mapping[Any, Any]) -> Any:
    """``{"__ansible_vault": ciphertext}`` / ``{"__ansible_unsafe": text}`` as Ansible's
    JSON decoder reads them (we treat YAML the same: the spec says such mappings are vaulted)."""
    if len(value) == 1:
        if isinstance(value.get("__ansible_vault"), str):
            return VaultedValue(value["__ansible_vault"])
        if isinstance(value.get("__ansible_unsafe"), str):
            return Unsafe(value["__ansible_unsafe"])
    return None


def devault(value: Any) -> Any:
    """Replace special mappings in place (containers keep their identity and locations)."""
    if isinstance(value, dict):
        special = _special(value)
        if special is not None:
            return special
        for key, sub in value.items():
            if isinstance(sub, (dict, list)):
                value[key] = devault(sub)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            if isinstance(sub, (dict, list)):
                value[i] = devault(sub)
    return value


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_pairs(pairs: list[tuple[str, Any]]) -> Any:
    out = yamlio.LocDict()
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _comparable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return (type(value).__name__, value)


def loads_data(text: str, display: str) -> Any:
    """One YAML/JSON document with locations; JSON semantics when the text is JSON."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            as_json = json.loads(text, object_pairs_hook=_json_pairs)
        except ValueError:
            as_json = None
        except RecursionError:
            # YAML reads JSON too, and names the line where nesting goes too deep
            yamlio.loads(text, display)
            raise InputError("nested too deeply", display, 1, 1) from None
        except _DuplicateKey as dup:
            yamlio.loads(text, display)  # names the line, when YAML can read the text
            raise InputError(f"duplicate key {dup.key!r}", display) from None
        else:
            try:
                as_yaml = yamlio.loads(text, display)
            except InputError:
                as_yaml = None
            # Keep YAML's line marks unless YAML reads the text differently (1e3, tabs).
            if as_yaml is not None and _comparable(as_yaml) == _comparable(as_json):
                return devault(as_yaml)
            return devault(as_json)
    return devault(yamlio.loads(text, display))
