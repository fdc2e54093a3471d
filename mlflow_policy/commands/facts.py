"""``mlflow-policy facts``: the fact documents rules see, with where each value came from."""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mlflow_policy import parallel
from mlflow_policy.commands import common
from mlflow_policy.core import HostFacts, Location
from mlflow_policy.display import escape_controls
from mlflow_policy.errors import UsageError
from mlflow_policy.facts.views import ProvenanceView
from mlflow_policy.gcpause import long_lived
from mlflow_policy.secrets import Masker, mask

FORMATS = ("json", "text")
# Printed first in the text view, in this order; everything else follows sorted.
_IDENTITY = ("inventory", "groups", "role")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hosts", nargs="*", metavar="HOST",
                        help="only these hosts (inventory hostnames or globs)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--vars", action="store_true",
                        help="text format: also list every resolved hostvar (vars.*)")
    common.add_config_options(parser)
    common.add_inventory_options(parser)
    common.add_output_options(parser)


def _select(hosts: tuple[HostFacts, ...], patterns: list[str]) -> list[HostFacts]:
    if not patterns:
        return list(hosts)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(h.host, p) for h in hosts)]
    if unmatched:
        raise UsageError(f"no host matches {', '.join(unmatched)} in the inventories read")
    return [h for h in hosts if any(fnmatch.fnmatchcase(h.host, p) for p in patterns)]


def _json_chunks(hosts: list[HostFacts]) -> Iterator[str]:
    """The facts report, one host at a time (in two processes on a large fleet)."""
    yield '{"schema_version":1,"mode":"static","hosts":['
    first = True
    for chunk in parallel.chunks(hosts, _host_entries):
        # every entry starts with a comma, the first of the list must not
        yield chunk[1:] if first and chunk else chunk
        first = first and not chunk
    yield "]}\n"


def _host_entries(hosts: Sequence[HostFacts]) -> Iterator[str]:
    """',{host entry}' per host. Masked documents are cached by the masker; provenance
    entries are encoded once per (hostvar, location): one group_vars line locates the same
    facts for thousands of hosts."""
    masker = Masker(vault_marker=True)
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
        yield (',{"host":' + encode(h.host) + ',"inventory":'
               + encode(h.inventory) + ',"facts":' + encode(masker.facts(h))
               + ',"provenance":' + listing(h.provenance) + "}")


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value, key=str):
            yield from _leaves(value[key], f"{path}.{key}")
    else:
        yield path, value


def render_text(hosts: list[HostFacts], with_vars: bool) -> str:
    out: list[str] = []
    for h in hosts:
        masked = mask(dict(h.facts), "", h)
        out.append(f"{h.inventory}/{h.host}")
        rows: list[tuple[str, str, str]] = []
        for key in (*_IDENTITY, *sorted(k for k in masked if k not in (*_IDENTITY, "host"))):
            if key not in masked or (key == "vars" and not with_vars):
                continue
            for path, value in _leaves(masked[key], key):
                loc = h.provenance.get(path)
                shown = ", ".join(map(str, value)) if key == "groups" else json.dumps(value)
                rows.append((path, shown, f"{loc.path}:{loc.line}" if loc else ""))
        width = max((len(r[0]) for r in rows), default=0)
        vwidth = min(max((len(r[1]) for r in rows), default=0), 48)
        out.extend(f"  {p:<{width}}  {v:<{vwidth}}  {w}".rstrip() for p, v, w in rows)
        out.append("")
    out.append(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}")
    return escape_controls("\n".join(out) + "\n")  # host names and paths come from PRs


def run(args: argparse.Namespace) -> int:
    config, root = common.run_config(args)
    fleet = common.fleet(args, config, root)
    hosts = _select(fleet.hosts, args.hosts)
    if args.format == "json":
        # the masker's caches grow with the fleet; collections over them would free nothing
        with long_lived():
            common.write_stream(_json_chunks(hosts), args.output)
    else:
        common.write_output(render_text(hosts, args.vars), args.output)
    return 0
