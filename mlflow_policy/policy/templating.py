"""Rendering the Jinja2 inside condition and remediation values against a host's facts.

``equals: "s3://mlflow-artifacts/{{ vars.team }}/"`` is rendered per host in Jinja2's
immutable sandbox with ``StrictUndefined``: a policy file is code from a pull request, so
it may read facts but never call into Python or mutate anything. jinja2 is imported only
when a value actually holds a template, so policies without templates never pay for it.

A value that is exactly one expression (``"{{ peer.server.port }}"``) evaluates to the
expression's native value (an int stays an int), so that ``equals`` compares like with like;
anything else renders to a string.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlflow_policy import jinjabudget
from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.dotted import strings

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_SINGLE_EXPR = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}$", re.DOTALL)


def is_template(value: object) -> bool:
    """A string holding Jinja2; one tagged ``!unsafe`` is literal text, as in Ansible."""
    return isinstance(value, str) and not isinstance(value, Unsafe) and (
        "{{" in value or "{%" in value)


def has_template(value: Any) -> bool:
    """Whether ``value`` or anything nested in it holds a template."""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, list):
        return any(has_template(v) for v in value)
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    return False


class TemplateProblem(Exception):
    """A value could not be rendered for this host.

    ``missing`` is the dotted path of the absent fact the template read, when that is the
    cause (``None`` for other problems, e.g. a syntax error).
    """

    def __init__(self, message: str, missing: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


class _MissingFact(Exception):
    def __init__(self, obj: Any, name: str | None) -> None:
        super().__init__(name)
        self.obj = obj
        self.name = name


def _refuse_vaulted(value: Any) -> Any:
    if isinstance(value, VaultedValue):
        raise TemplateProblem("a template cannot embed a vaulted value in a string")
    return value


@functools.lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import StrictUndefined, Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def _fail(self: Undefined, *args: Any, **kwargs: Any) -> Any:
        # Raise with the object and attribute that were missing, so the message can name
        # the fact (`vars.team`) instead of Jinja's "'dict object' has no attribute".
        raise _MissingFact(self._undefined_obj, self._undefined_name)

    # Every operation StrictUndefined refuses goes through our _fail instead (the dunders
    # hold the base function itself, so overriding the method alone would not reach them).
    refused = {name: _fail for name in dir(StrictUndefined)
               if getattr(StrictUndefined, name) is Undefined._fail_with_undefined_error}
    undefined = type("_Undefined", (StrictUndefined,), {"__slots__": (), **refused})

    class Env(jinjabudget.BudgetedSandbox, ImmutableSandboxedEnvironment):
        """Arithmetic, widths, loops and output on budget (see jinjabudget)."""

    env = Env(undefined=undefined, autoescape=False, finalize=_refuse_vaulted,
              keep_trailing_newline=True)
    jinjabudget.install(env)
    return env


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    from jinja2 import TemplateSyntaxError

    env = _environment()
    try:
        single = _SINGLE_EXPR.match(source)
        if single is not None:
            return ("expr", env.compile_expression(single.group("expr"), undefined_to_none=False))
        return ("template", jinjabudget.instrument(env, source))
    except TemplateSyntaxError as exc:
        return ("error", f"invalid template {source!r}: {exc.message}")


@functools.lru_cache(maxsize=1024)
def _names_of(source: str) -> frozenset[str] | None:
    from jinja2 import TemplateSyntaxError, meta

    try:
        return frozenset(meta.find_undeclared_variables(_environment().parse(source)))
    except TemplateSyntaxError:
        return None


def referenced_names(value: Any) -> frozenset[str] | None:
    """The top-level names the templates in ``value`` read (``peer`` for
    ``{{ peer.mlflow.version }}``); None when one does not parse."""
    names: set[str] = set()
    for source in strings(value):
        if not is_template(source):
            continue
        found = _names_of(source)
        if found is None:
            return None
        names |= found
    return frozenset(names)


def syntax_error(source: str) -> str | None:
    """Why ``source`` is not a valid template, or None (imports jinja2)."""
    how, compiled = _compiled(source)
    return str(compiled) if how == "error" else None


def _path_of(target: Any, context: Mapping[str, Any]) -> str | None:
    """The dotted path of the mapping ``target`` (by identity) inside ``context``."""
    stack: list[tuple[str, Any]] = [(k, v) for k, v in context.items()]
    seen = 0
    while stack and seen < 100_000:  # bounded: fact documents are trees, but be safe
        path, node = stack.pop()
        seen += 1
        if node is target:
            return path
        if isinstance(node, Mapping):
            stack.extend((f"{path}.{k}", v) for k, v in node.items())
    return None


def _missing_path(exc: _MissingFact, context: Mapping[str, Any]) -> str | None:
    if exc.name is None:
        return None
    from jinja2.utils import missing

    if exc.obj is missing:
        return str(exc.name)
    parent = _path_of(exc.obj, context) if isinstance(exc.obj, Mapping) else None
    return f"{parent}.{exc.name}" if parent is not None else None


_QUOTED = re.compile(r"'([^']*)'")
_JINJA_WORDS = frozenset({"dict object", "list object", "str object", "int object",
                          "NoneType object", "float object", "bool object", "tuple object"})


def _own_words(word: str, source: str) -> bool:
    return all(part in source for part in word.split("."))


def _quoting_own_words(exc: Exception, source: str) -> str:
    """``exc``'s message when every word it quotes is written in the template, else only
    its type: a message may quote a value the template computed (a secret)."""
    msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    quoted = [q for q in _QUOTED.findall(msg) if q not in _JINJA_WORDS]
    if msg and all(q in source for q in quoted):
        return msg
    return f"{type(exc).__name__} (naming a value, not shown)"


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every template in it rendered against ``context``.

    Raises :class:`TemplateProblem` when a template reads an absent fact or fails.
    """
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, Mapping):
        return {k: render(v, context) for k, v in value.items()}
    if not is_template(value):
        return value
    from jinja2 import TemplateError, Undefined, UndefinedError
    from jinja2.exceptions import SecurityError

    how, compiled = _compiled(value)
    if how == "error":
        raise TemplateProblem(compiled)
    try:
        with jinjabudget.render_budget():
            if how == "expr":
                result = compiled(**context)
                if isinstance(result, Undefined):
                    result._fail_with_undefined_error()
                return jinjabudget.check_size(result)
            return compiled.render(**context)
    except jinjabudget.BudgetExceeded as exc:
        raise TemplateProblem(f"cannot render {value!r}: {exc}") from None
    except _MissingFact as exc:
        path = _missing_path(exc, context)
        if path is not None and _own_words(path, value):
            raise TemplateProblem(f"{path} is absent (read by {value!r})", missing=path) \
                from None
        if exc.name is not None and not _own_words(str(exc.name), value):
            # {{ {}[vars.db_password] }}: the missing name is a value, maybe a secret
            raise TemplateProblem(f"{value!r} reads a name computed from a value, which is "
                                  "not defined") from None
        raise TemplateProblem(f"{value!r} reads {exc.name!r}, which is not defined") from None
    except SecurityError as exc:
        raise TemplateProblem(f"{value!r} is not allowed in the sandbox: "
                              f"{_quoting_own_words(exc, value)}") from None
    except (TemplateError, UndefinedError) as exc:
        raise TemplateProblem(f"cannot render {value!r}: {_quoting_own_words(exc, value)}") \
            from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # their messages quote values (int('s3cret')): only the type is shown
        raise TemplateProblem(f"cannot render {value!r}: {type(exc).__name__}") from None
