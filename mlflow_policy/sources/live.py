"""Live fact source: declared facts from our resolver, observed facts from Ansible.

Each inventory is gathered on its own (one ansible-runner run per ``-i``), with the
hostvar names its own fact mapping gives for ``mlflow.python``, ``mlflow.env_file`` and
``server.url``: results are keyed by inventory hostname, so two inventories that name the
same host stay apart. A host Ansible could not gather (unreachable, failed, timed out)
keeps its place in the fleet with every observed fact unavailable, and gets an
``mlflow-policy/unreachable`` diagnostic (an error) with Ansible's reason, masked; every
other host is evaluated as usual.

``--limit`` is Ansible's pattern language (groups, globs, ``!``...): we do not re-implement
it, so under a limit the fleet is the declared hosts Ansible returned a result for.

Declared facts come from our resolver (with each value's ``path:line``) for the inventories
it reads. An inventory it cannot read because only Ansible can (an executable script, an
inventory plugin configuration such as ``plugin: ansible.builtin.constructed``) is not an
error in live mode: its hosts and their declared values are what Ansible itself resolved,
returned by the gathering run (the action plugin beside the playbook, in the same run: no
extra process), for the hostvars the fact mapping names. Their origin is ``ansible:
hostvar NAME``, without a file and line; vaulted values stay opaque (see
``live/ansible/action_plugins/mlflow_policy_facts.py``).

ansible-runner is imported only when :meth:`LiveInventories.load` gathers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy.core import Diagnostic, FactDocument
from mlflow_policy.dotted import MISSING, dig
from mlflow_policy.facts.computed import SCHEMA_HEAD, add_computed
from mlflow_policy.findings import UNREACHABLE

if TYPE_CHECKING:
    from mlflow_policy.config import RunConfig
    from mlflow_policy.facts.declared import Fleet
    from mlflow_policy.live.result import LiveHostResult
    from mlflow_policy.sources import FactSource, StaticInventories

_STATUS_WORDS = {"unreachable": "unreachable", "failed": "could not be gathered",
                 "timeout": "timed out"}


VAULT_KEY = "__mlflow_policy_vault__"  # as in action_plugins/mlflow_policy_facts.py
WITHHELD = "a secret: the results document never carries its value"


def observed_document(result: LiveHostResult, *, from_file: bool = False) -> FactDocument:
    """The observed side of one host: the facts nested, where each was read, why the
    others could not be; a host that was not gathered is unavailable as a whole.

    ``from_file``: the result was read from a results document, where every secret is
    masked; those values are unknown (so never drift against the declared clear value)."""
    if not result.ok:
        return FactDocument(values={}, host_unavailable=host_reason(result))
    unavailable = dict(result.unavailable)
    if from_file:
        unavailable.update(dict.fromkeys(_withheld(result), WITHHELD))
    values = result.nested()
    sources = dict(result.sources)
    computed = add_computed(values, unavailable)  # from the observed version
    if dig(values, SCHEMA_HEAD.split(".")) is not MISSING:
        sources[SCHEMA_HEAD] = ("catalogue: alembic head of MLflow "
                                f"{result.facts.get('mlflow.version')}")
    return FactDocument(values=values, sources=sources, unavailable=dict(computed))


def _withheld(result: LiveHostResult) -> list[str]:
    from mlflow_policy.secrets import MASK, is_secret_name

    out = list(result.withheld)
    for path, value in result.facts.items():
        leaves = ({f"{path}.{k}": v for k, v in value.items()} if isinstance(value, Mapping)
                  else {path: value})
        for leaf, v in leaves.items():
            if (isinstance(v, str) and MASK in v) or (
                    v is not None and is_secret_name(leaf.rsplit(".", 1)[-1])):
                out.append(leaf)
    return out


def host_reason(result: LiveHostResult) -> str:
    word = _STATUS_WORDS.get(result.status, result.status)
    # Ansible's reasons span lines (ssh's own output): one line in a finding
    reason = " ".join(result.failure.split()) if result.failure else ""
    return f"{word}: {reason}" if reason else word


def unreachable_diagnostic(inventory: str, result: LiveHostResult) -> Diagnostic:
    """``failure`` is masked already (:func:`mlflow_policy.live.result.failed`)."""
    return Diagnostic(
        rule=UNREACHABLE, severity="error", inventory=inventory,
        host=result.inventory_hostname,
        message=f"{result.inventory_hostname} {host_reason(result)} (no observed fact "
                "could be read; the rules on them are skipped)")


def combine(declared: Fleet, results: Iterable[tuple[str, LiveHostResult]], *,
            only_returned: bool = False, from_file: bool = False) -> Fleet:
    """The live fleet from the declared one and (inventory, result) pairs, with one
    unreachable diagnostic per host that was not gathered. ``only_returned``: drop the
    declared hosts that have no result (a ``--limit`` left them out)."""
    from dataclasses import replace

    from mlflow_policy.sources import with_observed

    observed: dict[tuple[str, str], FactDocument] = {}
    extra: list[Diagnostic] = []
    for inventory, result in results:
        key = (inventory, result.inventory_hostname)
        observed[key] = observed_document(result, from_file=from_file)
        if not result.ok:
            extra.append(unreachable_diagnostic(inventory, result))
    if only_returned:
        declared = replace(declared, hosts=tuple(h for h in declared.hosts
                                                 if h.key in observed))
    else:
        known = {h.key for h in declared.hosts}
        extra = [d for d in extra if (d.inventory or "", d.host or "") in known]
    fleet = with_observed(declared, observed)
    diagnostics = tuple(sorted((*fleet.diagnostics, *extra), key=lambda d: d.sort_key))
    return replace(fleet, diagnostics=diagnostics)


def declared_hostvars(mapping: Mapping[str, str]) -> tuple[str, ...]:
    """The hostvars (top-level names) a fact mapping reads: what Ansible returns."""
    return tuple(sorted({var.partition(".")[0] for var in mapping.values()}))


def merged(base: Fleet, others: Iterable[Fleet]) -> Fleet:
    """One fleet of several (each inventory in one of them), sorted as one load sorts."""
    from dataclasses import replace

    fleets = [base, *others]
    return replace(
        base,
        inventories=tuple(sorted(n for f in fleets for n in f.inventories)),
        hosts=tuple(sorted((h for f in fleets for h in f.hosts), key=lambda h: h.key)),
        diagnostics=tuple(sorted((d for f in fleets for d in f.diagnostics),
                                 key=lambda d: d.sort_key)))


def _opaque(value: Any, path: str, vaulted: set[str]) -> Any:
    """Vault markers of the action plugin as :class:`VaultedValue` (their hostvar paths
    collected in ``vaulted``)."""
    from mlflow_policy.core import VaultedValue

    if isinstance(value, Mapping):
        if VAULT_KEY in value:
            vaulted.add(path)
            redacted = value.get("redacted")
            return VaultedValue(str(value[VAULT_KEY]),
                                redacted=redacted if isinstance(redacted, str) else None)
        return {k: _opaque(v, f"{path}.{k}", vaulted) for k, v in value.items()}
    if isinstance(value, list):
        return [_opaque(v, path, vaulted) for v in value]
    return value


def ansible_declared(inventory: str, results: Iterable[LiveHostResult],
                     config: RunConfig) -> Fleet:
    """The declared side of an inventory only Ansible reads: each host's hostvars as the
    gathering run returned them, mapped onto facts as our resolver's would be. A host
    whose result carries none (Ansible never ran the task for it) declares nothing."""
    from dataclasses import replace

    from mlflow_policy.facts.declared import Fleet as _Fleet
    from mlflow_policy.facts.declared import host_facts
    from mlflow_policy.facts.envcheck import env_diagnostics
    from mlflow_policy.facts.views import FactPaths
    from mlflow_policy.inventory import ResolvedHost

    paths = FactPaths(config.mapping_for(inventory))
    hosts = []
    for result in results:
        raw = result.declared or {}
        given = raw.get("vars")
        vaulted: set[str] = set()
        hostvars = {str(k): _opaque(v, str(k), vaulted)
                    for k, v in (given.items() if isinstance(given, Mapping) else ())}
        groups = tuple(str(g) for g in raw.get("groups") or ())
        host = ResolvedHost(result.inventory_hostname, groups, hostvars, hostvars, {},
                            frozenset(vaulted))
        facts = host_facts(inventory, host, paths, config.roles)
        unrendered = raw.get("unrendered")
        unavailable = dict(facts.unavailable)
        for name, error in (unrendered.items() if isinstance(unrendered, Mapping) else ()):
            for fact, var in paths.pairs:
                if var.partition(".")[0] == name:
                    unavailable[fact] = f"Ansible could not render hostvar {name} ({error})"
        sources = {fact: f"ansible: hostvar {var}" for fact, var in paths.pairs
                   if var.partition(".")[0] in hostvars}
        doc = FactDocument(values=facts.facts, sources=sources, vaulted=facts.vaulted_paths,
                           unavailable=unavailable)
        hosts.append(replace(facts, unavailable=unavailable, declared_doc=doc))
    hosts.sort(key=lambda h: h.key)
    return _Fleet(inventories=(inventory,), hosts=tuple(hosts),
                  diagnostics=tuple(sorted(env_diagnostics(hosts), key=lambda d: d.sort_key)))


@dataclass(frozen=True)
class LiveInventories:
    """Gather each inventory through Ansible (see the module docstring)."""

    declared: StaticInventories  # the inventories, resolved by us for the declared side
    forks: int = 10
    timeout: int = 30
    limit: str | None = None
    progress: bool | None = None  # None: on a terminal only

    def load(self) -> Fleet:
        from mlflow_policy.inventory.build import inventory_name
        from mlflow_policy.live.driver import LiveOptions, gather
        from mlflow_policy.live.progress import Progress
        declared, by_ansible = self._declared()
        root, config = self.declared.root, self.declared.config
        pairs: list[tuple[str, LiveHostResult]] = []
        from_ansible: list[Fleet] = []
        for path in self.declared.paths:
            full = path if path.is_absolute() else root / path
            name = inventory_name(full)
            mapping = config.mapping_for(name)
            asked = path in by_ansible
            expected = None if self.limit or asked else [h.host for h in declared.hosts
                                                         if h.inventory == name]
            bar = Progress(len(expected) if expected else None, enabled=self.progress)
            options = LiveOptions(
                forks=self.forks, timeout=self.timeout, limit=self.limit,
                python_var=mapping.get("mlflow.python", "mlflow_python"),
                env_file_var=mapping.get("mlflow.env_file", "mlflow_env_file"),
                server_url_var=mapping.get("server.url", "mlflow_server_url"),
                declared_vars=declared_hostvars(mapping) if asked else ())
            results = gather([full], options, expected_hosts=expected, progress=bar)
            if asked:
                from_ansible.append(ansible_declared(name, results, config))
            pairs.extend((name, r) for r in results)
        if from_ansible:
            declared = merged(declared, from_ansible)
        return combine(declared, pairs, only_returned=self.limit is not None)

    def _declared(self) -> tuple[Fleet, set[Path]]:
        """Our resolver's fleet of the inventories it can read, and the paths of those
        only Ansible can (their hosts are declared by the gathering run itself)."""
        from mlflow_policy.errors import InputError, InputErrors
        from mlflow_policy.facts.declared import Fleet as _Fleet
        from mlflow_policy.inventory.build import inventory_name
        from mlflow_policy.inventory.sources import AnsibleOnlySource
        from mlflow_policy.sources import StaticInventories

        try:
            return self.declared.load(), set()
        except InputErrors as exc:
            if not any(isinstance(e, AnsibleOnlySource) for e in exc.errors):
                raise
        # resolve each on its own, to tell which inventories hold such a source
        root = self.declared.root
        fleets: list[Fleet] = []
        by_ansible: set[Path] = set()
        errors: list[InputError] = []
        seen: dict[str, Path] = {}
        for path in self.declared.paths:
            name = inventory_name(path if path.is_absolute() else root / path)
            if name in seen:
                errors.append(InputError(
                    f"two inventories are both named '{name}' ({seen[name]} and {path});"
                    " inventory names must be unique in one run"))
            seen[name] = path
            one = StaticInventories([path], self.declared.config, root,
                                    self.declared.vault_secrets)
            try:
                fleets.append(one.load())
            except InputErrors as exc:
                if all(isinstance(e, AnsibleOnlySource) for e in exc.errors):
                    by_ansible.add(path)
                else:
                    errors.extend(exc.errors)
        if errors:
            raise InputErrors(errors)
        empty = _Fleet(inventories=(), hosts=(), diagnostics=())
        return merged(empty, fleets), by_ansible


@dataclass(frozen=True)
class ResultsDirectory:
    """A ``gather-playbook`` results directory (one JSON document per host), with the
    declared facts of ``declared`` when given (``-i``); without, each host's declared
    document is empty, in inventory ``results`` (and ``check`` compares no drift).

    Secrets are masked in such a document: their observed values are unknown here."""

    directory: Path
    root: Path
    declared: FactSource | None = None

    def load(self) -> Fleet:
        from mlflow_policy.facts.declared import Fleet as _Fleet
        from mlflow_policy.live.playbook import read_results
        from mlflow_policy.live.result import failed

        directory = self.directory if self.directory.is_absolute() else (
            self.root / self.directory)
        results = read_results(directory)
        if self.declared is None:
            from mlflow_policy.core import HostFacts

            name = "results"
            hosts = tuple(HostFacts(host=r.inventory_hostname, inventory=name, facts={},
                                    declared_doc=FactDocument(values={}))
                          for r in results)
            base = _Fleet(inventories=(name,), hosts=hosts, diagnostics=())
            return combine(base, ((name, r) for r in results), from_file=True)
        declared = self.declared.load()
        by_host: dict[str, list[str]] = {}
        for h in declared.hosts:
            by_host.setdefault(h.host, []).append(h.inventory)
        # a results directory is keyed by inventory hostname alone
        pairs = [(inv, r) for r in results for inv in by_host.get(r.inventory_hostname, ())]
        returned = {r.inventory_hostname for r in results}
        # a declared host the playbook left no document for was not gathered either
        pairs.extend((h.inventory, failed(h.host, None, "failed",
                                          f"no result document in {self.directory}"))
                     for h in declared.hosts if h.host not in returned)
        return combine(declared, pairs, from_file=True)

