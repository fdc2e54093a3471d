"""Budgets for the two Jinja sandboxes (inventory values and policy templates).

Jinja's sandbox stops a template from calling into Python, not from exhausting the
machine: ``{{ 'x' * 10**9 }}``, ``{{ '%999999999d' % 1 }}``, ``{{ 'a' | center(10**9) }}``,
nested loops, or a namespace doubled in a loop each take gigabytes or hours. Every render
through Jinja therefore counts against:

- :data:`MAX_TEXT`: the length of any string, list or mapping an operation produces, and of
  a template's whole output (checked *before* the big ones are built where the size is
  known in advance: repetition, widths, joins, replacements);
- :data:`MAX_ITERATIONS`: loop iterations of one render (nested loops multiply);
- :data:`MAX_INT_BITS`: the size of an integer ``*`` or ``**`` would build;
- :data:`MAX_WIDTH`: a field width or indent in formatting.

Exceeding one raises :class:`BudgetExceeded`: the inventory value stays unresolved with that
reason; a policy template problem names it. Plain ``{{ name }}`` inventory templates are
rendered without Jinja (see ``inventory/jinja.py``) and never pay for any of this.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

MAX_TEXT = 1_000_000
MAX_ITERATIONS = 100_000
MAX_INT_BITS = 14_000  # about 4,200 digits: Python prints no int past 4,300 digits
MAX_WIDTH = 10_000

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:[^{}]*?(\d+|\{)")


class BudgetExceeded(Exception):
    """A template went over a budget; the message names which, never a value."""


class _State:
    __slots__ = ("depth", "iterations", "output")

    def __init__(self) -> None:
        self.depth = 0
        self.iterations = 0
        self.output = 0


_STATE = _State()


class render_budget:
    """One top-level render: counters start at zero (nested renders share them)."""

    def __enter__(self) -> None:
        if _STATE.depth == 0:
            _STATE.iterations = 0
            _STATE.output = 0
        _STATE.depth += 1

    def __exit__(self, *_exc: object) -> None:
        _STATE.depth -= 1


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def check_size(value: Any, what: str = "a value") -> Any:
    if _size(value) > MAX_TEXT:
        raise BudgetExceeded(f"{what} longer than {MAX_TEXT} would be built")
    return value


def _int_too_big(left: Any, right: Any, op: str) -> bool:
    if not (isinstance(left, int) and isinstance(right, int)):
        return False
    if op == "**":
        return right > 0 and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS
    return left.bit_length() + right.bit_length() > MAX_INT_BITS


def _check_percent(fmt: str, args: Any) -> None:
    star = False
    for m in _PERCENT_SPEC.finditer(fmt):
        for part in m.groups():
            if part == "*":
                star = True
            elif part is not None and int(part) > MAX_WIDTH:
                raise BudgetExceeded(f"a format width over {MAX_WIDTH}")
    values = args if isinstance(args, tuple) else (args,)
    if star and any(isinstance(v, int) and abs(v) > MAX_WIDTH for v in values):
        raise BudgetExceeded(f"a format width over {MAX_WIDTH}")


def _check_brace(fmt: str, args: Iterable[Any]) -> None:
    for m in _BRACE_SPEC.finditer(fmt):
        part = m.group(1)
        if part == "{":
            if any(isinstance(v, int) and abs(v) > MAX_WIDTH for v in args):
                raise BudgetExceeded(f"a format width over {MAX_WIDTH}")
        elif int(part) > MAX_WIDTH:
            raise BudgetExceeded(f"a format width over {MAX_WIDTH}")


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be over budget, before computing it."""
    if op in ("*", "**") and _int_too_big(left, right, op):
        raise BudgetExceeded(f"an integer over {MAX_INT_BITS} bits would be built")
    if op == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(n, int) and not isinstance(n, bool) and _size(seq) * n > MAX_TEXT:
                raise BudgetExceeded(f"a repetition longer than {MAX_TEXT} would be built")
    elif op == "+":
        if _size(left) + _size(right) > MAX_TEXT:
            raise BudgetExceeded(f"a value longer than {MAX_TEXT} would be built")
    elif op == "%" and isinstance(left, str):
        _check_percent(left, right)


def _width_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
    return kwargs.get(name, args[0] if args else None)


def _check_replace(value: Any, args: tuple[Any, ...]) -> None:
    if len(args) < 2 or not isinstance(value, str):
        return
    old, new = str(args[0]), str(args[1])
    hits = value.count(old) if old else len(value) + 1
    if len(value) + hits * max(0, len(new) - len(old)) > MAX_TEXT:
        raise BudgetExceeded(f"a replacement longer than {MAX_TEXT} would be built")


def _check_join(sep: Any, items: Any) -> None:
    if isinstance(items, Sized) and _size(sep) * len(items) > MAX_TEXT:
        raise BudgetExceeded(f"a join longer than {MAX_TEXT} would be built")


def check_call(name: str, obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Pre-checks for str methods and filters whose result size an argument sets."""
    if name in ("center", "ljust", "rjust", "zfill", "indent", "wordwrap", "truncate"):
        width = _width_arg(args, kwargs, "width")
        if isinstance(width, int) and abs(width) > MAX_WIDTH:
            raise BudgetExceeded(f"a width over {MAX_WIDTH}")
    elif name in ("to_json", "to_nice_json", "to_yaml", "to_nice_yaml", "expandtabs"):
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and abs(value) > MAX_WIDTH:
                raise BudgetExceeded(f"an indent over {MAX_WIDTH}")
    elif name == "replace":
        _check_replace(obj, args)
    elif name == "join":
        _check_join(obj, args[0] if args else None)
    elif name in ("format", "format_map") and isinstance(obj, str):
        _check_brace(obj, (*args, *kwargs.values()))


def _pre_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
                ) -> None:
    if name == "join":
        _check_join(args[0] if args else kwargs.get("d", ""), value)
    elif name == "format":
        if isinstance(value, str):
            _check_percent(value, tuple(args) or tuple(kwargs.values()))
    else:
        check_call(name, value, args, kwargs)


def checked_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the pre-check for its size arguments and a check of its result."""
    mark = getattr(fn, "jinja_pass_arg", None)
    if mark is None:
        def run(value: Any, *args: Any, **kwargs: Any) -> Any:
            _pre_filter(name, value, args, kwargs)
            return check_size(fn(value, *args, **kwargs), f"the result of '{name}'")

        return run

    # pass_context/pass_environment/pass_eval_context: Jinja passes one more argument first
    def run_passing(first: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        _pre_filter(name, value, args, kwargs)
        return check_size(fn(first, value, *args, **kwargs), f"the result of '{name}'")

    run_passing.jinja_pass_arg = mark  # type: ignore[attr-defined]
    return run_passing


def budget_iter(iterable: Any) -> Iterator[Any]:
    """What a ``{% for %}`` loop iterates: counted against :data:`MAX_ITERATIONS`."""
    state = _STATE
    for item in iterable:
        state.iterations += 1
        if state.iterations > MAX_ITERATIONS:
            raise BudgetExceeded(f"more than {MAX_ITERATIONS} loop iterations")
        yield item


def budget_out(value: Any) -> Any:
    """A piece of a template's output, counted against :data:`MAX_TEXT`."""
    if value is not None:
        state = _STATE
        state.output += len(value) if isinstance(value, str) else 8
        if state.output > MAX_TEXT:
            raise BudgetExceeded(f"an output longer than {MAX_TEXT}")
    return value


def budget_value(value: Any) -> Any:
    return check_size(value)


def instrument(env: Any, source: str) -> Any:
    """The template of ``source``, compiled with its loops, outputs, concatenations and
    assignments counted (see the module docstring)."""
    from jinja2 import nodes

    tree = env.parse(source)

    def call(fn: str, node: Any) -> Any:
        return nodes.Call(nodes.Name(fn, "load"), [node], [], None, None,
                          lineno=node.lineno)

    for loop in tree.find_all(nodes.For):
        loop.iter = call("_budget_iter", loop.iter)
    for out in tree.find_all(nodes.Output):
        out.nodes = [call("_budget_out", nodes.Const(n.data, lineno=n.lineno))
                     if isinstance(n, nodes.TemplateData) else call("_budget_out", n)
                     for n in out.nodes]
    for assign in tree.find_all(nodes.Assign):
        assign.node = call("_budget_value", assign.node)
    for concat in list(tree.find_all(nodes.Concat)):
        # ~ builds a string from bounded parts: check what it built before it is used
        concat.nodes = [call("_budget_value", n) for n in concat.nodes]
    return env.from_string(tree)


def install(env: Any) -> None:
    """Give ``env`` the budget helpers and the checked filters (call once per env)."""
    from jinja2.utils import Namespace

    class BudgetNamespace(Namespace):
        # {% set ns.x = ns.x ~ ns.x %} in a loop doubles a string each time
        def __setitem__(self, name: str, value: Any) -> None:
            super().__setitem__(name, check_size(value))

    env.globals["_budget_iter"] = budget_iter
    env.globals["_budget_out"] = budget_out
    env.globals["_budget_value"] = budget_value
    env.globals["namespace"] = BudgetNamespace
    for name, fn in list(env.filters.items()):
        env.filters[name] = checked_filter(name.rsplit(".", 1)[-1], fn)


class BudgetedSandbox:
    """Mixed into a sandboxed environment class: arithmetic and method calls on budget."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)  # type: ignore[misc]
        return check_size(result)

    def wrap_str_format(self, value: Any) -> Any:
        # Jinja hands out its own sandboxed str.format when the attribute is read
        wrapped = super().wrap_str_format(value)  # type: ignore[misc]
        if wrapped is None:
            return None
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> Any:
            _check_brace(text, (*args, *kwargs.values(),
                                *(v for a in args if isinstance(a, Mapping) for v in a.values())))
            return check_size(wrapped(*args, **kwargs))

        return checked

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, (str, bytes)):
            check_call(name, owner, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)  # type: ignore[misc]
        return check_size(result)
