"""Evaluating a :class:`Condition` against one fact of one host (policy-language.md, 5).

Three outcomes per operator: it holds, it fails (a violation), or it cannot be decided here
(*skipped*: the fact, or a fact a template reads, is unavailable in this mode; or the value
is vault-encrypted and the operator needs the plaintext). Operators of one condition and
``all_of`` combine as AND (a failure wins over a skip), ``any_of`` as OR (a pass wins),
``not`` swaps pass and fail and keeps a skip.

Absence: on an absent fact every operator but ``required`` / ``forbidden`` holds
vacuously, so ``not: {equals: X}`` fails on an absent fact while ``not_equals: X`` holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from mlflow_policy.core import HostFacts, VaultedValue
from mlflow_policy.facts.lookup import lookup, unavailable_reason, vaulted_at
from mlflow_policy.policy import operators as ops
from mlflow_policy.policy.models import Condition
from mlflow_policy.policy.templating import (
    TemplateProblem,
    has_template,
    referenced_names,
    render,
)
from mlflow_policy.secrets import LeavesCache, reveals_secret


class CheckResult(NamedTuple):
    """A named tuple: one is made per (rule, host, fact) checked."""

    ok: bool  # the condition holds
    expected: str  # "matches '^https://'", "required", "one of ['a', 'b']"
    actual: Any  # the value seen (None when absent); reporters mask secrets
    # the message, or (for a pass, whose message is rarely read) how to make it
    text: str | Callable[[], str]
    skipped: str | None = None  # why, when this mode cannot decide (ok is then False)

    @property
    def message(self) -> str:
        """ "env.X is 'http://..', expected to match '^https://'" """
        return self.text if isinstance(self.text, str) else self.text()


State = Literal["pass", "fail", "skip"]


class _Verdict(NamedTuple):
    state: State
    expected: str  # short form of what was required
    message: str  # for fail: the whole sentence; for skip: the reason; for pass: ""


class ConditionMemo:
    """What checking conditions across a fleet computes once and reuses, for one run: the
    engine's :class:`~mlflow_policy.rules.base.RuleContext` holds one, so nothing
    outlives the run and two runs in one program (threads included) share nothing.
    Without a memo (``check(..., memo=None)``) everything is computed afresh.

    Keys use the ``id()`` of conditions and of what templates read; every entry holds
    those objects, so no id can be reused while the memo lives. The tables are bounded
    (cleared when full): a run over a huge fleet must not grow them without end.
    """

    __slots__ = ("absent", "leaves", "reads", "renders", "texts", "verdicts")

    def __init__(self) -> None:
        # see _verdict_key: (id(cond), fact, value...) -> (cond, read, verdict)
        self.verdicts: dict[tuple[Any, ...], tuple[Condition, tuple[Any, ...], _Verdict]] = {}
        # id(cond) -> (cond, the names its templates read: empty for none, None for anything)
        self.reads: dict[int, tuple[Condition, frozenset[str] | None]] = {}
        # see _render_for: (id(template), ids of what it read) -> (template, read, outcome)
        self.renders: dict[tuple[int, tuple[int, ...]], tuple[Any, tuple[Any, ...], Any]] = {}
        # id(cond) -> (cond, describe(cond), {op: short text})
        self.texts: dict[int, tuple[Condition, str, dict[str, str]]] = {}
        # (id(cond), fact path) -> (cond, the result for an absent fact: host-independent)
        self.absent: dict[tuple[int, str], tuple[Condition, CheckResult]] = {}
        # id(host facts) -> (the facts, the secret texts a template must not print)
        self.leaves: LeavesCache = {}


class _Subject(NamedTuple):
    path: str
    present: bool
    value: Any
    facts: HostFacts
    extra: Mapping[str, Any] | None
    memo: ConditionMemo | None

    @property
    def shown(self) -> str:
        if not self.present:
            return "absent"
        return ops.show_value(self.value, self.path, self.facts)

    def context(self) -> dict[str, Any]:
        ctx = dict(self.facts.facts)
        if self.extra:
            ctx.update(self.extra)
        return ctx


@dataclass(frozen=True)
class _PassText:
    """A pass's message, made when read (equal when made from equal inputs)."""

    subject: _Subject
    expected: str

    def __call__(self) -> str:
        return f"{self.subject.path} is {self.subject.shown}, as expected ({self.expected})"


def check(cond: Condition, facts: HostFacts, path: str, *,
          extra: Mapping[str, Any] | None = None,
          memo: ConditionMemo | None = None) -> CheckResult:
    """Whether ``cond`` holds for the fact ``path`` of the host ``facts``. ``memo``: the
    run's, to reuse what other hosts computed (see :class:`ConditionMemo`)."""
    found = lookup(facts, path)
    if found.unavailable is not None:
        reason = found.unavailable
        return CheckResult(
            ok=False, expected=_texts(cond, memo)[1], actual=None,
            text=f"{path} is unavailable ({reason}); not checked", skipped=reason,
        )
    if found.present or memo is None:
        return check_value(cond, found.present, found.value, path, facts, extra=extra,
                           memo=memo)
    # An absent fact's verdict depends on the condition and the path only (operators hold
    # vacuously before any template is rendered or vaulted-ness is asked): a pack that names
    # many optional variables checks each of them, absent, on every host.
    hit = memo.absent.get((id(cond), path))
    if hit is not None and hit[0] is cond:
        return hit[1]
    res = check_value(cond, False, None, path, facts, extra=extra, memo=memo)
    if len(memo.absent) > 65536:
        memo.absent.clear()
    memo.absent[(id(cond), path)] = (cond, res)
    return res


def check_value(cond: Condition, present: bool, value: Any, path: str, facts: HostFacts, *,
                extra: Mapping[str, Any] | None = None,
                memo: ConditionMemo | None = None) -> CheckResult:
    """Like :func:`check`, for a value the caller already looked up (or computed)."""
    subject = _Subject(path, present, value, facts, extra, memo)
    keyed = _verdict_key(cond, subject, memo) if memo is not None else None
    if memo is None or keyed is None:
        verdict = _condition(cond, subject)
    else:
        key, read = keyed
        verdicts = memo.verdicts
        hit = verdicts.get(key)
        if hit is not None and hit[0] is cond and _same(hit[1], read):
            verdict = hit[2]
        else:
            verdict = _condition(cond, subject)
            if len(verdicts) > 262_144:
                verdicts.clear()
            verdicts[key] = (cond, read, verdict)
    actual = value if present else None
    if verdict.state == "pass":
        # showing the value (masked) costs more than checking it: only when read
        return CheckResult(ok=True, expected=verdict.expected, actual=actual,
                           text=_PassText(subject, verdict.expected))
    if verdict.state == "skip":
        return CheckResult(ok=False, expected=verdict.expected, actual=actual,
                           text=f"{path}: {_not_checked(verdict.message)}",
                           skipped=verdict.message)
    return CheckResult(ok=False, expected=verdict.expected, actual=actual,
                       text=verdict.message)


# A fleet's hosts mostly share their values (one MLflow version, one tracking URI per
# team), so a condition's verdict is computed once per distinct (condition, fact, value).
# That is exact only when nothing else is read: a plain scalar value; templates in the
# condition that read only what the caller passed in ``extra`` (the peer's facts: part
# of the key by identity), never the host's own facts; and the one thing of the host a
# verdict shows, whether the path is vaulted there. The condition and what its templates
# read are held with the verdict (ConditionMemo.verdicts), so ids are not reused while
# cached.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _verdict_key(cond: Condition, subject: _Subject, memo: ConditionMemo
                 ) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    path, present, value, facts, extra, _ = subject
    kind = type(value)
    if kind not in _SCALARS:
        return None
    reads = memo.reads.get(id(cond))
    if reads is None or reads[0] is not cond:
        if len(memo.reads) > 65536:
            memo.reads.clear()
        reads = memo.reads[id(cond)] = (cond, _template_names(cond))
    names = reads[1]
    if names is None:
        return None
    read: tuple[Any, ...] = ()
    if names:
        if extra is None or not names <= extra.keys():
            return None
        read = tuple(extra[n] for n in sorted(names))
    vaulted = vaulted_at(facts, path)
    if kind is float:
        value = repr(value)  # -0.0 == 0.0, but messages show them apart
    return (id(cond), path, present, kind, value, vaulted, *map(id, read)), read


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _template_names(cond: Condition) -> frozenset[str] | None:
    """The names the templates of ``cond`` read; None when one does not parse."""
    names: set[str] = set()
    for op in cond.operators:
        arg = cond.arg(op)
        subs = arg if op in ("all_of", "any_of") else [arg] if op == "not" else None
        if subs is not None:
            for sub in subs:
                found = _template_names(sub)
                if found is None:
                    return None
                names |= found
        elif has_template(arg):
            found = referenced_names(arg)
            if found is None:
                return None
            names |= found
    return frozenset(names)


def _render_for(raw: Any, subject: _Subject) -> Any:
    """Renders of templates that read only what the caller passed in ``extra`` (the peer's
    facts) are memoised, keyed by the identity of what they read: thousands of clients
    share one server."""
    extra, memo = subject.extra, subject.memo
    names = referenced_names(raw) if extra and memo is not None else None
    if not names or extra is None or memo is None or not names <= extra.keys():
        return render(raw, subject.context())
    renders = memo.renders
    read = tuple(extra[n] for n in sorted(names))
    key = (id(raw), tuple(map(id, read)))
    hit = renders.get(key)
    if hit is None or hit[0] is not raw or any(a is not b for a, b in zip(hit[1], read,
                                                                           strict=True)):
        try:
            outcome: Any = render(raw, subject.context())
        except TemplateProblem as problem:
            outcome = problem
        if len(renders) > 65536:
            renders.clear()
        hit = renders[key] = (raw, read, outcome)
    if isinstance(hit[2], TemplateProblem):
        # the same problem for every host; a fresh traceback each time, not a growing one
        raise hit[2].with_traceback(None)
    return hit[2]


def _texts(cond: Condition, memo: ConditionMemo | None
           ) -> tuple[Condition, str, dict[str, str]]:
    """(cond, describe(cond), {op: short text}): they depend on the condition alone, so a
    run makes them once per condition (in its memo) instead of once per host."""
    hit = memo.texts.get(id(cond)) if memo is not None else None
    if hit is None or hit[0] is not cond:
        shorts = {op: ops.short(op, _describe_arg(cond, op, memo)) for op in cond.operators}
        hit = (cond, ", ".join(shorts.values()), shorts)
        if memo is not None:
            if len(memo.texts) > 65536:
                memo.texts.clear()
            memo.texts[id(cond)] = hit
    return hit


def describe(cond: Condition) -> str:
    """The whole condition, short: ``required, matches '^https://'``."""
    return _texts(cond, None)[1]


def _describe_arg(cond: Condition, op: str, memo: ConditionMemo | None) -> Any:
    arg = cond.arg(op)
    if op in ("all_of", "any_of"):
        return [_texts(c, memo)[1] for c in arg]
    if op == "not":
        return _texts(arg, memo)[1]
    return arg


def _combine_and(verdicts: list[_Verdict], expected: str) -> _Verdict:
    for v in verdicts:
        if v.state == "fail":
            return v
    for v in verdicts:
        if v.state == "skip":
            return _Verdict("skip", expected, v.message)
    return _Verdict("pass", expected, "")


def _condition(cond: Condition, subject: _Subject) -> _Verdict:
    verdicts: list[_Verdict] = []
    for op, expected in _texts(cond, subject.memo)[2].items():
        v = _operator(cond, op, expected, subject)
        if v.state == "fail":
            return v  # operators are checked in a fixed order: the first failure is named
        verdicts.append(v)
    # each operator's own expected text has its templates rendered for this host
    return _combine_and(verdicts, ", ".join(v.expected for v in verdicts))


def _fail(subject: _Subject, expected: str, phrase: str, what: str | None = None) -> _Verdict:
    shown = what if what is not None else subject.shown
    return _Verdict("fail", expected, f"{subject.path} is {shown}, expected {phrase}")


def _operator(cond: Condition, op: str, expected: str, subject: _Subject) -> _Verdict:
    if op == "required":
        return _Verdict("pass", expected, "") if subject.present else \
            _fail(subject, expected, "to be set")
    if op == "forbidden":
        return _fail(subject, expected, "to be absent") if subject.present else \
            _Verdict("pass", expected, "")
    if op in ("all_of", "any_of", "not"):
        return _combinator(cond, op, subject, expected)
    if not subject.present:
        return _Verdict("pass", expected, "")  # absence: holds vacuously
    raw = cond.arg(op)
    shown = raw  # the argument as messages may show it
    if has_template(raw):
        try:
            rendered = _render_for(raw, subject)
        except TemplateProblem as problem:
            return _template_problem(problem, subject, op, expected)
        # A template that reads a secret-named fact must not print what it rendered.
        shown = ops.MASKED if ops.mentions_secret(raw) or reveals_secret(
            rendered, subject.facts,
            subject.memo.leaves if subject.memo is not None else None) else rendered
        raw = rendered
        expected = ops.short(op, shown)
        if shown is ops.MASKED and op not in ("type", "vaulted"):
            # The argument is secret material: comparing a fact with it would let a policy
            # test guesses at the secret (put the guess in a fact, read pass or fail).
            return _Verdict("skip", expected, f"not checked: vaulted (the argument of '{op}' "
                                              "is rendered from a secret)")
    value = subject.value
    # Plaintext decrypted from a vault file (or rendered from one) is as opaque to rules as
    # an inline !vault value: with the password or without it, only the operators the
    # language allows on vaulted values read it, so a policy cannot test guesses at it.
    decrypted = not isinstance(value, VaultedValue) and vaulted_at(subject.facts, subject.path)
    secret = decrypted or isinstance(value, VaultedValue)
    if secret and op in _REDACTED_OK:
        # The scheme of postgresql://mlflow:***@db/mlflow does not depend on the secret.
        redacted = ops.redacted_text(value)
        if redacted is not None:
            value, secret = redacted, False
    if op == "type" and decrypted:
        secret = False  # the type of a decrypted value is what Ansible would deploy
    if secret and op not in ("type", "vaulted"):
        return _Verdict("skip", expected,
                        f"not checked: vaulted ('{op}' does not read vault-encrypted values)")
    if op == "vaulted":
        vaulted = secret or vaulted_at(subject.facts, subject.path)
        return _Verdict("pass", expected, "") if vaulted is bool(raw) else \
            _fail(subject, expected, ops.phrase(op, raw))
    outcome = ops.evaluate(op, raw, value)
    if outcome.problem is not None:
        why = outcome.problem if shown is not ops.MASKED else \
            "the rendered value does not fit the operator"
        return _Verdict("fail", expected, f"{subject.path}: cannot check '{op}': {why}")
    if outcome.holds:
        return _Verdict("pass", expected, "")
    what = None
    if outcome.mismatch is not None:
        what = f"{subject.shown} ({outcome.mismatch})"
    return _fail(subject, expected, ops.phrase(op, shown), what)


def _combinator(cond: Condition, op: str, subject: _Subject, expected: str) -> _Verdict:
    if op == "not":
        inner = _condition(cond.arg(op), subject)
        if inner.state == "skip":
            return _Verdict("skip", expected, inner.message)
        if inner.state == "fail":
            return _Verdict("pass", expected, "")
        return _fail(subject, expected, f"not to satisfy: {inner.expected}")
    members = [_condition(c, subject) for c in cond.arg(op)]
    if op == "all_of":
        v = _combine_and(members, expected)
        return v if v.state != "fail" else _Verdict("fail", expected, v.message)
    if any(m.state == "pass" for m in members):
        return _Verdict("pass", expected, "")
    skipped = next((m for m in members if m.state == "skip"), None)
    if skipped is not None:
        return _Verdict("skip", expected, skipped.message)
    return _fail(subject, expected, "any of: " + "; or ".join(m.expected for m in members))


def _template_problem(problem: TemplateProblem, subject: _Subject, op: str,
                      expected: str) -> _Verdict:
    """A template in ``op``'s value could not be rendered for this host: a violation naming
    the missing fact, or a skip when that fact is unavailable in this mode."""
    if problem.missing is not None:
        reason = unavailable_reason(subject.facts, problem.missing)
        if reason is not None:
            return _Verdict("skip", expected,
                            f"'{op}' reads {problem.missing}, which is unavailable ({reason})")
        return _Verdict("fail", expected,
                        f"{subject.path}: cannot check '{op}': {problem.message}")
    return _Verdict("fail", expected, f"{subject.path}: cannot check '{op}': {problem.message}")


_REDACTED_OK = frozenset({"scheme", "not_scheme"})


def _not_checked(message: str) -> str:
    """A skip's text: "not checked: vaulted (...)" is a tag of its own; other reasons
    follow "not checked, "."""
    return message if message.startswith("not checked:") else f"not checked, {message}"
