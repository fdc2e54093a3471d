"""Unknown fact paths are load errors, with "did you mean ...?".

A rule on ``mlflow.verison`` or ``env.MLFLOW_TRACKNG_URI`` would otherwise pass on every
host: the misspelt fact is simply absent, and absent facts satisfy every operator but
``required``. So every fact path a document names is checked when it loads (``validate``,
``check``, ``test``, ``explain``), against:

- the one fact table (:mod:`mlflow_policy.facts.table`): a path is a fact, a group of facts
  (``server``), or lies below an open mapping (``vars.<anything>``, ``env.<NAME>``);
- for ``env.<NAME>``, the MLflow env catalogue: a name that looks like MLflow's
  (``MLFLOW_*`` in any case, or one letter away from a catalogued name) but that no
  catalogued release reads is an error naming the closest one. Other names (``AWS_*``,
  ``OTEL_*``) are other software's and stay free, as does everything under ``vars.``.

Templates in values are scanned too (``{{ mlflow.verison }}``), without importing jinja2
(``validate`` is a pre-commit hook and must stay fast): dotted names whose first segment is
a fact's are checked like keys; ``peer.<path>`` is checked as the target's fact inside a
``peer`` rule; ``data.<name>`` must name an entry of the policy's ``spec.data``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from mlflow_policy.core import Location
from mlflow_policy.errors import InputError
from mlflow_policy.facts import table
from mlflow_policy.policy.locate import human_path, located

ENV_PREFIX = "env."
PEER_PREFIX = "peer."
DATA_ROOT = "data"
AGGREGATE_ROOT = "aggregate"  # an aggregate rule's total, read by its assert templates
# Characters that make the last segment of an assert key a glob (policy-language, 6).
GLOB_CHARS = frozenset("*?[")


@cache
def _candidates() -> tuple[str, ...]:
    """Every path a rule may name, for suggestions (open mappings by their root)."""
    paths = {f.path for f in table.FACTS}
    for f in table.FACTS:
        parts = f.path.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return tuple(sorted(paths))


@cache
def _roots() -> frozenset[str]:
    return frozenset(f.path.split(".")[0] for f in table.FACTS)


def _open_roots() -> tuple[str, ...]:
    return tuple(f.path for f in table.FACTS if f.open_mapping)


def _suggest_path(path: str) -> str | None:
    close = difflib.get_close_matches(path, _candidates(), n=1, cutoff=0.75)
    if close:
        return close[0]
    # A typo in the root of an open mapping: `var.team` -> `vars.team`.
    root, _, rest = path.partition(".")
    if rest:
        roots = difflib.get_close_matches(root, _open_roots(), n=1, cutoff=0.6)
        if roots:
            return f"{roots[0]}.{rest}"
    return None


@cache
def _env_problem(name: str) -> str | None:
    """Why ``env.<name>`` names no variable MLflow reads, or None when it is fine (cached:
    a pack names a few variables many times)."""
    from mlflow_policy import catalogue

    if name in catalogue.env_vars():
        return None
    if not name.upper().startswith(("MLFLOW_", "_MLFLOW_")) and not _near_miss(name):
        return None  # another program's variable (AWS_*, OTEL_*...): not ours to judge
    # (no version span in the text: it would change with every catalogue update)
    text = f"no MLflow release in the catalogue reads an environment variable named {name}"
    suggestion = catalogue.closest_env(name)
    if suggestion is not None and suggestion != name:
        text += f" (did you mean {ENV_PREFIX}{suggestion}?)"
    return text


@cache
def _upper_env_names() -> tuple[str, ...]:
    from mlflow_policy import catalogue

    return tuple(n.upper() for n in catalogue.env_vars() if not n.startswith("_"))


def _near_miss(name: str) -> bool:
    """One typo away from a name MLflow reads (``MLFOW_TRACKING_URI``), not another
    program's variable: a high cutoff, which also lets difflib prune most names fast."""
    return bool(difflib.get_close_matches(name.upper(), _upper_env_names(), n=1,
                                          cutoff=0.9))


def path_problem(path: str) -> str | None:
    """Why ``path`` names no fact, or None when it does (see the module docstring)."""
    if path.startswith(ENV_PREFIX):
        return _env_problem(path[len(ENV_PREFIX):].split(".", maxsplit=1)[0])
    if table.known(path):
        return None
    probe = path
    while "." in probe:
        probe = probe.rpartition(".")[0]
        leaf = table.BY_PATH.get(probe)
        if leaf is not None:  # `server.url.host`: a value has no sub-facts
            return (f"unknown fact {path!r}: {probe} is a single value ({leaf.type}), "
                    "not a mapping of facts")
    text = f"unknown fact {path!r}"
    suggestion = _suggest_path(path)
    if suggestion is not None:
        return f"{text} (did you mean {suggestion!r}?)"
    return (f"{text} (a fact path starts with one of {', '.join(sorted(_roots()))}; "
            "any hostvar is vars.<name>)")


def glob_problem(path: str) -> str | None:
    """Why a glob key (``vars.*password*``) is not allowed, or None when it is."""
    head, _, pattern = path.rpartition(".")
    fact = table.BY_PATH.get(head)
    if fact is None or not fact.open_mapping:
        opens = ", ".join(f"{p}.*" for p in _open_roots())
        return (f"{path!r}: a glob may only name the keys of {opens} "
                "(and only in its last segment)")
    if f"{head}." == ENV_PREFIX and pattern.upper().startswith("MLFLOW_"):
        # like a misspelt name, a glob no MLflow variable matches would check nothing
        from fnmatch import fnmatchcase

        from mlflow_policy import catalogue

        if not any(fnmatchcase(n, pattern) for n in catalogue.env_vars()):
            return (f"{path!r}: the glob matches no variable any MLflow release in the "
                    "catalogue reads")
    return None


def is_glob(path: str) -> bool:
    return any(c in GLOB_CHARS for c in path)


# ------------------------------------------------------------------ templates (no jinja2)

_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# a dotted name not itself an attribute of something else (`x.y` in `a[0].x.y` is skipped)
_CHAIN = re.compile(r"(?<![\w.\])])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(\s*\()?")


def template_paths(source: str) -> Iterator[str]:
    """The dotted names a template reads, a called method's name left off
    (``mlflow.version.split('.')`` reads ``mlflow.version``)."""
    for match in _BLOCK.finditer(source):
        body = _STRING.sub("''", match.group(1) or match.group(2) or "")
        for chain in _CHAIN.finditer(body):
            name = chain.group(1)
            if chain.group(2):
                name = name.rpartition(".")[0]
            if "." in name:
                yield name


# ------------------------------------------------------------------ walking a document


class _Walker:
    def __init__(self, doc: Any, display: str) -> None:
        self.doc = doc
        self.display = display
        self.errors: list[InputError] = []
        # the policy's spec.data where templates can read it, None where they cannot
        self.data: Mapping[str, Any] | None = {}
        # inside an aggregate rule's assert, where templates read aggregate.*
        self.aggregate = False

    def where(self, keys: tuple[Any, ...]) -> Location | None:
        return located(self.doc, *keys)

    def error(self, keys: tuple[Any, ...], text: str) -> None:
        at = self.where(keys)
        line, col = (at.line, at.column) if at is not None else (None, None)
        self.errors.append(InputError(f"{human_path(keys)}: {text}", self.display, line, col))

    def path(self, keys: tuple[Any, ...], path: Any, *, peer: bool = False) -> None:
        if not isinstance(path, str):
            return
        if peer and path.startswith(PEER_PREFIX):
            path = path[len(PEER_PREFIX):]
        problem = path_problem(path)
        if problem is not None:
            self.error(keys, problem)

    def values(self, keys: tuple[Any, ...], value: Any, *, peer: bool = False) -> None:
        """Check the names read by every template in ``value``."""
        if isinstance(value, str):
            if "{{" in value or "{%" in value:
                for name in dict.fromkeys(template_paths(value)):
                    self._reference(keys, name, peer)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.values((*keys, i), v, peer=peer)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                self.values((*keys, k), v, peer=peer)

    def _reference(self, keys: tuple[Any, ...], name: str, peer: bool) -> None:
        root, _, rest = name.partition(".")
        if root == DATA_ROOT:
            entry = rest.split(".", maxsplit=1)[0]
            if self.data is None:
                self.error(keys, f"the template reads {name}, but data.* is only defined in "
                                 "assert, peer assert and remediation.set, not in selectors")
            elif entry not in self.data:
                have = ", ".join(sorted(map(str, self.data))) or "none"
                self.error(keys, f"the template reads data.{entry}, which spec.data does not "
                                 f"define (defined: {have})")
            return
        if root == AGGREGATE_ROOT:
            if not self.aggregate:
                self.error(keys, f"the template reads {name}, but aggregate.* is only defined "
                                 "in an aggregate rule's assert")
            elif rest not in ("sum", "count"):
                self.error(keys, f"the template reads {name}; an aggregate rule defines "
                                 "aggregate.sum and aggregate.count")
            return
        if root == "peer":
            if not peer:
                self.error(keys, f"the template reads {name}, but peer.* is only defined in "
                                 "a peer rule's assert and remediation")
                return
            name = rest
            root = rest.partition(".")[0]
        if root not in _roots():
            # A Jinja2 local or loop variable is not a fact; a near miss of a fact's root is
            # a typo (`inventry.name`).
            close = difflib.get_close_matches(root, sorted(_roots()), n=1, cutoff=0.8)
            if close:
                self.error(keys, f"the template reads {name}, but no fact is named {root!r} "
                                 f"(did you mean {close[0]!r}?)")
            return
        problem = path_problem(name)
        if problem is not None:
            self.error(keys, f"the template reads {problem}")

    def conditions(self, keys: tuple[Any, ...], conds: Any, *, peer: bool = False,
                   globs: bool = False) -> None:
        if not isinstance(conds, Mapping):
            return
        for path, cond in conds.items():
            at = (*keys, path)
            if isinstance(path, str) and is_glob(path):
                problem = glob_problem(path) if globs else \
                    f"{path!r}: a glob is only allowed in the keys of assert"
                if problem is not None:
                    self.error(at, problem)
            else:
                self.path(at, path, peer=peer)
            self.values(at, cond, peer=peer)

    def selector(self, keys: tuple[Any, ...], sel: Any) -> None:
        if isinstance(sel, Mapping):
            # Selectors are decided before a rule runs, without its policy's data.
            data, self.data = self.data, None
            try:
                self.conditions((*keys, "where"), sel.get("where"))
            finally:
                self.data = data

    def rule(self, keys: tuple[Any, ...], rule: Mapping[str, Any]) -> None:
        self.selector((*keys, "match"), rule.get("match"))
        self.selector((*keys, "exclude"), rule.get("exclude"))
        self.conditions((*keys, "assert"), rule.get("assert"), globs=True)
        for kind in ("consistent", "unique", "promotion"):
            spec = rule.get(kind)
            if isinstance(spec, Mapping):
                for field in ("fact", "by"):
                    if field in spec:
                        self.path((*keys, kind, field), spec[field])
                self.selector((*keys, kind, "from"), spec.get("from"))
        aggregate = rule.get("aggregate")
        if isinstance(aggregate, Mapping):
            if "by" in aggregate:
                self.path((*keys, "aggregate", "by"), aggregate["by"])
            total = aggregate.get("sum")
            if isinstance(total, str) and "{" not in total:
                self.path((*keys, "aggregate", "sum"), total)
            else:
                self.values((*keys, "aggregate", "sum"), total)
            self.aggregate = True
            try:
                self.conditions((*keys, "aggregate", "assert"), aggregate.get("assert"))
            finally:
                self.aggregate = False
        peer = rule.get("peer")
        if isinstance(peer, Mapping):
            self.path((*keys, "peer", "via"), peer.get("via"))
            target = peer.get("target")
            if isinstance(target, Mapping):
                self.selector((*keys, "peer", "target", "match"), target.get("match"))
                key = target.get("key")
                for i, k in enumerate(key if isinstance(key, list) else [key]):
                    at = (*keys, "peer", "target", "key", *((i,) if isinstance(key, list)
                                                            else ()))
                    self.path(at, k)
            self.conditions((*keys, "peer", "assert"), peer.get("assert"), peer=True)
        remediation = rule.get("remediation")
        if isinstance(remediation, Mapping) and isinstance(remediation.get("set"), Mapping):
            for path, value in remediation["set"].items():
                at = (*keys, "remediation", "set", path)
                self.path(at, path)
                self.values(at, value, peer=isinstance(peer, Mapping))


def fact_path_errors(kind: str, doc: Any, display: str) -> list[InputError]:
    """Every unknown fact path of one valid document (a Policy, Waiver or PolicyTest)."""
    walker = _Walker(doc, display)
    spec = doc.get("spec") if isinstance(doc, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    if kind == "Policy":
        data = spec.get("data")
        walker.data = data if isinstance(data, Mapping) else {}
        walker.selector(("spec", "match"), spec.get("match"))
        for i, rule in enumerate(spec.get("rules") or []):
            if isinstance(rule, Mapping):
                walker.rule(("spec", "rules", i), rule)
    elif kind == "Waiver":
        walker.selector(("spec", "match"), spec.get("match"))
    elif kind == "PolicyTest":
        for i, want in enumerate(spec.get("expect") or []):
            fact = want.get("fact") if isinstance(want, Mapping) else None
            # A finding's fact may be a misspelt env name (unknown-mlflow-env expects one),
            # or a peer's fact: only the fact table is asked.
            if isinstance(fact, str) and not fact.startswith(ENV_PREFIX):
                walker.path(("spec", "expect", i, "fact"), fact, peer=True)
    return walker.errors
