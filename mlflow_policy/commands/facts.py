"""``mlflow-policy facts``: the fact documents rules see, with where each value came from."""

from __future__ import annotations

import argparse
import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any

from mlflow_policy.commands import common
from mlflow_policy.core import HostFacts
from mlflow_policy.display import escape_controls
from mlflow_policy.errors import UsageError
from mlflow_policy.secrets import mask, mask_text

FORMATS = ("json", "text")
# Printed first in the text view, in this order; everything else follows sorted.
_IDENTITY = ("inventory", "groups", "role")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hosts", nargs="*", metavar="HOST",
                        help="only these hosts (inventory hostnames or globs)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--vars", action="store_true",
                        help="text format: also list every resolved hostvar (vars.*)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="on stderr, note what the run did unusually (a second process "
                             "that failed; the report is complete all the same)")
    common.add_config_options(parser)
    common.add_inventory_options(parser)
    common.add_live_options(parser)
    common.add_output_options(parser)


def _select(hosts: tuple[HostFacts, ...], patterns: list[str]) -> list[HostFacts]:
    if not patterns:
        return list(hosts)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(h.host, p) for h in hosts)]
    if unmatched:
        raise UsageError(f"no host matches {', '.join(unmatched)} in the inventories read")
    return [h for h in hosts if any(fnmatch.fnmatchcase(h.host, p) for p in patterns)]


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
        if h.observed is not None and h.observed.host_unavailable is not None:
            # live: a host not gathered at all, in one line rather than one per fact
            rows.append(("observed", "(unavailable)", mask_text(h.observed.host_unavailable)))
        elif h.observed is not None:
            # live: what could not be read, and why (rules on it are skipped, not failed)
            rows.extend((path, "(unavailable)", mask_text(reason))
                        for path, reason in sorted(h.unavailable.items()))
        width = max((len(r[0]) for r in rows), default=0)
        vwidth = min(max((len(r[1]) for r in rows), default=0), 48)
        out.extend(f"  {p:<{width}}  {v:<{vwidth}}  {w}".rstrip() for p, v, w in rows)
        out.append("")
    out.append(f"{len(hosts)} host{'s' if len(hosts) != 1 else ''}")
    return escape_controls("\n".join(out) + "\n")  # host names and paths come from PRs


def run(args: argparse.Namespace) -> int:
    from mlflow_policy.facts import snapshot

    config, root = common.run_config(args)
    fleet = common.fleet(args, config, root)
    hosts = _select(fleet.hosts, args.hosts)
    if args.format == "json":
        chosen = {h.key for h in hosts}
        diagnostics = [d for d in fleet.diagnostics if d.host is None
                       or (d.inventory or "", d.host) in chosen]
        common.write_stream(snapshot.write(hosts, mode=fleet.mode,
                                           inventories=fleet.inventories,
                                           diagnostics=diagnostics), args.output)
    else:
        common.write_output(render_text(hosts, args.vars), args.output)
    return 0
