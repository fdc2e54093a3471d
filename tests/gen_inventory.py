"""Ansible inventories as data, written out as real files.

Shared by the differential test (``tests/test_inventory_generated.py``, which draws the
data with Hypothesis) and the benchmark (``benchmarks/bench_facts.py``, which builds big
realistic fleets with :func:`realistic_fleet`). Values are kept *as written* (raw YAML or
INI text), not as Python values: the point is to make our YAML/INI readers and Ansible's
read the same bytes, including the awkward spellings (``yes``, ``0x1F``, ``012``,
``2001-12-14t21:59:43.10-05:00``, ``!unsafe``, ``!vault``, ``'it''s'``...).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Raw:
    """A YAML scalar exactly as written after ``key: `` (valid in block context)."""

    text: str


@dataclass(frozen=True)
class BlockScalar:
    """A literal/folded block scalar (``|``, ``>-``...), optionally tagged (``!vault``)."""

    indicator: str
    lines: tuple[str, ...]
    tag: str = ""


@dataclass(frozen=True)
class IniRaw:
    """An INI value as written after ``=`` (a host-line token is already shlex-quoted)."""

    text: str


@dataclass(frozen=True)
class UnsafeCollection:
    """A mapping or list tagged ``!unsafe``: everything under it is literal text."""

    value: dict[str, Value] | list[Value]


Value: TypeAlias = (Raw | BlockScalar | IniRaw | UnsafeCollection | dict[str, "Value"]
                    | list["Value"])

# A real ansible-vault ciphertext (password "bench-vault-pass", plaintext
# "not-a-real-secret"), so both readers see a genuine `!vault` block.
VAULT_LINES = (
    "$ANSIBLE_VAULT;1.1;AES256",
    "30616462356437336365383963323566343538663933613066653231653833306532346431363430",
    "3461613436613233316565623361623835336530306238310a393064316161386363633432663766",
    "61323630633866333935383961346630666434306363303964663435333035393361656138366635",
    "6262383135333265350a646663383461623761383537313439313061366534353564656334306332",
    "63353062306635616639643934323133643432626637316362643033356366383332",
)


def vault_value() -> BlockScalar:
    return BlockScalar("|", VAULT_LINES, tag="!vault")


# --------------------------------------------------------------------------- model


@dataclass
class HostEntry:
    """One mention of a host (or a host range like ``web[01:03]``) inside a group."""

    pattern: str
    vars: dict[str, Value] = field(default_factory=dict)
    port: int | None = None


@dataclass
class Group:
    name: str
    hosts: list[HostEntry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Value] = field(default_factory=dict)  # inline, incl. priority


@dataclass
class VarsFile:
    """A file under ``group_vars/`` or ``host_vars/``; ``relpath`` like ``web.yml``,
    ``web`` (no extension), ``web/10-base.yaml`` or ``web/sub/x.json``."""

    relpath: str
    vars: dict[str, Value]
    raw_text: str | None = None  # written verbatim when set (noise files, empty files)

    @property
    def is_json(self) -> bool:
        return self.relpath.endswith(".json")


@dataclass
class Inventory:
    fmt: str  # "yaml" | "ini"
    all_vars: dict[str, Value] = field(default_factory=dict)
    all_hosts: list[HostEntry] = field(default_factory=list)  # directly under all
    groups: list[Group] = field(default_factory=list)  # top-level ones are children of all
    group_vars: list[VarsFile] = field(default_factory=list)
    host_vars: list[VarsFile] = field(default_factory=list)
    # playbook-adjacent vars; None means no playbook dir of our own (an empty one is used)
    playbook_group_vars: list[VarsFile] | None = None
    playbook_host_vars: list[VarsFile] | None = None
    source_is_dir: bool = False  # pass the directory (not the file) as -i
    yaml_roots: bool = False  # YAML: top-level groups as document keys, not all.children
    # With source_is_dir: a second source file in the other format, read after the main
    # one (sources in a directory are read in sorted order), adding to its groups/hosts.
    extra: Inventory | None = None
    # With source_is_dir: files Ansible's directory source must skip (README.md, *.bak...)
    dir_noise: bool = False

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints failing examples with this; the files listed after it are
        # the readable form, so keep the object itself to a summary.
        printer.text(
            f"Inventory({self.fmt}, groups={[g.name for g in self.groups]}, "
            f"{len(self.group_vars)} group_vars + {len(self.host_vars)} host_vars files; "
            "files below)"
        )

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.name == name)

    def top_level(self) -> list[str]:
        children = {c for g in self.groups for c in g.children}
        return [g.name for g in self.groups if g.name not in children]


# --------------------------------------------------------------------------- YAML


def _yaml_value_lines(value: Value, indent: int) -> tuple[str, list[str]]:
    """(text after ``key:``, following lines) for one value at ``indent``."""
    pad = " " * (indent + 2)
    if isinstance(value, Raw):
        return (" " + value.text if value.text else ""), []
    if isinstance(value, BlockScalar):
        head = f" {value.tag} {value.indicator}" if value.tag else f" {value.indicator}"
        return head, [pad + line if line else "" for line in value.lines]
    if isinstance(value, IniRaw):
        raise TypeError("INI value in a YAML document")
    if isinstance(value, UnsafeCollection):
        if not value.value:
            return (" !unsafe {}" if isinstance(value.value, dict) else " !unsafe []"), []
        head, rest = _yaml_value_lines(value.value, indent)
        return " !unsafe" + head, rest
    if isinstance(value, dict):
        if not value:
            return " {}", []
        return "", _yaml_mapping_lines(value, indent + 2)
    if not value:
        return " []", []
    lines: list[str] = []
    for item in value:
        head, rest = _yaml_value_lines(item, indent + 2)
        lines.append(f"{pad}-{head}")
        lines.extend(rest)
    return "", lines


def _yaml_mapping_lines(mapping: dict[str, Value], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in mapping.items():
        head, rest = _yaml_value_lines(value, indent)
        lines.append(f"{pad}{key}:{head}")
        lines.extend(rest)
    return lines


def yaml_document(mapping: dict[str, Value]) -> str:
    return "---\n" + "\n".join(_yaml_mapping_lines(mapping, 0)) + "\n"


def json_document(value: Value) -> str:
    """JSON text; every leaf must be a Raw whose text is a JSON token."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}: {json_document(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_document(v) for v in value) + "]"
    raise TypeError(f"{value!r} cannot be written as JSON")


def _host_key(entry: HostEntry) -> str:
    return entry.pattern if entry.port is None else f"{entry.pattern}:{entry.port}"


def _yaml_group_body(inv: Inventory, group: Group, seen: set[str]) -> Value:
    body: dict[str, Value] = {}
    if group.vars:
        body["vars"] = dict(group.vars)
    if group.hosts:
        body["hosts"] = {_host_key(h): (dict(h.vars) if h.vars else Raw("")) for h in group.hosts}
    if group.children:
        children: dict[str, Value] = {}
        for child in group.children:
            children[child] = _yaml_group_ref(inv, child, seen)
        body["children"] = children
    return body if body else Raw("")


def _yaml_group_ref(inv: Inventory, name: str, seen: set[str]) -> Value:
    """The group's full body the first time it is written, an empty mention after."""
    if name in seen:
        return Raw("")
    seen.add(name)
    return _yaml_group_body(inv, inv.group(name), seen)


def yaml_inventory(inv: Inventory) -> str:
    seen: set[str] = set()
    all_body: dict[str, Value] = {}
    if inv.all_vars:
        all_body["vars"] = dict(inv.all_vars)
    if inv.all_hosts:
        all_body["hosts"] = {
            _host_key(h): (dict(h.vars) if h.vars else Raw("")) for h in inv.all_hosts
        }
    doc: dict[str, Value] = {}
    tops = inv.top_level()
    if inv.yaml_roots:
        doc["all"] = all_body if all_body else Raw("")
        for name in tops:
            doc[name] = _yaml_group_ref(inv, name, seen)
    else:
        if tops:
            all_body["children"] = {name: _yaml_group_ref(inv, name, seen) for name in tops}
        doc["all"] = all_body if all_body else Raw("")
    return yaml_document(doc)


# --------------------------------------------------------------------------- INI


def _ini_host_line(entry: HostEntry) -> str:
    parts = [_host_key(entry)]
    for key, value in entry.vars.items():
        assert isinstance(value, IniRaw), value
        parts.append(f"{key}={value.text}")
    return " ".join(parts)


def ini_inventory(inv: Inventory) -> str:
    lines: list[str] = ["# generated"]
    lines.extend(_ini_host_line(h) for h in inv.all_hosts)
    if inv.all_vars:
        lines.append("[all:vars]")
        lines.extend(f"{k}={v.text}" for k, v in inv.all_vars.items() if isinstance(v, IniRaw))
    for group in inv.groups:
        lines.append(f"[{group.name}]")
        lines.extend(_ini_host_line(h) for h in group.hosts)
        if group.vars:
            lines.append(f"[{group.name}:vars]")
            for key, value in group.vars.items():
                assert isinstance(value, IniRaw), value
                lines.append(f"{key} = {value.text}")
        if group.children:
            lines.append(f"[{group.name}:children]")
            lines.extend(group.children)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- files


def _write_vars_files(base: Path, files: list[VarsFile]) -> None:
    for vf in files:
        path = base / vf.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if vf.raw_text is not None:
            text = vf.raw_text
        elif vf.is_json:
            text = json_document(dict(vf.vars)) + "\n"
        else:
            text = yaml_document(vf.vars)
        path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Written:
    inventory_dir: Path
    source: Path  # what to give -i
    playbook_dir: Path  # always set: an empty directory when the model has none
    has_playbook_vars: bool
    files: tuple[Path, ...]

    def listing(self) -> str:
        """Every written file with its content: readable output for a failing example."""
        out = []
        for path in self.files:
            out.append(f"==> {path.relative_to(self.inventory_dir.parent)} <==")
            out.append(path.read_text(encoding="utf-8").rstrip("\n"))
        return "\n".join(out)


def write_inventory(inv: Inventory, root: Path) -> Written:
    """Write ``inv`` under ``root/inv`` (and ``root/playbooks`` for playbook vars)."""
    inv_dir = root / "inv"
    inv_dir.mkdir(parents=True)
    if inv.fmt == "yaml":
        source = inv_dir / "hosts.yml"
        source.write_text(yaml_inventory(inv), encoding="utf-8")
    else:
        source = inv_dir / "hosts.ini"
        source.write_text(ini_inventory(inv), encoding="utf-8")
    if inv.source_is_dir and inv.extra is not None:
        extra = inv.extra
        if extra.fmt == "yaml":
            (inv_dir / "zz-extra.yml").write_text(yaml_inventory(extra), encoding="utf-8")
        else:
            (inv_dir / "zz-extra.ini").write_text(ini_inventory(extra), encoding="utf-8")
    if inv.source_is_dir and inv.dir_noise:
        # Each would break the run (or add a host) if it were read as an inventory source.
        (inv_dir / "README.md").write_text("# Inventory\n[not]\nreally: {an inventory\n")
        (inv_dir / "hosts.yml.bak").write_text("all:\n  hosts:\n    from-backup:\n")
        (inv_dir / "notes.txt").write_text("[notes]\nfrom-notes\n")
    _write_vars_files(inv_dir / "group_vars", inv.group_vars)
    _write_vars_files(inv_dir / "host_vars", inv.host_vars)
    pb_dir = root / "playbooks"
    pb_dir.mkdir()
    has_pb = inv.playbook_group_vars is not None or inv.playbook_host_vars is not None
    _write_vars_files(pb_dir / "group_vars", inv.playbook_group_vars or [])
    _write_vars_files(pb_dir / "host_vars", inv.playbook_host_vars or [])
    files = tuple(sorted(p for p in root.rglob("*") if p.is_file()))
    return Written(inv_dir, inv_dir if inv.source_is_dir else source, pb_dir, has_pb, files)


def expand_pattern(pattern: str) -> list[str]:
    """Host names of ``pattern``: ``web[01:03]`` -> web01, web02, web03 (one range only)."""
    if "[" not in pattern:
        return [pattern]
    head, rest = pattern.split("[", 1)
    rng, tail = rest.split("]", 1)
    start, end = rng.split(":")
    if start.isdigit():
        width = len(start) if start.startswith("0") else 0
        return [f"{head}{i:0{width}d}{tail}" for i in range(int(start), int(end) + 1)]
    return [f"{head}{chr(c)}{tail}" for c in range(ord(start), ord(end) + 1)]


# --------------------------------------------------------------------------- benchmark fleet


def _q(text: str) -> Raw:
    return Raw(json.dumps(text))


def realistic_fleet(n_hosts: int, seed: int = 0) -> Inventory:
    """A big MLflow fleet laid out like a platform team's inventory.

    Groups nest four levels (``all > region > datacenter > rack``) plus cross-cutting
    role and team groups (diamonds: a host is in a rack, a role and a team group);
    every group has group_vars, a tenth of the hosts have host_vars, and values reference
    each other with Jinja2 the way real ones do.
    """
    rnd = random.Random(seed)
    regions = ["eu", "us", "ap"]
    n_dcs = 2
    hosts_per_rack = 40
    n_racks = max(1, n_hosts // hosts_per_rack)
    teams = ["vision", "nlp", "recsys", "forecast", "search", "ads", "risk", "speech"]
    versions = ["2.17.2", "2.18.0", "2.19.0", "2.20.1"]

    inv = Inventory(fmt="yaml")
    inv.all_vars = {"mlflow_package": Raw("mlflow"), "fleet_name": Raw("ml-platform")}
    groups: dict[str, Group] = {}

    def group(name: str) -> Group:
        if name not in groups:
            groups[name] = Group(name)
            inv.groups.append(groups[name])
        return groups[name]

    group("mlflow").children += ["mlflow_servers", "mlflow_clients"]
    group("mlflow_servers")
    for team in teams:
        group("mlflow_clients").children.append(f"team_{team}")
        group(f"team_{team}").vars = {"ansible_group_priority": Raw("10")}
    for region in regions:
        group(f"region_{region}")
    for r in range(n_racks):
        region = regions[r % len(regions)]
        dc = f"dc_{region}_{(r // len(regions)) % n_dcs}"
        rack = f"rack_{dc}_{r:04d}"
        if dc not in groups[f"region_{region}"].children:
            groups[f"region_{region}"].children.append(dc)
        group(dc).children.append(rack)
        group(rack)
    racks = [g.name for g in inv.groups if g.name.startswith("rack_")]

    for i in range(n_hosts):
        rack = racks[i % len(racks)]
        if i % 50 == 0:
            name = f"mlflow-tracking-{i // 50 + 1}"
            groups["mlflow_servers"].hosts.append(HostEntry(name))
        else:
            team = teams[i % len(teams)]
            name = f"trainer-{team}-{i:05d}"
            groups[f"team_{team}"].hosts.append(HostEntry(name))
        address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        groups[rack].hosts.append(HostEntry(name, vars={"ansible_host": Raw(address)}))
        if i % 10 == 3:
            hv: dict[str, Value] = {
                "mlflow_version": _q(rnd.choice(versions)),
                "mlflow_workers": Raw(str(rnd.choice([2, 4, 8]))),
                "node_labels": {"gpu": Raw(rnd.choice(["a100", "h100", "none"])),
                                "pool": _q(f"pool-{i % 7}")},
            }
            inv.host_vars.append(VarsFile(f"{name}.yml", hv))

    inv.group_vars.append(VarsFile("all.yml", {
        "mlflow_version": _q("2.19.0"),
        "mlflow_python": Raw("/opt/mlflow/venv/bin/python"),
        "mlflow_python_version": _q("3.11.9"),
        "mlflow_tracking_domain": Raw("mlflow.example.internal"),
        "mlflow_db_password": vault_value(),
        "mlflow_env": {
            "MLFLOW_TRACKING_URI": _q("https://{{ mlflow_tracking_fqdn }}"),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": _q("120"),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": _q("7"),
        },
    }))
    inv.group_vars.append(VarsFile("mlflow_servers.yml", {
        "mlflow_role": Raw("tracking_server"),
        "mlflow_host": Raw("0.0.0.0"),
        "mlflow_port": Raw("5000"),
        "mlflow_workers": Raw("4"),
        "mlflow_serve_artifacts": Raw("true"),
        "mlflow_backend_store_uri": _q(
            "postgresql://mlflow:{{ mlflow_db_password }}@db.{{ mlflow_tracking_domain }}/mlflow"
        ),
        "mlflow_default_artifact_root": Raw("s3://ml-artifacts/mlflow"),
        "mlflow_artifacts_destination": Raw("s3://ml-artifacts/mlflow"),
        "mlflow_server_url": _q("https://{{ mlflow_tracking_fqdn }}"),
    }))
    inv.group_vars.append(VarsFile("mlflow_clients.yml", {"mlflow_role": Raw("client")}))
    for team in teams:
        inv.group_vars.append(VarsFile(f"team_{team}.yml", {
            "team": Raw(team),
            "mlflow_experiment_prefix": _q(f"/{team}/"),
            "mlflow_env": {
                "MLFLOW_TRACKING_URI": _q("https://{{ mlflow_tracking_fqdn }}"),
                "MLFLOW_EXPERIMENT_NAME": _q("/" + team + "/{{ inventory_hostname }}"),
                "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": Raw("'true'"),
            },
        }))
    for name in groups:
        if name.startswith("region_"):
            region = name.removeprefix("region_")
            inv.group_vars.append(VarsFile(f"{name}.yml", {
                "region": Raw(region),
                "mlflow_tracking_fqdn": _q(f"{region}.{{{{ mlflow_tracking_domain }}}}"),
                "s3_endpoint": _q(f"https://s3.{region}.example.internal"),
            }))
        elif name.startswith("dc_"):
            inv.group_vars.append(VarsFile(f"{name}.yml", {
                "datacenter": Raw(name),
                "ntp_servers": [Raw(f"ntp{k}.{name}.example.internal") for k in (1, 2)],
            }))
        elif name.startswith("rack_"):
            inv.group_vars.append(VarsFile(f"{name}.yml", {
                "rack": Raw(name),
                "rack_power_budget_kw": Raw(str(rnd.choice([12, 17, 24]))),
            }))
    return inv
