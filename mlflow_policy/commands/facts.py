"""``mlflow-policy facts``: the fact documents rules see, with where each value came from."""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from mlflow_policy.commands import common
from mlflow_policy.errors import UsageError
from mlflow_policy.facts.views import ProvenanceView
from mlflow_policy.model import HostFacts, Location
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
    """The facts report, one host at a time. Masked documents and provenance listings of
    hosts that share the resolver's mappings are computed once."""
    masker = Masker(vault_marker=True)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    prov_cache: dict[Any, tuple[Any, str]] = {}
    entries: dict[tuple[str, Location], str] = {}

    def entry(path: str, loc: Location) -> str:
        # One group_vars line locates the same fact for thousands of hosts: encode it once.
        found = entries.get((path, loc))
        if found is None:
            found = entries[(path, loc)] = encode(path) + ":" + encode(loc.to_json())
        return found

    yield '{"schema_version":1,"mode":"static","hosts":['
    for i, h in enumerate(hosts):
        prov = h.provenance
        key = prov.identity if isinstance(prov, ProvenanceView) else None
        hit = prov_cache.get(key) if key is not None else None
        if hit is not None:
            prov_json = hit[1]
        else:
            pairs = prov.located() if isinstance(prov, ProvenanceView) else prov.items()
            prov_json = "{" + ",".join(entry(p, loc) for p, loc in sorted(pairs)) + "}"
            if key is not None:
                prov_cache[key] = (prov, prov_json)
        yield (("," if i else "") + '{"host":' + encode(h.host) + ',"inventory":'
               + encode(h.inventory) + ',"facts":' + encode(masker.facts(h))
               + ',"provenance":' + prov_json + "}")
    yield "]}\n"


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
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    config, root = common.run_config(args)
    fleet = common.fleet(args, config, root)
    hosts = _select(fleet.hosts, args.hosts)
    if args.format == "json":
        common.write_stream(_json_chunks(hosts), args.output)
    else:
        common.write_output(render_text(hosts, args.vars), args.output)
    return 0
