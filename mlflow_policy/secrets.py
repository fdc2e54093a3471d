"""Secret masking, applied by every reporter and by ``facts``: secrets never leave us.

Three kinds of secret are masked as ``***``:
- vaulted values (``!vault``, ``__ansible_vault``, values of a decrypted vault file);
- values of secret variables: names MLflow's catalogue marks as secrets, and any key whose
  name says it holds one (``*PASSWORD*``, ``*TOKEN*``, ``*SECRET*``...), at any depth;
- credentials inside text, in values and in messages: the password part of a URI
  (``postgresql://user:***@db/mlflow``, also when it holds ``@``, ``/`` or ``#``),
  credential query parameters (``?password=``, ``&access_token=``), DSN fields
  (``password=...``), ``Authorization`` header values and bearer/basic tokens.

A name is secret when it says so (``*PASSWORD*``, ``*TOKEN*``, ``*_PASS``, ``*_PWD``...)
or MLflow's catalogue marks it; ``NOPASSWD`` (sudo's "no password") is not a secret.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from typing import Any

from mlflow_policy.core import HostFacts, VaultedValue

MASK = "***"
# scalars a masker passes through unless their name says they are secret
_PLAIN = frozenset({int, float, bool, type(None)})

SECRET_NAME = re.compile(
    r"(?<!NO)(?<!NO_)(?:PASSWORD|PASSWD)|PASSPHRASE|TOKEN|SECRET|CREDENTIAL|PRIVATE_KEY"
    r"|API_KEY|APIKEY|ACCESS_KEY(?!_ID)|CONNECTION_STRING|SAS_KEY|AUTH_KEY"
    # ansible_ssh_pass, ansible_become_pass, ansible_sudo_pass, db_pwd, ...
    r"|(?:^|_)PASS(?:$|_)|_PWD$|^AUTHORIZATION$",
    re.IGNORECASE,
)
# user:password@ inside anything that looks like scheme://...; the user part is kept. The
# password runs to the last '@' of the word (passwords hold '@', '/', '#' unencoded), but
# 'host:8080/path@x' is a port and a path, not a password.
_URI_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)(?!\d{1,5}(?:[/?#]|$))\S+(?=@)")
# key=value / key: value where the key names a credential: URI query parameters
# (?password=, &access_token=), DSN fields (password=...), header-like text.
_CREDENTIAL_FIELD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9])[A-Za-z0-9_.\-]*?(?:(?<!no)(?:password|passwd)|\bpwd|pass\b"
    r"|token|secret|api[_-]?key|access[_-]?key(?![_-]?id)|signature|credential)"
    r"[A-Za-z0-9_.\-]*\s*[=:]\s*)(?P<value>'[^']*'?|\"[^\"]*\"?|[^\s&;,'\"]+)",
    re.IGNORECASE)
_AUTHORIZATION = re.compile(
    r"(?P<head>\bauthorization\s*[=:]\s*(?:(?:bearer|basic|token|digest|negotiate)\s+)?)"
    r"(?P<value>\S+)|(?P<head2>\b(?:bearer|basic)\s+)(?P<value2>[A-Za-z0-9._~+/=\-]{8,})",
    re.IGNORECASE)


def _catalogue_secret(name: str) -> bool:
    try:
        from mlflow_policy import catalogue
    except ImportError:  # the catalogue ships with the package; absent only in a broken tree
        return False
    return bool(catalogue.is_secret_env(name))


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """A variable or key whose value is a secret by its name."""
    return bool(SECRET_NAME.search(name)) or _catalogue_secret(name)


_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
# a name, and what follows it: ".member" (reading inside a mapping) or anything else
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*(?P<member>[A-Za-z_][A-Za-z0-9_]*))?")
_STR_METHODS = frozenset(name for name in dir(str) if not name.startswith("_"))


@functools.lru_cache(maxsize=4096)
def mentions_secret(template: str) -> bool:
    """Does a template's expressions read a secret by name (``{{ db_password }}``,
    ``{{ creds.token }}``, ``{{ hostvars[h]['api_key'] }}``, ``{{ db_password.split() }}``)?
    What it renders to is then a secret too. A secret-looking mapping whose plain member is
    read (``{{ env_with_secret.URI }}``) is not: its members are judged by their own names."""
    for block in _BLOCK.findall(template):
        for m in _NAME.finditer(block):
            member = m.group("member")
            name = m.group(0) if member is None else m.group(0).split(".")[0].strip()
            if is_secret_name(name) and (member is None or member in _STR_METHODS):
                return True
            if member is not None and is_secret_name(member):
                return True
    return False


def is_secret_path(fact_path: str) -> bool:
    return is_secret_name(fact_path.rsplit(".", 1)[-1])


@functools.lru_cache(maxsize=4096)
def _secret_key(name: str) -> bool:
    """A mapping key naming a secret: as a whole, or by its last dotted part (a key such
    as ``x.MLFLOW_S3_UPLOAD_EXTRA_ARGS`` is one name, but reads as a path)."""
    return is_secret_name(name) or is_secret_path(name)


def _auth(m: re.Match[str]) -> str:
    return (m.group("head") or m.group("head2")) + MASK


def _field(m: re.Match[str]) -> str:
    return m.group("head") + MASK


# One scan that most values fail: only texts naming a credential go through the patterns.
# (searched in the lowered text: a case-insensitive alternation is several times slower)
_HINT = re.compile(r"pass|pwd|token|secret|key|signature|credential|authoriz|bearer|basic")


def mask_text(text: str) -> str:
    """Mask credentials in free text (values, messages, hints)."""
    if "@" in text and "://" in text:
        text = _URI_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    # a credential field has '=' or ':'; a bare token follows "Bearer " / "Basic "
    if ("=" in text or ":" in text or "earer " in text or "asic " in text) and \
            _HINT.search(text.lower()) is not None:
        text = _AUTHORIZATION.sub(_auth, text)
        text = _CREDENTIAL_FIELD.sub(_field, text)
    return text


class Masker:
    """Masks values for output. One masker may serve a whole run: a mapping with no vaulted
    path below it masks the same for every host, and the resolver shares such mappings
    between hosts, so their masked copies are cached by identity (the source is kept
    referenced with its copy, so an id is never reused while cached)."""

    def __init__(self, *, vault_marker: bool = False,
                 vault_ref: Callable[[VaultedValue], int | None] | None = None) -> None:
        self.marker = vault_marker
        # the facts snapshot's equality classes of vaulted values (facts/snapshot.py)
        self.vault_ref = vault_ref
        self._cache: dict[tuple[int, str], tuple[Any, Any]] = {}

    def _vault(self, value: Any) -> Any:
        if self.marker:
            marker: dict[str, Any] = {"__vault__": True}
            if isinstance(value, VaultedValue):
                ref = self.vault_ref(value) if self.vault_ref is not None else None
                if ref is not None:
                    marker["ref"] = ref
                if value.redacted is not None:  # never holds the secret: see VaultedValue
                    marker["redacted"] = mask_text(value.redacted)
            return marker
        redacted = value.redacted if isinstance(value, VaultedValue) else None
        return mask_text(redacted) if redacted is not None else MASK

    def value(self, value: Any, path: str, vaulted: AbstractSet[str]) -> Any:
        if isinstance(value, VaultedValue) or (vaulted and path in vaulted):
            return self._vault(value)
        if isinstance(value, Mapping):
            return self._mapping(value, path, vaulted)
        if isinstance(value, (list, tuple)):
            if vaulted and path in vaulted:
                return self._vault(value)
            # items are masked by the list's own name: shared lists are masked once
            key = (id(value), path[path.rfind(".") + 1:]) if not vaulted else None
            hit = self._cache.get(key) if key is not None else None
            if hit is not None and hit[0] is value:
                return hit[1]
            items = [self.value(v, path, vaulted) for v in value]
            if key is not None:
                self._cache[key] = (value, items)
            return items
        if value is not None and path and is_secret_path(path):
            return MASK
        if isinstance(value, str):
            return mask_text(value) if (":" in value or "=" in value or " " in value) else value
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        return value

    def _mapping(self, value: Mapping[Any, Any], path: str, vaulted: AbstractSet[str]) -> Any:
        prefix = f"{path}." if path else ""
        # Is any vaulted path at or below this mapping? If not, its masked copy is the same
        # for every host that shares it.
        below = bool(vaulted) and (not path or any(
            v == path or v.startswith(prefix) for v in vaulted))
        key: tuple[int, str] | None = None
        if not below:
            # Masked by its own keys alone: the same copy serves wherever it appears
            # (vars.mlflow_env and env are one mapping).
            key = (id(value), "")
            hit = self._cache.get(key)
            if hit is not None and hit[0] is value:
                return hit[1]
        out: dict[str, Any] = {}
        for k, v in value.items():
            name = k if type(k) is str else str(k)
            kind = type(v)
            if kind is str and not (below and prefix + name in vaulted):
                # The common leaf, inlined: a plain string under a plain name.
                if _secret_key(name):
                    out[name] = MASK
                else:
                    out[name] = mask_text(v) if (":" in v or "=" in v or " " in v) else v
            elif kind in _PLAIN and not (below and prefix + name in vaulted):
                out[name] = MASK if v is not None and _secret_key(name) else v
            else:
                out[name] = self.value(v, prefix + name, vaulted if below else frozenset())
        if key is not None:
            self._cache[key] = (value, out)
        return out

    def facts(self, facts: HostFacts) -> Any:
        """The whole fact document of a host, masked."""
        return self.document(facts.facts, facts.vaulted_paths)

    def document(self, values: Mapping[str, Any], vaulted: AbstractSet[str]) -> Any:
        """A whole fact document (declared or observed), masked."""
        return self._mapping(values, "", frozenset(vaulted) if vaulted else frozenset())


LeavesCache = dict[int, tuple[HostFacts, frozenset[str]]]


def secret_leaves(facts: HostFacts, cache: LeavesCache | None = None) -> frozenset[str]:
    """Every text in a host's facts that masking hides (values of secret-named keys and of
    vaulted paths): what a policy template must not print, whatever way it read them.
    ``cache``: the run's (see ConditionMemo), keyed by the host's id and holding the host,
    so an id cannot be reused while the entry lives."""
    if cache is not None:
        hit = cache.get(id(facts))
        if hit is not None and hit[0] is facts:
            return hit[1]
    found: set[str] = set()
    vaulted = frozenset(facts.vaulted_paths) if facts.vaulted_paths else frozenset()

    def walk(value: Any, path: str, secret: bool) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                name = str(k)
                sub = f"{path}.{name}" if path else name
                walk(v, sub, secret or _secret_key(name) or sub in vaulted)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, path, secret)
        elif value is not None and not isinstance(value, VaultedValue) and (
                secret or path in vaulted):
            text = str(value)
            if len(text) >= 3:  # "1" or "no" would mask every digit and word
                found.add(text)

    walk(facts.facts, "", False)
    leaves = frozenset(found)
    if cache is not None:
        if len(cache) > 65536:
            cache.clear()
        cache[id(facts)] = (facts, leaves)
    return leaves


def reveals_secret(value: Any, facts: HostFacts, cache: LeavesCache | None = None) -> bool:
    """Does ``value`` (rendered by a policy template) print one of the host's secrets?"""
    leaves = secret_leaves(facts, cache)
    if not leaves:
        return False
    text = value if isinstance(value, str) else repr(value)
    return any(leaf in text for leaf in leaves)


def mask(
    value: Any, fact_path: str = "", facts: HostFacts | None = None, *, vault_marker: bool = False
) -> Any:
    """A JSON-safe copy of ``value`` (the value of ``fact_path``) with every secret masked.

    ``vault_marker`` prints vaulted values as ``{"__vault__": true}`` (the facts report)
    instead of ``***``.
    """
    vaulted: AbstractSet[str] = frozenset()
    if facts is not None and facts.vaulted_paths:
        vaulted = frozenset(facts.vaulted_paths)
    return Masker(vault_marker=vault_marker).value(value, fact_path, vaulted)
