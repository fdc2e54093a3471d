"""``mlflow-policy/unknown-mlflow-env``: ``MLFLOW_*`` variables MLflow will not read.

A misspelt variable (``MLFLOW_TRACKING_URL``) is silently ignored by MLflow, and so is one
the host's MLflow release does not read yet (introduced later) or any more (removed): the
setting the operator believes is in force is not. The built-in catalogue knows which
release reads which name, so each such key becomes a warning with the closest known name.

When the host's ``mlflow.version`` is not one exact version (unset, a range, ``latest``),
the release is unknown and only names that no catalogued release reads are reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache

from mlflow_policy.core import Diagnostic, HostFacts
from mlflow_policy.facts.lookup import provenance_for

UNKNOWN_MLFLOW_ENV = "mlflow-policy/unknown-mlflow-env"
PREFIX = "MLFLOW_"


# Keyed by inventory values (names, versions): bounded, so that a long-lived program
# checking many fleets does not keep every value it ever saw.
@lru_cache(maxsize=4096)
def _exact_version(value: str) -> str | None:
    """``value`` when it names one exact release (``3.17.2``), else None."""
    from packaging.version import InvalidVersion, Version

    try:
        Version(value)
    except InvalidVersion:
        return None
    return value.strip()


@lru_cache(maxsize=16384)
def _read(name: str, version: str | None) -> bool:
    from mlflow_policy import catalogue

    var = catalogue.env_vars().get(name)
    if var is None:
        return False
    return True if version is None else var.read_by(version)


@lru_cache(maxsize=64)
def _candidates(version: str | None) -> tuple[str, ...]:
    """Public names the release reads (every catalogued release when unknown)."""
    from mlflow_policy import catalogue

    return tuple(sorted(
        n for n in catalogue.env_vars()
        if not n.startswith("_") and _read(n, version)))


@lru_cache(maxsize=4096)
def suggest(name: str, version: str | None) -> str | None:
    """The readable name most likely meant, other than ``name`` itself."""
    candidates = [c for c in _candidates(version) if c != name]
    upper = {c.upper(): c for c in candidates}
    if name.upper() in upper:
        return upper[name.upper()]
    match = difflib.get_close_matches(name.upper(), list(upper), n=1, cutoff=0.8)
    return upper[match[0]] if match else None


def _message(name: str, version: str | None) -> str:
    from mlflow_policy import catalogue

    var = catalogue.env_vars().get(name)
    fact = f"env.{name}"
    if var is None:
        text = f"{fact}: MLflow reads no environment variable named {name}"
    elif version is not None and var.last is not None and not var.read_by(version) and \
            _after_first(version, var.first):
        text = (f"{fact}: MLflow {var.last} was the last release to read {name}; this host "
                f"declares mlflow.version {version}, which ignores it")
    else:
        text = (f"{fact}: {name} is read from MLflow {var.first} on; this host declares "
                f"mlflow.version {version}, which ignores it")
    hint = suggest(name, version)
    return f"{text} (did you mean {hint}?)" if hint else text


def _after_first(version: str, first: str) -> bool:
    from packaging.version import Version

    return Version(version) >= Version(first)


def check_host(host: HostFacts) -> list[Diagnostic]:
    env = host.facts.get("env")
    if not isinstance(env, Mapping):
        return []
    raw = host.facts.get("mlflow", {})
    declared = raw.get("version") if isinstance(raw, Mapping) else None
    version = _exact_version(declared) if isinstance(declared, str) else None
    out: list[Diagnostic] = []
    for key in env:
        name = str(key)
        if not name.startswith(PREFIX) or _read(name, version):
            continue
        fact = f"env.{name}"
        out.append(Diagnostic(
            rule=UNKNOWN_MLFLOW_ENV, message=_message(name, version), inventory=host.inventory,
            host=host.host, fact=fact, location=provenance_for(host, fact), severity="warning",
        ))
    return out


def env_diagnostics(hosts: Iterable[HostFacts]) -> list[Diagnostic]:
    """One warning per (host, ``MLFLOW_*`` key) that the host's MLflow will not read."""
    out: list[Diagnostic] = []
    for host in hosts:
        out.extend(check_host(host))
    return out
