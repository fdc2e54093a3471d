"""``remediate --apply``: run the rendered ``playbook.yml`` through ansible-runner.

First in check mode with ``--diff`` (the diff is shown, secrets masked), then for real only
with ``--yes`` or after a y/N confirmation on a terminal; then a live re-check of the
remediated hosts. The run itself is live gathering's (``live.driver.run_private``): the
user's inventory handed to Ansible as it is, the user's ansible.cfg and host key checking,
a private 0700 temporary directory for runner (its artifacts hold the whole environment and
every task result) removed when the run ends, also on Ctrl-C, and an event handler that
returns False so that nothing is written to ``job_events/``.

What a run saw is kept as small records (:class:`Seen`) and turned into the per-host recap,
the changes and the errors by pure functions, tested on recorded events too.

ansible-runner and Ansible are imported only inside :func:`run_playbook`.
"""

from __future__ import annotations

import difflib
import json
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO

from mlflow_policy.errors import PolicyError, UsageError

if TYPE_CHECKING:
    from mlflow_policy.core import HostFacts
    from mlflow_policy.findings import Finding, Result

DEFAULT_TASK_TIMEOUT = 900  # seconds one task may run on one host (a pip install, slow)
TERMINAL = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")
MESSAGES = ("error", "verbose", "warning", "playbook_on_no_hosts_matched")
# the keys of a module result the recap and the diff need (the rest may be large, or hold
# what a module printed: never kept)
_KEPT = ("changed", "diff", "msg", "results", "skipped", "failed", "unreachable",
         "censored", "skip_reason")


class ApplyError(PolicyError):
    """The playbook could not be run at all (no Ansible, Ansible refused it): exit 2."""


@dataclass(frozen=True)
class ApplyOptions:
    """Ansible's knobs for the apply runs.

    ``timeout``: connecting to a host (seconds, Ansible's connection timeout).
    ``task_timeout``: one task on one host (a pip install takes a while).
    """

    forks: int = 10
    timeout: int = 30
    task_timeout: int = DEFAULT_TASK_TIMEOUT
    limit: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostRecap:
    """A host's line of Ansible's PLAY RECAP."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0

    def to_json(self) -> dict[str, int]:
        return {"changed": self.changed, "ok": self.ok, "failed": self.failed,
                "unreachable": self.unreachable}


@dataclass(frozen=True)
class Change:
    """A task that changed (or, in check mode, would change) a host; ``diff`` is the
    unified diff Ansible returned, secrets masked ("" when the module gives none)."""

    host: str
    task: str
    diff: str


@dataclass(frozen=True)
class HostError:
    host: str
    task: str
    message: str  # masked
    unreachable: bool


@dataclass
class Seen:
    """What the event handler kept (it runs on runner's thread: appends only)."""

    events: list[tuple[str, str, str, dict[str, Any], bool]] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlaybookRun:
    """One ansible-playbook run: its status, every host's recap, changes and errors."""

    check: bool
    status: str
    rc: int | None
    hosts: Mapping[str, HostRecap]
    changes: tuple[Change, ...]
    errors: tuple[HostError, ...]
    messages: tuple[str, ...]

    @property
    def bad_hosts(self) -> list[str]:
        return sorted(h for h, r in self.hosts.items() if r.failed or r.unreachable)

    @property
    def changed(self) -> int:
        return sum(r.changed for r in self.hosts.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "hosts": {h: r.to_json() for h, r in sorted(self.hosts.items())},
            "changes": [{"host": c.host, "task": c.task, "diff": c.diff}
                        for c in self.changes],
            "errors": [{"host": e.host, "task": e.task, "message": e.message,
                        "unreachable": e.unreachable} for e in self.errors],
        }


Stopped = Literal["check-failed", "no-terminal", "declined", "nothing-to-do"]


@dataclass(frozen=True)
class ApplyOutcome:
    """The whole ``--apply``: the check run, the real one (None when it did not happen and
    ``stopped`` says why), the re-check and the remediated findings it still finds."""

    check_run: PlaybookRun
    real_run: PlaybookRun | None
    stopped: Stopped | None
    hosts: tuple[str, ...]  # the remediated hosts (the playbook's targets)
    recheck: Result | None = None
    remaining: tuple[Finding, ...] = ()
    recheck_error: str | None = None  # the re-check could not run: nothing is known

    @property
    def exit_code(self) -> int:
        """0: applied, and the re-check finds none of the remediated findings; 1: findings
        remain (not applied, declined, a host failed, or the re-check still finds them);
        2: no terminal to confirm on and no --yes."""
        if self.stopped == "no-terminal":
            return 2
        if self.stopped == "nothing-to-do":
            return 1 if self.remaining else 0
        if self.stopped is not None or self.real_run is None:
            return 1
        if self.real_run.bad_hosts or self.real_run.status != "successful":
            return 1
        if self.recheck_error is not None:
            return 1
        return 1 if self.remaining else 0

    def to_json(self) -> dict[str, Any]:
        """The ``apply`` member of the JSON report: ``hosts`` holds the real run's recap
        (the check run's when nothing was applied), ``applied`` says which."""
        shown = self.real_run or self.check_run
        out: dict[str, Any] = {
            "applied": self.real_run is not None,
            "stopped": self.stopped,
            "hosts": {h: r.to_json() for h, r in sorted(shown.hosts.items())},
            "check": self.check_run.to_json(),
            "run": self.real_run.to_json() if self.real_run is not None else None,
            "recheck": None,
        }
        if self.recheck_error is not None:
            out["recheck"] = {"hosts": list(self.hosts), "error": self.recheck_error}
        if self.recheck is not None:
            out["recheck"] = {
                "hosts": list(self.hosts),
                "remaining": [_finding_json(f) for f in self.remaining],
                "other_findings": len(self.recheck.findings) - len(self.remaining),
            }
        return out


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "host": f.host, "inventory": f.inventory, "fact": f.fact,
            "message": f.message}


# --- masking --------------------------------------------------------------------------

class Redactor:
    """Masks what a run shows: every known secret text (the remediated hosts' secret
    leaves, longest first) and whatever :func:`mask_text` recognises (credentials in URIs,
    ``NAME=value`` with a secret-sounding name, as env files and drop-ins hold them)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        from mlflow_policy.secrets import MASK, mask_text

        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return "\n".join(mask_text(_env_line(line)) for line in text.split("\n"))


_ENV_LINE = re.compile(r"^(?P<head>[-+ ]?\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=)"
                       r"(?P<value>.*)$")


def _env_line(line: str) -> str:
    """``NAME=value`` (an env-file line, also inside a diff) with a secret name: masked
    whole, whatever quoting the value has."""
    from mlflow_policy.secrets import MASK, is_secret_name

    m = _ENV_LINE.match(line)
    if m and m.group("value") and is_secret_name(m.group("name")):
        return m.group("head") + MASK
    return line


# --- parsing what a run saw (pure) ------------------------------------------------------

def keep_event(seen: Seen, event: Mapping[str, Any]) -> None:
    """Keep what the recap, the changes and the errors need of one runner event."""
    name = str(event.get("event") or "")
    data = event.get("event_data") or {}
    if name in TERMINAL:
        res = data.get("res") or {}
        kept = _kept(res) if isinstance(res, Mapping) else {}
        seen.events.append((name, str(data.get("host")), str(data.get("task") or ""),
                            kept, bool(data.get("ignore_errors"))))
    elif name == "playbook_on_stats":
        seen.stats = {k: dict(v) for k, v in data.items()
                      if k in ("ok", "changed", "failures", "dark", "skipped")
                      and isinstance(v, Mapping)}
    elif name in MESSAGES:
        text = str(event.get("stdout") or "").strip()
        if text and len(seen.messages) < 50:
            seen.messages.append(text)


def _kept(res: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: res[k] for k in _KEPT if k in res}
    if isinstance(kept.get("results"), list):  # a loop's items: the same keys of each
        kept["results"] = [_kept(i) for i in kept["results"] if isinstance(i, Mapping)]
    return kept


def recap(stats: Mapping[str, Mapping[str, int]] | None,
          expected: Iterable[str] = ()) -> dict[str, HostRecap]:
    """Per-host counters from ``playbook_on_stats`` (Ansible calls unreachable ``dark``);
    an expected host the stats never name was not reached at all: unreachable."""
    stats = stats or {}
    named: set[str] = set()
    for counters in stats.values():
        named.update(counters)
    out = {}
    for host in sorted(named | set(expected)):
        if host not in named:
            out[host] = HostRecap(unreachable=1)
            continue
        out[host] = HostRecap(
            ok=int(stats.get("ok", {}).get(host, 0)),
            changed=int(stats.get("changed", {}).get(host, 0)),
            failed=int(stats.get("failures", {}).get(host, 0)),
            unreachable=int(stats.get("dark", {}).get(host, 0)),
            skipped=int(stats.get("skipped", {}).get(host, 0)))
    return out


def render_diff(diff: Any) -> str:
    """Ansible's ``diff`` result (a mapping or a list of them: ``before``/``after`` with
    their headers, or a ``prepared`` text) as one unified diff."""
    items = diff if isinstance(diff, list) else [diff]
    parts: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if "prepared" in item:
            parts.append(str(item["prepared"]).rstrip("\n"))
            continue
        if "before" not in item and "after" not in item:
            continue
        before, after = _text(item.get("before")), _text(item.get("after"))
        if before == after:
            continue
        lines = difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            fromfile=f"before: {item.get('before_header') or ''}".rstrip(),
            tofile=f"after: {item.get('after_header') or ''}".rstrip())
        parts.append("".join(line if line.endswith("\n") else line + "\n"
                             for line in lines).rstrip("\n"))
    return "\n".join(p for p in parts if p)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value if value.endswith("\n") or not value else value + "\n"
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _results(res: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A looped task's item results, or the task's own."""
    items = res.get("results")
    if isinstance(items, list):
        return [i for i in items if isinstance(i, Mapping)]
    return [res]


def changes_and_errors(seen: Seen, redact: Callable[[str], str]
                       ) -> tuple[list[Change], list[HostError]]:
    changes: list[Change] = []
    errors: list[HostError] = []
    for name, host, task, res, ignored in seen.events:
        if name == "runner_on_ok":
            for item in _results(res):
                if item.get("changed"):
                    changes.append(Change(host, task, redact(render_diff(item.get("diff")))))
        elif name == "runner_on_unreachable" or (name == "runner_on_failed" and not ignored):
            msg = _message(res) or name.removeprefix("runner_on_")
            errors.append(HostError(host, task, redact(msg),
                                    name == "runner_on_unreachable"))
    return changes, errors


def _message(res: Mapping[str, Any]) -> str:
    msg = str(res.get("msg") or "").strip()
    if not msg:
        for item in _results(res):
            if item is not res and (item.get("failed") or item.get("unreachable")):
                msg = str(item.get("msg") or "").strip()
                if msg:
                    break
    return msg


def playbook_run(seen: Seen, *, check: bool, status: str, rc: int | None,
                 expected: Iterable[str], redact: Callable[[str], str]) -> PlaybookRun:
    """The run as reported, from what the handler kept (pure)."""
    expected = list(expected)
    if seen.stats is None and not seen.events:
        detail = "\n".join(seen.messages[-5:])
        raise ApplyError(redact(f"ansible-playbook failed ({status}, rc {rc})"
                                + (f":\n{detail}" if detail else "")))
    hosts = recap(seen.stats, expected)
    changes, errors = changes_and_errors(seen, redact)
    if seen.stats is None:  # the run was cut short (its time limit): no recap line
        hosts = _recap_from_events(seen, expected)
    return PlaybookRun(check=check, status=status, rc=rc, hosts=hosts,
                       changes=tuple(changes), errors=tuple(errors),
                       messages=tuple(redact(m) for m in seen.messages[-5:]))


def _recap_from_events(seen: Seen, expected: list[str]) -> dict[str, HostRecap]:
    counts: dict[str, dict[str, int]] = {h: {} for h in expected}
    for name, host, _task, res, ignored in seen.events:
        c = counts.setdefault(host, {})
        key = {"runner_on_ok": "ok", "runner_on_skipped": "skipped",
               "runner_on_unreachable": "unreachable"}.get(name, "failed")
        if name == "runner_on_failed" and ignored:
            key = "ok"
        c[key] = c.get(key, 0) + 1
        if name == "runner_on_ok" and any(i.get("changed") for i in _results(res)):
            c["changed"] = c.get("changed", 0) + 1
    out = {}
    for host, c in sorted(counts.items()):
        failed = c.get("failed", 0)
        if not failed and not c.get("unreachable"):
            failed = 1  # its run did not end: not known to be remediated
        out[host] = HostRecap(ok=c.get("ok", 0), changed=c.get("changed", 0), failed=failed,
                              unreachable=c.get("unreachable", 0), skipped=c.get("skipped", 0))
    return out


# --- running ---------------------------------------------------------------------------

def run_playbook(playbook: Path, inventories: Sequence[str | Path], *, check: bool,
                 options: ApplyOptions | None = None, expected: Iterable[str] = (),
                 redact: Callable[[str], str] | None = None,
                 tick: Callable[[], None] | None = None) -> PlaybookRun:
    """One ansible-playbook run of ``playbook`` over ``inventories``; ``check`` adds
    ``--check --diff``. ``expected``: the hosts the playbook targets (one Ansible never
    names is reported unreachable)."""
    from mlflow_policy.live import driver

    opts = options or ApplyOptions()
    if opts.forks < 1 or opts.timeout < 1 or opts.task_timeout < 1:
        raise UsageError("--forks, --timeout and the task timeout must be at least 1")
    if not playbook.is_file():
        raise ApplyError(f"playbook not found: {playbook}")
    paths = driver.inventory_paths(inventories, ApplyError)
    ansible_playbook = driver.ansible_playbook(ApplyError, "--apply")
    driver.require_runner(ApplyError)
    redact = redact or Redactor()
    expected = sorted(set(expected))
    seen = Seen()
    lock = threading.Lock()

    def on_event(event: Mapping[str, Any]) -> bool:
        with lock:
            keep_event(seen, event)
        return False  # nothing written to job_events/: results may hold secrets

    envvars = {"ANSIBLE_TIMEOUT": str(opts.timeout),
               "ANSIBLE_TASK_TIMEOUT": str(opts.task_timeout), **opts.extra_env}
    # the whole run's backstop: every batch of forks connects, then runs a few tasks
    batches = max(1, -(-max(1, len(expected)) // opts.forks))
    backstop = batches * (opts.timeout + 4 * opts.task_timeout) + 120
    status, rc = driver.run_private(
        playbook, paths, ansible_playbook=ansible_playbook, prefix="mlflow-policy-apply-",
        ident="check" if check else "apply", limit=opts.limit, forks=opts.forks,
        envvars=envvars, cmdline="--check --diff" if check else None, on_event=on_event,
        timeout=backstop, tick=tick)
    return playbook_run(seen, check=check, status=str(status), rc=rc, expected=expected,
                        redact=redact)


# --- the whole --apply -----------------------------------------------------------------

Confirm = Callable[[str], bool]


class Runner(Protocol):
    def __call__(self, playbook: Path, inventories: Sequence[str | Path], *, check: bool,
                 options: ApplyOptions | None = ..., expected: Iterable[str] = ...,
                 redact: Callable[[str], str] | None = ...) -> PlaybookRun: ...


def terminal_confirm(prompt: str) -> bool:
    """Ask on the terminal (stderr for the question: stdout may carry a report)."""
    import sys

    print(prompt, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def stdin_is_terminal() -> bool:
    import sys

    try:
        return bool(sys.stdin is not None and sys.stdin.isatty())
    except (OSError, ValueError):
        return False


def playbook_hosts(playbook: Path) -> list[str]:
    """The hosts the rendered playbook's plays name (its targets, as rendered: a list)."""
    from mlflow_policy import yamlio

    plays = yamlio.load_file(playbook)
    found: set[str] = set()
    for play in plays if isinstance(plays, list) else ():
        hosts = play.get("hosts") if isinstance(play, Mapping) else None
        if isinstance(hosts, str):
            found.update(h.strip() for h in hosts.split(",") if h.strip())
        elif isinstance(hosts, list):
            found.update(str(h) for h in hosts)
    return sorted(found)


def host_secrets(facts: HostFacts) -> frozenset[str]:
    """Every secret text of a host (its declared and observed facts): masked wherever a
    run shows something, whatever way a module printed it."""
    from dataclasses import replace

    from mlflow_policy.secrets import secret_leaves

    found = set(secret_leaves(facts))
    for doc in (facts.declared, facts.observed):  # live: the declared side is apart
        if doc is not None:
            found |= secret_leaves(replace(facts, facts=doc.values,
                                           vaulted_paths=doc.vaulted, declared_doc=None,
                                           observed=None))
    return frozenset(found)


def covers(covered: Collection[tuple[str, str, str | None]]) -> Callable[[Finding], bool]:
    """A predicate: is a finding one the remediation was for? ``covered`` holds
    (host, rule, fact) triples; a fact of None matches any of the rule's findings."""
    exact = set(covered)
    any_fact = {(h, r) for h, r, f in covered if f is None}

    def check(f: Finding) -> bool:
        host = f.host or ""
        return (host, f.rule, f.fact) in exact or (host, f.rule) in any_fact

    return check


def apply(playbook: Path, inventories: Sequence[str | Path], hosts: Sequence[str], *,
          options: ApplyOptions | None = None, yes: bool = False,
          confirm: Confirm | None = None, is_terminal: Callable[[], bool] = stdin_is_terminal,
          recheck: Callable[[Sequence[str]], Result] | None = None,
          covered: Callable[[Finding], bool] | None = None,
          secrets: Iterable[str] = (), show: TextIO | None = None,
          runner: Runner | None = None) -> ApplyOutcome:
    """Check mode with diff (written to ``show``), confirmation, the real run, the
    re-check of ``hosts`` (the playbook's targets) through ``recheck`` (the pipeline with
    the live source limited to them); findings of the re-check that ``covered`` says the
    remediation was for are the ``remaining`` ones. ``runner``: what runs the playbook
    (:func:`run_playbook`; tests of the decisions alone hand recorded runs in)."""
    import sys

    out = show if show is not None else sys.stdout
    opts = options or ApplyOptions()
    redact = Redactor(secrets)
    targets = tuple(sorted(set(hosts)))
    if not targets:
        return ApplyOutcome(PlaybookRun(True, "successful", 0, {}, (), (), ()), None,
                            "nothing-to-do", targets)
    # no --limit of our own: the play names its hosts (and a host name is a pattern there)
    print("== check mode (--check --diff): what the playbook would change", file=out)
    run = runner or run_playbook
    checked = run(playbook, inventories, check=True, options=opts, expected=targets,
                  redact=redact)
    for line in render_run(checked):
        print(line, file=out)
    out.flush()
    if checked.bad_hosts or checked.status != "successful":
        print(f"not applied: check mode failed on {', '.join(checked.bad_hosts) or 'the run'}"
              " (nothing was changed on any host)", file=out)
        return ApplyOutcome(checked, None, "check-failed", targets)
    if not yes:
        if not is_terminal():
            print("not applied: confirm on a terminal, or pass --yes to apply without asking "
                  "(the check run above changed nothing)", file=out)
            return ApplyOutcome(checked, None, "no-terminal", targets)
        ask = confirm or terminal_confirm
        prompt = (f"Apply to {len(targets)} host{'s' if len(targets) != 1 else ''} "
                  f"({checked.changed} change{'s' if checked.changed != 1 else ''} in "
                  "check mode)? [y/N] ")
        if not ask(prompt):
            print("not applied: declined (nothing was changed on any host)", file=out)
            return ApplyOutcome(checked, None, "declined", targets)

    print("== apply", file=out)
    real = run(playbook, inventories, check=False, options=opts, expected=targets,
               redact=redact)
    for line in render_run(real, diffs=False):
        print(line, file=out)
    out.flush()
    if recheck is None:
        return ApplyOutcome(checked, real, None, targets)
    from mlflow_policy.findings import UNREACHABLE

    try:
        result = recheck(targets)
    except PolicyError as exc:  # the hosts are changed all the same: say so, exit 1
        from mlflow_policy.secrets import mask_text

        return ApplyOutcome(checked, real, None, targets,
                            recheck_error=redact(mask_text(str(exc))))
    # a remediated host the re-check could not reach is not known to be fixed
    remaining = tuple(f for f in result.findings if not f.waived and (
        (covered is not None and covered(f))
        or (f.rule == UNREACHABLE and f.host in targets)))
    return ApplyOutcome(checked, real, None, targets, result, remaining)


def render_run(run: PlaybookRun, *, diffs: bool = True) -> Iterator[str]:
    """The text of one run: the changes with their diffs (check mode), the errors, and the
    recap, one line per host."""
    from mlflow_policy.display import escape_controls

    verb = "would change" if run.check else "changed"
    if diffs:
        for c in run.changes:
            yield escape_controls(f"{c.host}: {verb}: {c.task}")
            for line in c.diff.splitlines():
                yield escape_controls("    " + line)
    for e in run.errors:
        kind = "unreachable" if e.unreachable else "failed"
        where = f" ({e.task})" if e.task else ""
        yield escape_controls(f"{e.host}: {kind}{where}: {e.message}")
    if not run.hosts and run.messages:
        for m in run.messages:
            yield escape_controls(m)
    yield f"recap ({'check mode' if run.check else 'applied'}):"
    width = max((len(h) for h in run.hosts), default=0)
    for host, r in sorted(run.hosts.items()):
        yield escape_controls(
            f"  {host.ljust(width)}  changed={r.changed} ok={r.ok} failed={r.failed} "
            f"unreachable={r.unreachable}")


def render_outcome(outcome: ApplyOutcome) -> Iterator[str]:
    """What the re-check found and what the exit code means, after the runs' own text."""
    from mlflow_policy.display import escape_controls

    real = outcome.real_run
    if outcome.stopped == "nothing-to-do":
        yield "apply: nothing to apply (no host needs the playbook)"
    if real is not None and real.bad_hosts:
        yield escape_controls(
            f"apply failed on {', '.join(real.bad_hosts)}: those hosts are not remediated "
            "(see the errors above)")
    elif real is not None and real.status != "successful":
        yield f"apply: ansible-playbook ended {real.status} (rc {real.rc})"
    if outcome.recheck_error is not None:
        yield escape_controls(f"re-check (live) failed: {outcome.recheck_error}; whether the "
                              "remediated findings remain is not known")
    if outcome.recheck is None:
        return
    others = len(outcome.recheck.findings) - len(outcome.remaining)
    other = (f" ({others} other finding{'s' if others != 1 else ''} on these hosts: "
             "check --live lists them)") if others else ""
    if not outcome.remaining:
        yield (f"re-check (live, {len(outcome.hosts)} host"
               f"{'s' if len(outcome.hosts) != 1 else ''}): none of the remediated "
               f"findings remain{other}")
        return
    yield (f"re-check (live): {len(outcome.remaining)} remediated finding"
           f"{'s' if len(outcome.remaining) != 1 else ''} remain{other}:")
    for f in outcome.remaining:
        fact = f" {f.fact}" if f.fact else ""
        yield escape_controls(f"  {f.host}: {f.rule}{fact}: {f.message}")
