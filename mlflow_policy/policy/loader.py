"""Loading policy, waiver and policy-test files into frozen, located objects.

Every problem of every file is collected and raised together as one :class:`InputErrors`
(exit 2), each naming file:line:column, so a user fixes them all in one go.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mlflow_policy import safeio
from mlflow_policy.core import Location
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.policy.factpaths import fact_path_errors
from mlflow_policy.policy.fields import (
    API_VERSION,
    Severity,
)
from mlflow_policy.policy.loadchecks import structural_errors, template_errors
from mlflow_policy.policy.locate import errors_from, excerpt, located
from mlflow_policy.policy.models import (
    KINDS,
    Policy,
    PolicyTest,
    Rule,
    Selector,
    Waiver,
)
from mlflow_policy.safeio import Confinement
from mlflow_policy.yamlio import LocDict, loads_all, read_text

SUFFIXES = (".yml", ".yaml")
# Directories a walk never enters: test fixtures (inventories, vars files) live there, next
# to the PolicyTest documents that name them, e.g. policies/tests/fixtures/ (README,
# "Repository layout"). The pre-commit hooks exclude the same name.
FIXTURE_DIR = "fixtures"
FOREIGN_HINT = ("this file was found in a policy directory but holds no mlflow-policy "
                "document; keep test fixtures under a directory named "
                f"{FIXTURE_DIR}/, which policy directories skip")
_DOCUMENT_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})


@dataclass(frozen=True)
class LoadedRule:
    full_id: str  # "<policy>/<rule id>"
    policy: str
    rule: Rule
    severity: Severity  # the rule's own, else its policy's spec.severity
    policy_match: Selector | None
    location: Location  # where the rule's `id:` is written
    # What its templates read besides the host's facts: {"data": <the policy's spec.data>},
    # or nothing. Rule kinds pass it to conditions as their `extra`.
    template_context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedPolicy:
    name: str
    path: str
    location: Location
    description: str | None
    labels: Mapping[str, str]
    rules: tuple[LoadedRule, ...]


@dataclass(frozen=True)
class LoadedWaiver:
    name: str
    rules: tuple[str, ...]  # full ids or fnmatch globs
    match: Selector | None
    justification: str
    owner: str
    expires: _dt.date  # valid through this day (UTC)
    ticket: str | None
    location: Location
    path: str = ""


@dataclass(frozen=True)
class LoadedTest:
    name: str
    path: str
    location: Location
    policies: tuple[Path, ...]  # resolved against the test file's directory
    inventory: Path
    expect: tuple[dict[str, Any], ...]  # ExpectedFinding fields that were given
    exhaustive: bool


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[LoadedPolicy, ...] = ()
    waivers: tuple[LoadedWaiver, ...] = ()
    tests: tuple[LoadedTest, ...] = ()
    # the config's `rules:` table as applied (policy/ruleconfig.py): every rule it touched,
    # for reports, and its entries for built-in ids, applied to findings after the run
    configured: tuple[Any, ...] = ()
    builtin_settings: tuple[Any, ...] = ()

    @property
    def rules(self) -> tuple[LoadedRule, ...]:
        return tuple(r for p in self.policies for r in p.rules)


@dataclass
class _Collector:
    root: Path | None
    errors: list[InputError] = field(default_factory=list)
    policies: list[LoadedPolicy] = field(default_factory=list)
    waivers: list[LoadedWaiver] = field(default_factory=list)
    tests: list[LoadedTest] = field(default_factory=list)
    names: dict[tuple[str, str], Location] = field(default_factory=dict)
    files: int = 0
    fact_paths: bool = True  # check fact paths against the fact table (factpaths)
    # what files may resolve inside: the root and the paths we were given (see safeio)
    confine: Confinement | None = None


def display_path(path: Path, root: Path | None) -> str:
    """``path`` relative to the run's root when it is under it, else as given."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix() if not path.is_absolute() else str(path)


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _policy_dir(name: str) -> bool:
    return _visible(name) and name != FIXTURE_DIR


def _policy_file(name: str) -> bool:
    return _visible(name) and os.path.splitext(name)[1] in SUFFIXES


def expand(paths: Sequence[Path], errors: list[InputError],
           confine: Confinement | None = None) -> list[tuple[Path, bool]]:
    """Files as given; directories searched recursively for *.yml / *.yaml (sorted, hidden
    entries and directories named ``fixtures`` skipped; symlinks met must stay inside
    ``confine``, loops are errors). Each file once, in a deterministic order, with whether it
    was found in a directory (rather than named)."""
    out: list[tuple[Path, bool]] = []
    seen: set[Path] = set()
    for given in paths:
        if given.is_dir():
            try:
                walked = safeio.walk(given, keep_dir=_policy_dir, keep_file=_policy_file,
                                     confine=confine, display=Path.as_posix)
            except InputError as exc:
                errors.append(exc)
                continue
            found = sorted(walked, key=lambda p: p.relative_to(given).as_posix())
            if not found:
                errors.append(InputError("no policy files (*.yml, *.yaml) in this directory",
                                         given.as_posix()))
        elif given.is_file():
            found = [given]
        else:
            errors.append(InputError("no such file or directory", given.as_posix()))
            continue
        for p in found:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append((p, p is not given))
    return out


def _doc_location(doc: Any, key: str, fallback: Location) -> Location:
    if isinstance(doc, LocDict):
        loc = doc.locs.get(key)
        if loc is not None:
            return loc
    return fallback


def _header_errors(doc: Any, display: str, start: Location) -> tuple[str | None, list[InputError]]:
    """The document's kind when its apiVersion and kind are right, else the errors."""
    if not isinstance(doc, dict):
        return None, [InputError(
            f"a document must be a mapping with apiVersion and kind, got {excerpt(doc)}",
            display, start.line, start.column)]
    api = doc.get("apiVersion")
    kind = doc.get("kind")
    errs: list[InputError] = []
    if api != API_VERSION:
        where = _doc_location(doc, "apiVersion", start)
        got = "it is missing" if "apiVersion" not in doc else f"got {excerpt(api)}"
        errs.append(InputError(f"apiVersion: expected {API_VERSION!r} ({got})",
                               display, where.line, where.column))
    if not (isinstance(kind, str) and kind in KINDS):
        where = _doc_location(doc, "kind", start)
        got = "it is missing" if "kind" not in doc else f"got {excerpt(kind)}"
        errs.append(InputError(
            f"kind: expected one of {', '.join(KINDS)} ({got})", display, where.line,
            where.column))
    return (str(kind) if not errs else None), errs


def _load_file(path: Path, col: _Collector, skip_foreign: bool, templates: bool, *,
               in_dir: bool = False) -> None:
    display = display_path(path, col.root)
    try:
        docs = loads_all(read_text(path, display, col.confine), display)
    except InputError as exc:  # yamlio locates every YAML problem, bad dates included
        col.errors.append(exc)
        return
    col.files += 1
    for doc in docs:
        if doc is None:  # an empty document (`---` at the end of a file)
            continue
        if skip_foreign and isinstance(doc, dict) and "apiVersion" not in doc \
                and "kind" not in doc:
            continue  # an inventory or vars file next to policy tests
        start = getattr(doc, "loc", None) or Location(display, 1, 1)
        kind, errs = _header_errors(doc, display, start)
        if kind is None:
            if in_dir and isinstance(doc, dict) and not doc.keys() & _DOCUMENT_KEYS:
                # an inventory or vars file found by walking a policy directory
                errs = [InputError(FOREIGN_HINT, display, start.line, start.column)]
            col.errors.extend(errs)
            continue
        model: type[BaseModel] = KINDS[kind]
        errs = template_errors(doc, display) if templates else []
        try:
            obj = model.model_validate(doc)
        except ValidationError as exc:
            errs += errors_from(exc, doc, model, display)
            if kind == "Policy":
                errs += structural_errors(doc, display)
        else:
            # a misspelt fact would be absent on every host, so the rule would silently pass
            if col.fact_paths:
                errs += fact_path_errors(kind, doc, display)
        if errs:
            col.errors.extend(_unique(errs))
            continue
        name_loc = located(doc, "metadata", "name") or start
        if not _claim_name(col, kind, obj.metadata.name, name_loc, display):  # type: ignore[attr-defined]
            continue
        if isinstance(obj, Policy):
            col.policies.append(_policy(obj, doc, display, name_loc))
        elif isinstance(obj, Waiver):
            col.waivers.append(_waiver(obj, display, name_loc))
        elif isinstance(obj, PolicyTest):
            test = _test(obj, doc, path, name_loc, col)
            if test is not None:
                col.tests.append(test)


def _unique(errors: list[InputError]) -> list[InputError]:
    seen: set[str] = set()
    out = []
    for err in errors:
        if err.render() not in seen:
            seen.add(err.render())
            out.append(err)
    return out


def _claim_name(col: _Collector, kind: str, name: str, where: Location, display: str) -> bool:
    first = col.names.get((kind, name))
    if first is not None:
        noun = {"Policy": "policy", "Waiver": "waiver", "PolicyTest": "policy test"}[kind]
        col.errors.append(InputError(
            f"metadata.name: {noun} name {name!r} is already used at {first}",
            display, where.line, where.column))
        return False
    col.names[(kind, name)] = where
    return True


def _policy(obj: Policy, doc: Any, display: str, where: Location) -> LoadedPolicy:
    rules = []
    context = {"data": obj.spec.data} if obj.spec.data else {}  # shared by its rules
    for i, rule in enumerate(obj.spec.rules):
        rules.append(LoadedRule(
            full_id=f"{obj.metadata.name}/{rule.id}",
            policy=obj.metadata.name,
            rule=rule,
            severity=rule.severity or obj.spec.severity,
            policy_match=obj.spec.match,
            location=located(doc, "spec", "rules", i, "id") or where,
            template_context=context,
        ))
    return LoadedPolicy(
        name=obj.metadata.name, path=display, location=where,
        description=obj.metadata.description, labels=dict(obj.metadata.labels or {}),
        rules=tuple(rules),
    )


def _waiver(obj: Waiver, display: str, where: Location) -> LoadedWaiver:
    s = obj.spec
    return LoadedWaiver(
        name=obj.metadata.name, rules=tuple(s.rules), match=s.match,
        justification=s.justification, owner=s.owner, expires=s.expires, ticket=s.ticket,
        location=where, path=display,
    )


def _test(obj: PolicyTest, doc: Any, path: Path, where: Location,
          col: _Collector) -> LoadedTest | None:
    display = where.path
    base = path.parent
    ok = True

    def resolve(rel: str, *keys: Any) -> Path:
        nonlocal ok
        target = Path(os.path.normpath(base / rel))
        if not target.exists():
            at = located(doc, "spec", *keys) or where
            col.errors.append(InputError(
                f"spec.{keys[0]}: {rel!r} does not exist (paths are relative to this file)",
                display, at.line, at.column))
            ok = False
        elif col.confine is not None and col.confine.outside(target) is not None:
            at = located(doc, "spec", *keys) or where
            col.errors.append(InputError(
                f"spec.{keys[0]}: {rel!r} resolves outside the configuration root",
                display, at.line, at.column))
            ok = False
        return target

    policies = tuple(resolve(p, "policies", i) for i, p in enumerate(obj.spec.policies))
    inventory = resolve(obj.spec.inventory, "inventory")
    if not ok:
        return None
    return LoadedTest(
        name=obj.metadata.name, path=display, location=where, policies=policies,
        inventory=inventory,
        expect=tuple(e.model_dump(exclude_none=True) for e in obj.spec.expect),
        exhaustive=obj.spec.exhaustive,
    )


def _collect(paths: Sequence[Path], root: Path | None, skip_foreign: bool = False,
             templates: bool = True, fact_paths: bool = True) -> _Collector:
    col = _Collector(root=root, fact_paths=fact_paths, confine=Confinement(root, *paths))
    for path, in_dir in expand(paths, col.errors, col.confine):
        _load_file(path, col, skip_foreign and in_dir, templates, in_dir=in_dir)
    return col


def load_paths(paths: Sequence[Path], root: Path | None = None, *,
               skip_foreign: bool = False, check_templates: bool = True,
               check_fact_paths: bool = True) -> PolicySet:
    """Policies, waivers and policy tests of the given files and directories.

    Every YAML document must be one of the three kinds, except with ``skip_foreign``
    (``mlflow-policy test DIR``, where fixture inventories live next to the tests): then a
    mapping with neither ``apiVersion`` nor ``kind`` in a file found by walking a directory
    is skipped. With ``check_templates`` (the default) Jinja2 syntax errors in values are
    load errors too; that imports jinja2 when a value holds a template, which ``validate``
    (a pre-commit hook) must not pay for, so it passes False and such errors surface in
    ``check``. With ``check_fact_paths`` (the default) a fact path the fact table does not
    know is an error (:mod:`factpaths`); ``check --diff-base`` turns it off for the merge
    base. Raises :class:`InputErrors` with every problem of every file.
    """
    col = _collect(paths, root, skip_foreign, check_templates, check_fact_paths)
    if col.errors:
        raise InputErrors(col.errors)
    return PolicySet(tuple(col.policies), tuple(col.waivers), tuple(col.tests))


def load_waivers(paths: Sequence[Path], root: Path | None = None, *,
                 check_templates: bool = True,
                 check_fact_paths: bool = True) -> tuple[LoadedWaiver, ...]:
    """Waiver files (``--waivers``): any other kind of document in them is an error."""
    col = _collect(paths, root, templates=check_templates, fact_paths=check_fact_paths)
    others: list[tuple[str, LoadedPolicy | LoadedTest]] = [
        *(("Policy", p) for p in col.policies), *(("PolicyTest", t) for t in col.tests)]
    for kind, item in others:
        col.errors.append(InputError(
            f"expected only Waiver documents here, found {kind} {item.name!r}",
            item.location.path, item.location.line, item.location.column))
    if col.errors:
        raise InputErrors(col.errors)
    return tuple(col.waivers)


def count_files(paths: Sequence[Path], root: Path | None = None, *,
                check_templates: bool = False) -> int:
    """Validate like :func:`load_paths` and return how many files were read (by default
    without the Jinja2 syntax check, see :func:`load_paths`)."""
    col = _collect(paths, root, templates=check_templates)
    if col.errors:
        raise InputErrors(col.errors)
    return col.files
