"""The facts JSON document (``facts --format json``): one schema, one writer, one reader.

The document is a *snapshot* of a fleet's facts that ``check --facts FILE`` evaluates on
its own, with the same findings as the run that wrote it. It round-trips: write, read,
write gives the same bytes. Shape (keys in this order; hosts sorted by (inventory, host))::

    {"schema_version": 1, "mode": "static" | "live",
     "hosts": [{"host": ..., "inventory": ...,
                "facts": {declared document, masked},
                "provenance": {"fact.path": {"path": ..., "line": ..., "column": ...}},
                # live mode only:
                "observed": {observed document, masked}, "sources": {"path": "live: ..."},
                "unavailable": {"path": "reason"}, "host_unavailable": "reason" | null}],
     "inventories": ["prod", "staging"],
     "diagnostics": [{"rule", "severity", "message", "inventory", "host", "fact",
                      "location"}]}

Secrets never enter a snapshot, in clear or as a digest (masking as in every report:
MLflow's secret variables and URI passwords as ``***``). A vaulted value is written as
``{"__vault__": true, "ref": N}``: ``N`` numbers the distinct ciphertexts of the run in the
order the document first meets them, so vaulted values that were equal (the same vault
entry shared by a group) are equal after reading and different ones stay different,
without the snapshot carrying anything derived from the secret or its ciphertext. A
template with a vaulted part also keeps its ``redacted`` text (``postgresql://u:***@db``)
so that scheme checks still work. A value that was only vaulted because its whole file was
(and decrypted for the run) gets no ``ref``: numbering it would reveal which hosts share a
secret the inventory keeps encrypted. After reading, each such value is distinct from
every other; like ``***`` values, rules that compare a secret's content can give
different answers on a snapshot than on the run that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_policy import parallel
from mlflow_policy.core import Diagnostic, FactDocument, HostFacts, Location, VaultedValue
from mlflow_policy.errors import InputError
from mlflow_policy.facts.computed import add_computed
from mlflow_policy.facts.declared import STATIC_UNAVAILABLE
from mlflow_policy.facts.document import MODES, find, for_mode
from mlflow_policy.facts.views import ProvenanceView, VaultedView
from mlflow_policy.secrets import Masker, mask_text

SCHEMA_VERSION = 1
VAULT_KEY = "__vault__"
# The ciphertext of a vaulted value read without a ref: unique per occurrence, and never
# numbered again when the snapshot is written anew (so the bytes stay the same).
_UNREF = "\x00snapshot-unref:"
_REF = "\x00snapshot-ref:"


@dataclass(frozen=True)
class Snapshot:
    mode: str
    inventories: tuple[str, ...]
    hosts: tuple[HostFacts, ...]
    # None: a document that does not record them (hand-written for a PolicyTest)
    diagnostics: tuple[Diagnostic, ...] | None


# ----------------------------------------------------------------- writer


class VaultRefs:
    """Ciphertext -> its number in the document, in the order the document meets them.

    Computed before the document is written (possibly in two processes), so both halves
    number alike: one pass over each host's vaulted paths, skipping values already seen
    (hosts share the vaulted values of their group_vars)."""

    def __init__(self, hosts: Iterable[HostFacts]) -> None:
        self._refs: dict[str, int] = {}
        self._seen: set[int] = set()
        # vaulted hostvar set (shared by the hosts of a group set) -> its paths, split
        plans: dict[int, tuple[Set[str], list[tuple[str, str]]]] = {}
        for h in hosts:
            for doc in _documents(h):
                vaulted = doc.vaulted
                if not vaulted:
                    continue
                if isinstance(vaulted, VaultedView):
                    # declared from the resolver: every vaulted fact path aliases a hostvar
                    # path, so reading the hostvars is enough (and values shared between
                    # hosts are met once)
                    under = vaulted.hostvar_paths()
                    plan = plans.get(id(under))
                    if plan is None or plan[0] is not under:
                        plan = plans[id(under)] = (under, [
                            (p.partition(".")[0], p) for p in sorted(under)])
                    hostvars = doc.values.get("vars")
                    if isinstance(hostvars, Mapping):
                        for top, path in plan[1]:
                            value = hostvars.get(top)
                            if value is not None and id(value) not in self._seen:
                                self._add(find(hostvars, path)[1], value)
                    continue
                # The order the resolver's documents are numbered in (their hostvars,
                # sorted), so that a snapshot read back numbers its vaults alike: write,
                # read, write gives the same bytes. Then whatever aliases no hostvar.
                paths = sorted(vaulted)
                for path in sorted(p for p in paths if p.startswith("vars.")):
                    self._add(find(doc.values, path)[1], None)
                for path in paths:
                    if not path.startswith("vars."):
                        self._add(find(doc.values, path)[1], None)

    def _add(self, value: Any, holder: Any) -> None:
        if holder is not None and holder is value:
            self._seen.add(id(holder))  # a vaulted top-level hostvar: met once
        if not isinstance(value, VaultedValue):
            return
        text = value.ciphertext
        if not text.startswith(_UNREF) and text not in self._refs:
            self._refs[text] = len(self._refs) + 1

    def __call__(self, value: VaultedValue) -> int | None:
        return self._refs.get(value.ciphertext)


def _documents(h: HostFacts) -> Iterator[FactDocument]:
    yield h.declared
    if h.observed is not None:
        yield h.observed


def write(hosts: Sequence[HostFacts], *, mode: str, inventories: Sequence[str],
          diagnostics: Sequence[Diagnostic]) -> Iterator[str]:
    """The document, one host at a time (in two processes on a large fleet)."""
    refs = VaultRefs(hosts)
    yield '{"schema_version":1,"mode":' + json.dumps(mode) + ',"hosts":['
    first = True
    for chunk in parallel.chunks(hosts, lambda part: _host_entries(part, refs, mode)):
        # every entry starts with a comma, the first of the list must not
        yield chunk[1:] if first and chunk else chunk
        first = first and not chunk
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    yield "],\"inventories\":" + encode(list(inventories)) + ',"diagnostics":['
    yield ",".join(encode(_diagnostic_json(d)) for d in
                   sorted(diagnostics, key=lambda d: d.sort_key))
    yield "]}\n"


def _diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    return {"rule": d.rule, "severity": d.severity, "message": mask_text(d.message),
            "inventory": d.inventory, "host": d.host, "fact": d.fact,
            "location": d.location.to_json() if d.location is not None else None}


def _host_entries(hosts: Sequence[HostFacts], refs: VaultRefs, mode: str) -> Iterator[str]:
    """',{host entry}' per host. Masked documents are cached by the masker; provenance
    entries are encoded once per (hostvar, location): one group_vars line locates the same
    facts for thousands of hosts."""
    masker = Masker(vault_marker=True, vault_ref=refs)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    located: dict[Location, str] = {}
    # (hostvar path, location, id(fact mapping)) -> the (fact path, '"fact.path":{...}')
    # entries it gives; inventories may map facts differently (the mapping is kept alive
    # by the hosts' views, so its id is not reused)
    entries: dict[tuple[str, Location, int], list[tuple[str, str]]] = {}

    def where(loc: Location) -> str:
        found = located.get(loc)
        if found is None:
            found = located[loc] = encode(loc.to_json())
        return found

    def listing(prov: Mapping[str, Location]) -> str:
        parts: list[tuple[str, str]] = []
        if isinstance(prov, ProvenanceView):
            by_var, paths = prov.by_hostvar()
            mapping = id(paths)
            for var, loc in by_var.items():
                key = (var, loc, mapping)
                found = entries.get(key)
                if found is None:
                    text = where(loc)
                    found = entries[key] = [(p, encode(p) + ":" + text)
                                            for p in paths.fact_paths(var)]
                parts.extend(found)
        else:
            parts = [(p, encode(p) + ":" + where(loc)) for p, loc in prov.items()]
        parts.sort()  # by fact path (a host's fact paths are unique)
        return "{" + ",".join(entry for _, entry in parts) + "}"

    for h in hosts:
        declared = h.declared
        text = (',{"host":' + encode(h.host) + ',"inventory":' + encode(h.inventory)
                + ',"facts":' + encode(masker.document(declared.values, declared.vaulted))
                + ',"provenance":' + listing(declared.provenance))
        if mode == "live":
            observed = h.observed or FactDocument(
                values={}, host_unavailable="no observed facts for this host")
            text += (',"observed":' + encode(masker.document(observed.values,
                                                             observed.vaulted))
                     + ',"sources":' + encode(dict(sorted(observed.sources.items())))
                     + ',"unavailable":' + encode(dict(sorted(observed.unavailable.items())))
                     + ',"host_unavailable":' + encode(observed.host_unavailable))
        yield text + "}"


# ----------------------------------------------------------------- reader


class _Reader:
    def __init__(self, display: str) -> None:
        self.display = display
        self.unref = 0

    def fail(self, message: str) -> InputError:
        return InputError(message, self.display)

    def values(self, raw: Any, where: str, path: str, vaulted: set[str]) -> Any:
        """A masked document as values again: vault markers become opaque values."""
        if isinstance(raw, Mapping):
            if raw.get(VAULT_KEY) is True:
                vaulted.add(path)
                ref = raw.get("ref")
                redacted = raw.get("redacted")
                if ref is not None and (not isinstance(ref, int) or isinstance(ref, bool)):
                    raise self.fail(f"{where}: {path}: a vault 'ref' must be an integer")
                if ref is None:
                    self.unref += 1
                    text = f"{_UNREF}{self.unref}"
                else:
                    text = f"{_REF}{ref}"
                return VaultedValue(text, redacted=redacted if isinstance(redacted, str)
                                    else None)
            prefix = f"{path}." if path else ""
            return {str(k): self.values(v, where, prefix + str(k), vaulted)
                    for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.values(v, where, path, vaulted) for v in raw]
        return raw

    def string_map(self, raw: Any, where: str, key: str) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
            raise self.fail(f"{where}: '{key}' must map fact paths to strings")
        return {str(k): v for k, v in raw.items()}

    def location(self, raw: Any, where: str) -> Location | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping) or not isinstance(raw.get("path"), str) or not all(
                isinstance(raw.get(k), int) for k in ("line", "column")):
            raise self.fail(f"{where}: a location needs a path, a line and a column")
        return Location(raw["path"], raw["line"], raw["column"])

    def host(self, i: int, raw: Any, mode: str, default_inventory: str) -> HostFacts:
        where = f"hosts[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("facts"), Mapping):
            raise self.fail(f"{where}: a host needs a 'facts' mapping")
        vaulted: set[str] = set()
        facts = self.values(raw["facts"], where, "", vaulted)
        name = str(raw.get("host", facts.get("host", "")))
        inventory = str(raw.get("inventory", facts.get("inventory", default_inventory)))
        facts.setdefault("host", name)
        facts.setdefault("inventory", inventory)
        prov_raw = raw.get("provenance") or {}
        if not isinstance(prov_raw, Mapping):
            raise self.fail(f"{where}: 'provenance' must be a mapping")
        provenance = {str(k): loc for k, v in prov_raw.items()
                      if (loc := self.location(v, f"{where}.provenance.{k}")) is not None}
        unavailable = self.string_map(raw.get("unavailable"), where, "unavailable")
        if mode == "static":
            # computed facts are the reading catalogue's (a snapshot older than one
            # may lack them)
            declared = FactDocument(values=facts, provenance=provenance,
                                    vaulted=frozenset(vaulted),
                                    unavailable=add_computed(
                                        facts, {**STATIC_UNAVAILABLE, **unavailable}))
            return for_mode(name, inventory, declared, None, mode)
        declared = FactDocument(values=facts, provenance=provenance, vaulted=frozenset(vaulted),
                                unavailable=add_computed(facts, {}))
        seen: set[str] = set()
        observed_raw = raw.get("observed") or {}
        if not isinstance(observed_raw, Mapping):
            raise self.fail(f"{where}: 'observed' must be a mapping")
        host_unavailable = raw.get("host_unavailable")
        if host_unavailable is not None and not isinstance(host_unavailable, str):
            raise self.fail(f"{where}: 'host_unavailable' must be a reason or null")
        observed_values = self.values(observed_raw, where, "", seen)
        if host_unavailable is None:
            unavailable = dict(add_computed(observed_values, unavailable))
        observed = FactDocument(
            values=observed_values,
            sources=self.string_map(raw.get("sources"), where, "sources"),
            vaulted=frozenset(seen), unavailable=unavailable, host_unavailable=host_unavailable)
        return for_mode(name, inventory, declared, observed, mode)

    def diagnostic(self, i: int, raw: Any) -> Diagnostic:
        where = f"diagnostics[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("rule"), str) or \
                not isinstance(raw.get("message"), str):
            raise self.fail(f"{where}: a diagnostic needs a rule and a message")

        def opt(key: str) -> str | None:
            value = raw.get(key)
            return None if value is None else str(value)

        return Diagnostic(rule=raw["rule"], message=raw["message"],
                          inventory=opt("inventory"), host=opt("host"), fact=opt("fact"),
                          location=self.location(raw.get("location"), where),
                          severity=str(raw.get("severity", "warning")))


def is_snapshot(path: Path) -> bool:
    """Whether ``path`` is a facts document (a ``.json`` file), not an inventory."""
    return path.suffix == ".json" and path.is_file()


def parse(text: str, display: str, *, default_inventory: str = "snapshot") -> Snapshot:
    reader = _Reader(display)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not a facts document: {exc.msg}", display, exc.lineno,
                         exc.colno) from None
    if not isinstance(data, Mapping) or "schema_version" not in data or not isinstance(
            data.get("hosts"), list):
        raise reader.fail("not a facts document (`mlflow-policy facts --format json`): it "
                          "needs 'schema_version' and a 'hosts' list")
    if data["schema_version"] != SCHEMA_VERSION:
        raise reader.fail(f"facts document schema_version {data['schema_version']!r} is not "
                          f"supported (this mlflow-policy reads {SCHEMA_VERSION})")
    mode = data.get("mode", "static")
    if mode not in MODES:
        raise reader.fail(f"'mode' must be one of {', '.join(MODES)}, not {mode!r}")
    hosts = sorted((reader.host(i, raw, mode, default_inventory)
                    for i, raw in enumerate(data["hosts"])), key=lambda h: h.key)
    raw_invs = data.get("inventories")
    inventories = tuple(sorted({h.inventory for h in hosts})) if raw_invs is None else \
        tuple(str(i) for i in raw_invs)
    raw_diags = data.get("diagnostics")
    diagnostics = None if raw_diags is None else tuple(
        reader.diagnostic(i, d) for i, d in enumerate(raw_diags))
    return Snapshot(mode=mode, inventories=inventories, hosts=tuple(hosts),
                    diagnostics=diagnostics)


def read(path: Path, display: str) -> Snapshot:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read facts document: {exc}", display) from None
    return parse(text, display, default_inventory=path.stem)
