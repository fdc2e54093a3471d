"""Jinja2 rendering of hostvars in a sandbox, with Ansible 2.19's result types: a value
that is a single ``{{ expression }}`` keeps the expression's native type (``"{{ 22 |
int }}"`` is the int 22), anything else renders to a string. Vars reference each other
lazily (a template sees the other templates already rendered), cycles are detected, and
what cannot be rendered (lookups, undefined names, unknown filters, vaulted inputs)
stays as written and is reported.

jinja2 is imported when the first template is met, never for inventories without one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from itertools import chain, islice
from typing import Any

from mlflow_policy.inventory.data import Entry
from mlflow_policy.model import Unsafe, VaultedValue

_MARKERS = ("{{", "{%", "{#")


class RenderFailure(Exception):
    """A value that cannot be rendered; deliberately not a LookupError, so that Jinja's
    attribute and item fallbacks do not swallow it."""


def _concat(values: Iterator[Any]) -> Any:
    # Ansible drops None-valued nodes ("a{{ none }}b" is "ab"), returns a lone node as is
    # and None for no node at all.
    nodes = (v for v in values if v is not None)
    head = list(islice(nodes, 2))
    if not head:
        return None
    if len(head) == 1:
        return head[0]
    return "".join(str(v) for v in chain(head, nodes))


_ENV: list[Any] = []
_COMPILED: dict[str, Any] = {}


def _env() -> Any:
    if _ENV:
        return _ENV[0]
    from jinja2 import StrictUndefined
    from jinja2.lexer import TOKEN_STRING, TOKEN_VARIABLE_BEGIN, TOKEN_VARIABLE_END, Lexer
    from jinja2.nativetypes import NativeCodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from mlflow_policy.inventory.filters import FILTERS, TESTS

    class CodeGen(NativeCodeGenerator):
        # Like Ansible's AnsibleCodeGenerator: a lone constant keeps its type
        # ("{{ 22 | int }}" folds to the int 22, not to the text "22").
        def _output_const_repr(self, group: Any) -> str:
            items = list(group)
            if len(items) == 1:
                return repr(items[0])
            return repr("".join(map(str, items)))

    class Undefined(StrictUndefined):
        # Ansible's undefined markers chain (``a.b[c]`` with ``a`` or ``c`` undefined stays
        # undefined, so ``| default(x)`` still applies) and fail only when used.
        __slots__ = ()

        def __getattr__(self, name: str) -> Any:
            if name[:2] == "__":
                raise AttributeError(name)
            return self

        def __getitem__(self, _key: Any) -> Any:
            return self

    class Lex(Lexer):
        # Ansible's AnsibleLexer: backslashes in string literals inside {{ }} are kept
        # literally ('\\1' in YAML reaches regex_replace as \1, not as chr(1)).
        def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
            in_variable = False
            for token in super().tokeniter(*args, **kwargs):
                kind = token[1]
                if kind == TOKEN_VARIABLE_BEGIN:
                    in_variable = True
                elif kind == TOKEN_VARIABLE_END:
                    in_variable = False
                elif in_variable and kind == TOKEN_STRING:
                    yield (token[0], kind, token[2].replace("\\", "\\\\"))
                    continue
                yield token

    class Env(ImmutableSandboxedEnvironment):
        code_generator_class = CodeGen
        concat = staticmethod(_concat)  # type: ignore[assignment]
        # The sandbox bounds range() but not arithmetic: a value like "{{ 9 ** 9 ** 9 }}"
        # or "{{ 'x' * 10 ** 9 }}" would hang or exhaust a pre-commit hook.
        intercepted_binops = frozenset({"**", "*"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                if isinstance(right, int) and (abs(right) > 10_000 or (
                        isinstance(left, int) and right * left.bit_length() > 100_000)):
                    raise RenderFailure("exponent too large to compute safely")
                return left**right
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and (
                            len(seq) * n > 10_000_000):
                        raise RenderFailure("repetition too large to compute safely")
                return left * right
            return super().call_binop(context, operator, left, right)

        @property
        def lexer(self) -> Lexer:
            lexer = self.__dict__.get("_mlflow_policy_lexer")
            if lexer is None:
                lexer = self.__dict__["_mlflow_policy_lexer"] = Lex(self)
            return lexer

    env = Env(undefined=Undefined, extensions=["jinja2.ext.loopcontrols"])
    for name, fn in FILTERS.items():
        env.filters[name] = fn
    env.filters["d"] = env.filters["default"]
    for name in list(env.filters):
        if "." not in name:
            env.filters[f"ansible.builtin.{name}"] = env.filters[name]
    env.tests.update(TESTS)
    for name in list(env.tests):
        if "." not in name:
            env.tests[f"ansible.builtin.{name}"] = env.tests[name]
    _ENV.append(env)
    return env


def _compile(source: str) -> Any:
    tmpl = _COMPILED.get(source)
    if tmpl is None:
        if len(_COMPILED) > 4096:
            _COMPILED.clear()
        with warnings.catch_warnings():
            # user data such as '\.' in a Jinja string literal; not ours to warn about
            warnings.simplefilter("ignore", DeprecationWarning)
            tmpl = _COMPILED[source] = _env().from_string(source)
    return tmpl


def _check_defined(value: Any) -> Any:
    from jinja2 import Undefined

    if isinstance(value, (Iterator, range)):
        # lazy results (map, select, range) are materialised, as Ansible finalises them
        value = list(value)
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, _Sealed):
        value._touch()
    if isinstance(value, Mapping):
        for v in value.values():
            _check_defined(v)
    elif isinstance(value, list):
        for v in value:
            _check_defined(v)
    return value


def render_string(source: str, scope: Mapping[str, Any]) -> Any:
    """One template string against ``scope``; raises on any failure."""
    env = _env()
    tmpl = _compile(source)
    ctx = tmpl.new_context(_Scope(scope, env.globals), shared=True)
    result = _check_defined(env.concat(tmpl.root_render_func(ctx)))
    if isinstance(result, str):
        # Ansible gives back the trailing newlines Jinja's lexer drops, to string results
        missing = _trailing_newlines(source) - _trailing_newlines(result)
        if missing > 0:
            result += "\n" * missing
    return result


def _trailing_newlines(text: str) -> int:
    return len(text) - len(text.rstrip("\n"))


class _Scope(Mapping[str, Any]):
    """The host's vars first, then Jinja's globals (``range``, ``dict``...)."""

    __slots__ = ("glob", "vars")

    def __init__(self, vars_: Mapping[str, Any], glob: Mapping[str, Any]) -> None:
        self.vars = vars_
        self.glob = glob

    def __getitem__(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        return self.glob[key]

    def __contains__(self, key: object) -> bool:
        return key in self.vars or key in self.glob

    def __iter__(self) -> Iterator[str]:
        return chain(iter(self.vars), iter(self.glob))

    def __len__(self) -> int:
        return len(self.vars) + len(self.glob)


def is_template(value: Any) -> bool:
    return isinstance(value, str) and not isinstance(value, Unsafe) and any(
        m in value for m in _MARKERS)


class _Frame:
    """What one template string read while rendering: opaque vaulted values (then its
    result is itself an opaque vaulted value) or decrypted plaintext (then its result is
    rendered but counts as vaulted)."""

    __slots__ = ("ciphertexts", "opaque", "secret")

    def __init__(self) -> None:
        self.opaque = False
        self.secret = False
        self.ciphertexts: list[str] = []


class _UsesVault(Exception):
    """A template used a vaulted value; never a LookupError, so Jinja cannot swallow it."""


class _Sealed:
    """Stands for a VaultedValue while templates render: any use of it (printing,
    comparing, concatenating, filtering) marks the template opaque. Values merely passed
    through are caught when the result is checked."""

    __slots__ = ("ciphertext", "frames")

    def __init__(self, ciphertext: str, frames: list[_Frame]) -> None:
        self.ciphertext = ciphertext
        self.frames = frames

    def _touch(self, *_args: Any, **_kwargs: Any) -> Any:
        for frame in self.frames:
            frame.opaque = True
            frame.ciphertexts.append(self.ciphertext)
        raise _UsesVault("it uses a vaulted value")

    __str__ = __repr__ = __format__ = __bool__ = __len__ = __iter__ = _touch
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _touch
    __add__ = __radd__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _touch
    __contains__ = __getitem__ = __call__ = __int__ = __float__ = __index__ = _touch

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._touch()


def _seal(value: Any, frames: list[_Frame]) -> Any:
    if isinstance(value, VaultedValue):
        return _Sealed(value.ciphertext, frames)
    if isinstance(value, Mapping):
        return {k: _seal(v, frames) for k, v in value.items()}
    if isinstance(value, list):
        return [_seal(v, frames) for v in value]
    return value


def _derived(source: str, frame: _Frame) -> VaultedValue:
    # Equal for hosts whose template and secrets are equal, so `consistent` still works.
    return VaultedValue("\x00".join([source, *frame.ciphertexts]))


class HostScope(Mapping[str, Any]):
    """A host's vars as templates see them: rendered on first use, magic vars on top.

    ``frames`` is shared by every host's scope of one run, so that what a template reads
    through ``hostvars`` counts too.
    """

    def __init__(self, entries: dict[str, Entry], magic: Mapping[str, Any],
                 frames: list[_Frame] | None = None) -> None:
        self.entries = entries
        self.magic = magic
        self.frames: list[_Frame] = frames if frames is not None else []
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
        entry = self.entries[key]  # KeyError: undefined, as Jinja expects
        if not entry.has_template:
            if entry.secret:
                self._mark(secret=True)
            return _seal(entry.value, self.frames) if entry.vaulted else entry.value
        value = self.render(key)
        if key in self.failed:
            path, reason = self.failed[key][0]
            raise RenderFailure(f"'{path}' cannot be rendered ({reason})")
        if key in self.secret_vars or entry.secret:
            self._mark(secret=True)
        if key in self.opaque_vars or entry.vaulted:
            return _seal(value, self.frames)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self.magic or key in self.entries

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
        self.active.add(key)
        try:
            failures: list[tuple[str, str]] = []
            value = self._walk(self.entries[key].value, key, key, failures)
        finally:
            self.active.discard(key)
        if failures:
            self.failed[key] = failures
        self.done[key] = value
        return value

    def _leaf(self, source: str, key: str, path: str,
              failures: list[tuple[str, str]]) -> Any:
        frame = _Frame()
        self.frames.append(frame)
        error: Exception | None = None
        try:
            result = render_string(source, self)
        except RecursionError:
            error = RenderFailure("recursive loop detected")
        except Exception as exc:  # any Jinja/filter error means "not renderable"
            error = exc
        finally:
            self.frames.pop()
        if frame.opaque:
            # Ansible would decrypt and deploy the secret: an opaque vaulted value, not
            # an unresolved template.
            self.vaulted_paths.add(path)
            self.opaque_vars.add(key)
            if frame.secret:
                self.secret_vars.add(key)
            return _derived(source, frame)
        if error is not None:
            failures.append((path, _reason(error)))
            return source
        if frame.secret:
            self.vaulted_paths.add(path)
            self.secret_vars.add(key)
        return result

    def _walk(self, value: Any, key: str, path: str,
              failures: list[tuple[str, str]]) -> Any:
        if is_template(value):
            return self._leaf(value, key, path, failures)
        if isinstance(value, Mapping):
            out = {k: self._walk(v, key, f"{path}.{k}", failures) for k, v in value.items()}
            return out if any(out[k] is not value[k] for k in out) else value
        if isinstance(value, list):
            items = [self._walk(v, key, f"{path}.{i}", failures) for i, v in enumerate(value)]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        return value


def _reason(exc: Exception) -> str:
    """Why a template failed, without echoing data: only messages known to name the
    template's own words (undefined names, unknown filters, syntax) are kept; any other
    error may quote a value (``int('s3cret')``), so only its type is shown."""
    from jinja2 import TemplateSyntaxError, UndefinedError

    text = str(exc).strip().splitlines()
    msg = text[0][:200] if text else ""
    if isinstance(exc, UndefinedError) and ("lookup" in msg or "query" in msg):
        return f"{msg} (lookups are not run in static mode)"
    if isinstance(exc, (UndefinedError, TemplateSyntaxError, RenderFailure)):
        return msg or type(exc).__name__
    return type(exc).__name__

