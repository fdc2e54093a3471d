"""Hostvars templating: each host's vars rendered lazily against each other (a template
sees the other templates already rendered), with cycles detected, the magic vars on top,
and failures kept per leaf path. What cannot be rendered statically (lookups, undefined
names, unknown filters) stays as written and is reported; what uses a vaulted value
becomes an opaque vaulted value (see :mod:`.sealing`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any

from mlflow_policy.core import VaultedValue
from mlflow_policy.inventory.data import Entry, is_template
from mlflow_policy.inventory.jinja import RenderFailure, render_string
from mlflow_policy.inventory.memo import LeafOutcome, Marks, Memo, RenderOutcome, Signer
from mlflow_policy.inventory.sealing import REDACTED, Frame, derived, seal
from mlflow_policy.jinjabudget import BudgetExceeded
from mlflow_policy.regex import RegexError
from mlflow_policy.secrets import is_secret_name, mentions_secret

VAULT_PREFIX = "vault_"
_SKIPPED = "skipped-vault-file:"  # the stand-in's "ciphertext": equal for equal names


class _Acc:
    """What rendering one var found: failed leaves, vaulted leaves, opaque or secret."""

    __slots__ = ("failures", "opaque", "secret", "vaulted")

    def __init__(self) -> None:
        self.failures: list[tuple[str, str]] = []  # (dotted path, reason)
        self.vaulted: list[str] = []
        self.opaque = False
        self.secret = False


class HostScope(Mapping[str, Any]):
    """A host's vars as templates see them: rendered on first use, magic vars on top.

    ``frames`` is shared by every host's scope of one run, so that what a template reads
    through ``hostvars`` counts too.
    """

    def __init__(self, entries: dict[str, Entry], magic: Mapping[str, Any],
                 frames: list[Frame] | None = None, memo: Memo | None = None, *,
                 skipped_vault: bool = False) -> None:
        self.entries = entries
        # A whole-file vault was skipped for want of a password: an undefined ``vault_*``
        # name (Ansible's documented vars.yml -> vault.yml indirection) is taken to be set
        # there, a vaulted value of unknown content rather than an unresolved template.
        # Run-wide, like an undefined name's memo signature (memo.Signer._name).
        self.skipped_vault = skipped_vault
        self.magic = magic
        self.frames: list[Frame] = frames if frames is not None else []
        self.memo = memo
        self.signer = Signer(entries, magic, memo) if memo is not None else None
        self.done: dict[str, Any] = {}
        self.failed: dict[str, list[tuple[str, str]]] = {}  # var -> [(dotted path, reason)]
        self.active: set[str] = set()
        self.vaulted_paths: set[str] = set()  # leaves rendered from vaulted data
        self.opaque_vars: set[str] = set()  # rendered vars holding derived VaultedValues
        self.secret_vars: set[str] = set()  # rendered vars holding decrypted plaintext

    def _mark(self, *, secret: bool) -> None:
        for frame in self.frames:
            frame.secret = frame.secret or secret

    def __getitem__(self, key: str) -> Any:
        if key in self.magic:
            return self.magic[key]
        if key == "vars" and key not in self.entries:
            # in a play, 'vars' is every var of the host: {{ vars['mlflow_port'] }}
            return self
        entry = self.entries.get(key)
        if entry is None:
            if self._in_skipped_vault(key):
                return seal(VaultedValue(f"{_SKIPPED}{key}"), self.frames)
            raise KeyError(key)  # undefined, as Jinja expects
        if not entry.vaulted and is_secret_name(key) and not isinstance(entry.value, Mapping):
            # What a template makes of a secret-named var is a secret too (a vaulted one
            # is sealed instead: its use makes the result opaque; a mapping's members are
            # judged by their own names).
            self._mark(secret=True)
        if not entry.has_template:
            if entry.secret:
                self._mark(secret=True)
            return seal(entry.value, self.frames) if entry.vaulted else entry.value
        value = self.render(key)
        if key in self.failed:
            path, reason = self.failed[key][0]
            raise RenderFailure(f"'{path}' cannot be rendered ({reason})")
        if key in self.secret_vars or entry.secret:
            self._mark(secret=True)
        if key in self.opaque_vars or entry.vaulted:
            return seal(value, self.frames)
        return value

    def _in_skipped_vault(self, key: str) -> bool:
        return self.skipped_vault and key.startswith(VAULT_PREFIX)

    def __contains__(self, key: object) -> bool:
        return key in self.magic or key in self.entries or key == "vars" or (
            isinstance(key, str) and self._in_skipped_vault(key))

    def __iter__(self) -> Iterator[str]:
        return chain(iter(self.magic), (k for k in self.entries if k not in self.magic))

    def __len__(self) -> int:
        return len(self.magic) + len(self.entries)

    def render(self, key: str) -> Any:
        """Render var ``key`` (cached); failures are recorded per leaf path."""
        if key in self.done:
            return self.done[key]
        if key in self.active:
            raise RenderFailure(f"recursive loop detected in template for '{key}'")
        sig = self.signer.var(key) if self.signer is not None else None
        if sig is not None:
            hit = self.memo.outcomes.get((key, sig))  # type: ignore[union-attr]
            if hit is not None:
                hit.marks.replay(self.frames)
                return self._apply(key, hit)
        # a frame of its own records what this var's rendering tells the templates around
        # it (they see the same marks), so that a memoised outcome can replay it
        capture = Frame()
        self.frames.append(capture)
        self.active.add(key)
        acc = _Acc()
        try:
            value = self._walk(self.entries[key].value, key, acc, key)
        finally:
            self.active.discard(key)
            self.frames.pop()
        outcome = RenderOutcome(value, tuple(acc.failures), tuple(acc.vaulted), acc.opaque,
                          acc.secret, Marks.of(capture))
        if sig is not None:
            self.memo.outcomes[(key, sig)] = outcome  # type: ignore[union-attr]
        return self._apply(key, outcome)

    def _apply(self, key: str, outcome: RenderOutcome) -> Any:
        if outcome.failures:
            self.failed[key] = list(outcome.failures)
        self.vaulted_paths.update(outcome.vaulted_paths)
        if outcome.opaque:
            self.opaque_vars.add(key)
        if outcome.secret:
            self.secret_vars.add(key)
        self.done[key] = outcome.value
        return outcome.value

    def _leaf(self, source: str, path: str, acc: _Acc, vpath: str) -> Any:
        sig = self.signer.leaf(source) if self.signer is not None else None
        leaf = self.memo.leaves.get((source, sig)) if sig is not None else None  # type: ignore[union-attr]
        if leaf is not None:
            leaf.marks.replay(self.frames)
        else:
            capture = Frame()  # see render()
            self.frames.append(capture)
            try:
                value, reason, opaque, secret = self._render_leaf(source)
            finally:
                self.frames.pop()
            leaf = LeafOutcome(value, reason, opaque, secret, Marks.of(capture))
            if sig is not None:
                self.memo.leaves[(source, sig)] = leaf  # type: ignore[union-attr]
        if leaf.reason is not None:
            acc.failures.append((path, leaf.reason))
        if leaf.opaque or leaf.secret:
            acc.vaulted.append(vpath)
        acc.opaque = acc.opaque or leaf.opaque
        acc.secret = acc.secret or leaf.secret
        return leaf.value

    def _render_leaf(self, source: str) -> tuple[Any, str | None, bool, bool]:
        """(value, why it failed, opaque, secret) for one template string."""
        frame = Frame()
        self.frames.append(frame)
        error: Exception | None = None
        try:
            result = render_string(source, self)
        except RecursionError:
            error = RenderFailure("recursive loop detected")
        except Exception as exc:  # any Jinja/filter error means "not renderable"
            # Only the message is used: dropping the traceback breaks the cycle
            # exception -> frame -> this scope, which would keep a whole run's resolver
            # state alive until the next cyclic collection.
            error = exc.with_traceback(None)
        finally:
            self.frames.pop()
        if frame.opaque:
            # Ansible would decrypt and deploy the secret: an opaque vaulted value, not
            # an unresolved template.
            if frame.secret:
                return derived(source, frame), None, True, True
            return derived(source, frame, self._redacted(source)), None, True, False
        if error is not None:
            return source, _reason(error, source), False, False
        return result, None, False, frame.secret or mentions_secret(source)

    def _redacted(self, source: str) -> str | None:
        """The template's text with every vaulted value printed as ``***``, when it only
        prints them (and reads no decrypted plaintext)."""
        frame = Frame(redact=True)
        self.frames.append(frame)
        try:
            result = render_string(source, self)
        except Exception:
            return None
        finally:
            self.frames.pop()
        # a text whose *** a filter rewrote would mislead: keep only plain substitutions
        if isinstance(result, str) and REDACTED in result and not frame.secret:
            return result
        return None

    def _walk(self, value: Any, path: str, acc: _Acc, vpath: str) -> Any:
        # ``path`` names list items by index for diagnostics; ``vpath``, the vaulted path,
        # stops at a list as fact paths, masking and Entry.vaulted do, so that a list item
        # rendered from a secret masks its list instead of naming a path nothing reads.
        if is_template(value):
            return self._leaf(value, path, acc, vpath)
        if isinstance(value, Mapping):
            out = {k: self._walk(v, f"{path}.{k}", acc, f"{vpath}.{k}")
                   for k, v in value.items()}
            return out if any(out[k] is not value[k] for k in out) else value
        if isinstance(value, list):
            items = [self._walk(v, f"{path}.{i}", acc, vpath)
                     for i, v in enumerate(value)]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        return value


_QUOTED = re.compile(r"'([^']*)'")


def _reason(exc: Exception, source: str) -> str:
    """Why a template failed, without echoing data: only messages known to name the
    template's own words (undefined names, unknown filters, syntax) are kept, and only when
    every word they quote is written in the template (``{{ {}[db_password] }}`` fails
    naming the password's value); any other error may quote a value (``int('s3cret')``),
    so only its type is shown."""
    from jinja2 import TemplateRuntimeError, TemplateSyntaxError, UndefinedError

    text = str(exc).strip().splitlines()
    msg = text[0][:200] if text else ""
    quoted = [q for q in _QUOTED.findall(msg) if q not in _JINJA_WORDS]
    if not all(q in source for q in quoted):
        return f"{type(exc).__name__} (naming a value, not shown)"
    if isinstance(exc, UndefinedError) and ("lookup" in msg or "query" in msg):
        return f"{msg} (lookups are not run in static mode)"
    if isinstance(exc, (UndefinedError, TemplateSyntaxError, RenderFailure, RegexError,
                        BudgetExceeded)) or (
            isinstance(exc, TemplateRuntimeError) and msg.startswith(("No filter", "No test"))):
        return msg or type(exc).__name__
    return type(exc).__name__


# what Jinja's own messages quote besides the template's words ('dict object' has no...)
_JINJA_WORDS = frozenset({"dict object", "list object", "str object", "int object",
                          "NoneType object", "float object", "bool object", "tuple object",
                          "ansible_facts", "ansible_local"})

