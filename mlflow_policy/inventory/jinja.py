"""The Jinja2 environment that renders inventory values as Ansible 2.19 does: sandboxed,
native result types for a lone expression, Ansible's lexer and newline rules, undefined
values that chain until used, and the common filters of :mod:`.filters`.

jinja2 is imported when the first template is compiled, never for inventories without one.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from itertools import chain, islice
from typing import Any

from mlflow_policy import jinjabudget
from mlflow_policy.core import VaultedValue
from mlflow_policy.inventory.sealing import Sealed


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

    from mlflow_policy.inventory.filters import FILTERS, TESTS, extract_filter
    from mlflow_policy.jinjabudget import BudgetedSandbox

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

        @property
        def _undefined_message(self) -> str:
            # "'...template.HostScope object' has no attribute 'x'" says nothing to a user
            if type(self._undefined_obj).__name__ == "HostScope":
                return f"host var {self._undefined_name!r} is undefined"
            message: str = super()._undefined_message
            return message

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

    class Env(BudgetedSandbox, ImmutableSandboxedEnvironment):
        # The sandbox bounds range() but not arithmetic, widths or loops: a value like
        # "{{ 9 ** 9 ** 9 }}" or "{{ 'x' * 10 ** 9 }}" would hang or exhaust the run.
        code_generator_class = CodeGen
        concat = staticmethod(_concat)  # type: ignore[assignment]

        @property
        def lexer(self) -> Lexer:
            lexer = self.__dict__.get("_mlflow_policy_lexer")
            if lexer is None:
                lexer = self.__dict__["_mlflow_policy_lexer"] = Lex(self)
            return lexer

    env = Env(undefined=Undefined, extensions=["jinja2.ext.loopcontrols"])
    for name, fn in FILTERS.items():
        env.filters[name] = fn
    env.filters["extract"] = extract_filter()
    env.filters["d"] = env.filters["default"]
    for name in list(env.filters):
        if "." not in name:
            env.filters[f"ansible.builtin.{name}"] = env.filters[name]
    env.tests.update(TESTS)
    for name in list(env.tests):
        if "." not in name:
            env.tests[f"ansible.builtin.{name}"] = env.tests[name]
    jinjabudget.install(env)
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
            tmpl = _COMPILED[source] = jinjabudget.instrument(_env(), source)
    return tmpl


def parse(source: str) -> Any:
    """A template text's syntax tree (to find the names it reads); raises on bad syntax."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _env().parse(source)


def _check_defined(value: Any) -> Any:
    jinja2 = sys.modules.get("jinja2")  # not imported: no undefined value can exist

    if isinstance(value, (Iterator, range)):
        # lazy results (map, select, range) are materialised, as Ansible finalises them
        value = list(value)
    if jinja2 is not None and isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Sealed):
        value._touch()
    if isinstance(value, Mapping):
        for v in value.values():
            _check_defined(v)
    elif isinstance(value, list):
        for v in value:
            _check_defined(v)
    return value


# Text and plain ``{{ name }}`` substitutions only, no brace elsewhere, no '\r': what most
# inventory templates are. Their names and output nodes are read off without Jinja (so a
# fleet of such templates never imports it); Jinja's lexer is followed exactly: it drops
# one trailing newline, and empty text between substitutions makes no node.
_SIMPLE = re.compile(r"(?:[^{}\r]|\{\{[ \t\n]*[A-Za-z_][A-Za-z0-9_]*[ \t\n]*\}\})*")
_SUBST = re.compile(r"\{\{[ \t\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n]*\}\}")
# words a plain substitution cannot be planned for: Jinja's literals, operators and
# keywords (a syntax error or not a variable), and names Jinja gives a meaning of its own
_LITERALS = frozenset({
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
    "else", "elif", "for", "block", "extends", "import", "include", "from", "as", "with",
    "without", "context", "macro", "call", "filter", "set", "raw", "recursive", "scoped",
    "required", "ignore", "missing", "self", "super", "loop", "caller", "varargs", "kwargs",
})


def simple_nodes(source: str) -> tuple[Any, ...] | None:
    """The output nodes of a simple template (text, or a name as ``(name,)``); None for
    anything else."""
    if _SIMPLE.fullmatch(source) is None:
        return None
    if source.endswith("\n"):
        source = source[:-1]
    pieces = _SUBST.split(source)
    nodes: list[Any] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            if piece in _LITERALS:
                return None
            nodes.append((piece,))
        elif piece:
            nodes.append(piece)
    return tuple(nodes)


# source -> (the names it reads, in order of first use; its output nodes: text, or a
# name as ``(name,)``), for templates that are text and plain substitutions only
_PLANS: dict[str, tuple[tuple[str, ...], tuple[Any, ...]] | None] = {}


def _plan(source: str) -> tuple[tuple[str, ...], tuple[Any, ...]] | None:
    """For text around plain names (``postgresql://{{ user }}@{{ host }}/mlflow``): the
    names and the output nodes; else ``None``."""
    if source in _PLANS:
        return _PLANS[source]
    found = simple_nodes(source)
    if found is None:
        found = _parsed_nodes(source)
    plan: tuple[tuple[str, ...], tuple[Any, ...]] | None = None
    if found is not None:
        names = tuple(dict.fromkeys(n[0] for n in found if isinstance(n, tuple)))
        if names:
            plan = (names, found)
    if len(_PLANS) > 4096:
        _PLANS.clear()
    _PLANS[source] = plan
    return plan


def _parsed_nodes(source: str) -> tuple[Any, ...] | None:
    """``simple_nodes`` through Jinja's parser, for what the pattern does not cover
    (non-ASCII names, other spacing)."""
    from jinja2 import nodes

    try:
        tree = parse(source)
    except Exception:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    out: list[Any] = []
    for node in tree.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            out.append(node.data)
        elif isinstance(node, nodes.Name) and node.ctx == "load" and \
                node.name not in _LITERALS:
            out.append((node.name,))
        else:
            return None
    return tuple(out)


def render_string(source: str, scope: Mapping[str, Any]) -> Any:
    """One template string against ``scope``; raises on any failure."""
    plan = _plan(source)
    if plan is not None and all(name in scope for name in plan[0]):
        # What Jinja's compiled code does for it (resolve each name once, concatenate the
        # output nodes), without building a context per render: most inventory templates
        # are this, rendered once per host. A missing name goes to Jinja for its error.
        values = {name: scope[name] for name in plan[0]}
        result = _check_defined(_concat(iter([
            values[n[0]] if isinstance(n, tuple) else n for n in plan[1]])))
    else:
        env = _env()
        tmpl = _compile(source)
        ctx = tmpl.new_context(_Scope(scope, env.globals), shared=True)
        with jinjabudget.render_budget():
            result = _check_data(_check_defined(env.concat(tmpl.root_render_func(ctx))))
    if isinstance(result, str):
        # Ansible gives back the trailing newlines Jinja's lexer drops, to string results
        missing = _trailing_newlines(source) - _trailing_newlines(result)
        if missing > 0:
            result += "\n" * missing
    return result


_DATA = (str, int, float, type(None), date, datetime, VaultedValue, Sealed)


def _check_data(value: Any, depth: int = 0) -> Any:
    """A template's result must be data: ``{{ range }}``, ``{{ namespace() }}`` or
    ``{{ cycler(1, 2) }}`` give Python or Jinja objects no report can print (Ansible refuses
    them too)."""
    if isinstance(value, _DATA):
        return value
    if depth < 100 and isinstance(value, (list, tuple)):
        for item in value:
            _check_data(item, depth + 1)
        return value
    if depth < 100 and isinstance(value, dict):
        for key, item in value.items():
            _check_data(key, depth + 1)
            _check_data(item, depth + 1)
        return value
    raise RenderFailure(f"the template gives a {type(value).__name__}, not data")


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
