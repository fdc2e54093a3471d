"""Provenance an editor can use (``mlflow_policy.inventory.origin``): every value the
resolver records, in the example inventories, the fixtures and the real-inventory corpus,
is found again by a round-trip YAML parser (ruamel.yaml, what remediation edits with) at
the recorded key path of the recorded file, with the same value; INI origins name the
line and section that hold it; the layers below a winner and the hosts that share an entry
are what precedence says."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path
from typing import Any

import pytest
import ruamel.yaml.error
from ruamel.yaml import YAML

from mlflow_policy.core import Unsafe, VaultedValue
from mlflow_policy.inventory import ResolvedInventory, VaultSecrets, resolve_inventory
from mlflow_policy.inventory.origin import Origin
from tests import test_inventory_fixtures as fixtures
from tests import test_inventory_real as real
from tests.support import REPO


def _examples() -> list[tuple[str, Path, Path, Path | None]]:
    out = [(f"example:{p.name}", REPO / "inventories" / p.name, REPO, None)
           for p in sorted((REPO / "inventories").iterdir()) if p.is_dir()]
    for name in fixtures.CASES:
        case = fixtures._case(name)
        base = fixtures.FIXTURES / name
        playbook = case.get("playbook_dir")
        out.append((f"fixture:{name}", base / case["inventory"], base,
                    base / playbook if playbook else None))
    for folder, source, _args, playbook in real.CASES:
        base = real.REAL / folder
        out.append((f"real:{folder}:{source}", base / source, base,
                    base / playbook if playbook else None))
    vault = real.REAL / "AlanCoding__Ansible-inventory-file-examples__vault"
    out.append(("real:vault-files", vault / "vault/host_and_group_vars/inventory.ini", vault,
                None))
    arch = real.REAL / "archlinux__infrastructure__hosts"
    out.append(("real:archlinux", arch / "hosts", arch, None))
    return out


INVENTORIES = _examples()


def _plain(value: Any) -> Any:
    """A loaded value compared by content: ruamel's and ours, tags and vaults as text."""
    tag = getattr(value, "tag", None)
    if isinstance(value, VaultedValue):
        return ("vault", "".join(value.ciphertext.split()))
    if tag is not None and getattr(tag, "value", None) in ("!vault",):
        return ("vault", "".join(str(value.value).split()))
    if isinstance(value, dict):
        if set(value) == {"__ansible_vault"}:
            return ("vault", "".join(str(value["__ansible_vault"]).split()))
        if set(value) == {"__ansible_unsafe"}:
            return str(value["__ansible_unsafe"])
        return {"<y/n>" if isinstance(k, bool) or k in _YN else str(k): _plain(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if tag is not None and hasattr(value, "value"):  # !unsafe and other tagged scalars
        return _plain(value.value)
    if isinstance(value, Unsafe):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value) if isinstance(value, str) else value


_DOCS: dict[Path, Any] = {}
# ruamel's YAML 1.1 reads the keys y and n as booleans; PyYAML and Ansible read text
_YN = ("y", "Y", "n", "N")


def _load(origin: Origin) -> Any:
    doc = _DOCS.get(origin.file)
    if doc is None:
        text = origin.file.read_text(encoding="utf-8")
        if origin.format == "toml":
            doc = tomllib.loads(text)
        else:
            yaml = YAML(typ="rt")
            yaml.version = (1, 1)  # Ansible reads YAML 1.1 (0o17 is text, yes is true)
            with warnings.catch_warnings():
                # ruamel warns that 1e3 is text in YAML 1.1: so do Ansible and we
                warnings.simplefilter("ignore", ruamel.yaml.error.MantissaNoDotYAML1_1Warning)
                doc = yaml.load(text)
        _DOCS[origin.file] = doc
    return doc


def _at(doc: Any, key_path: tuple[Any, ...]) -> Any:
    node = doc
    for key in key_path:
        assert isinstance(node, dict), f"{key!r} under a {type(node).__name__}"
        matches = [k for k in node if k == key or str(k) == str(key)
                   or (k is True and key in _YN) or (k is False and key in _YN)]
        assert matches, f"no key {key!r} (has {list(node)[:10]})"
        node = node[matches[0]]
    return node


def _raw_at(inv: ResolvedInventory, host: str, origin: Origin, path: str) -> Any:
    """The value written at the origin: the host's raw value when it is the winner."""
    value: Any = inv.hosts[host].raw_vars
    parts = path.split(".")
    key = next(k for k in sorted(value, key=len, reverse=True)
               if path == k or path.startswith(f"{k}."))
    value = value[key]
    rest = path[len(key) + 1:]
    while rest:
        sub = next(k for k in sorted(value, key=lambda k: len(str(k)), reverse=True)
                   if rest == str(k) or rest.startswith(f"{k}."))
        value = value[sub]
        rest = rest[len(str(sub)) + 1:]
    del parts
    return value


def _check(inv: ResolvedInventory, host: str, path: str, origin: Origin, winner: bool) -> None:
    assert origin.file.is_absolute(), origin
    assert origin.file.is_file(), origin
    assert origin.location.line >= 1
    if origin.encrypted:
        return  # a whole-file vault: its text is ciphertext, edited with ansible-vault
    if origin.format == "ini":
        lines = origin.file.read_text(encoding="utf-8").splitlines()
        line = lines[origin.location.line - 1]
        section = origin.key_path[0]
        header = next((x.strip() for x in reversed(lines[:origin.location.line - 1])
                       if x.strip().startswith("[")), "[ungrouped]")
        assert header.startswith(f"[{section}]"), (origin, header)
        if section.endswith(":vars"):
            assert line.split("=", 1)[0].strip() == origin.key_path[1], (origin, line)
        else:
            assert line.split()[0] == origin.key_path[1], (origin, line)
            if len(origin.key_path) > 2:
                assert f"{origin.key_path[2]}=" in line, (origin, line)
        return
    node = _at(_load(origin), origin.key_path)
    if origin.key_path and "hosts" in origin.key_path[-2:-1] and path == "ansible_port":
        return  # the port of a host pattern ("web1:2222"): the key path is the pattern's
    if winner and origin.key_path[-1] == path.rsplit(".", 1)[-1]:
        assert _plain(node) == _plain(_raw_at(inv, host, origin, path)), (origin, path)


@pytest.mark.parametrize(("label", "source", "root", "playbook"), INVENTORIES,
                         ids=[i[0] for i in INVENTORIES])
def test_every_origin_is_found_by_a_round_trip_parser(
        label: str, source: Path, root: Path, playbook: Path | None, tmp_path: Path) -> None:
    secrets = None
    if "host_and_group_vars" in str(source):
        (tmp_path / "pw").write_text("password")
        secrets = VaultSecrets.from_cli([tmp_path / "pw"])
    inv = resolve_inventory(source, playbook_dir=playbook, root=root, vault_secrets=secrets)
    assert inv.origins is not None
    checked = 0
    for host, resolved in inv.hosts.items():
        for path, loc in resolved.provenance.items():
            origin = inv.origins.origin(host, path)
            assert origin is not None, (label, host, path)
            assert origin.location == loc, (host, path, origin)
            _check(inv, host, path, origin, True)
            for lower in origin.below:
                _check(inv, host, path, lower, False)
            checked += 1
    assert checked or not any(h.provenance for h in inv.hosts.values())
    if secrets is not None:  # whole-file vaults, decrypted: their values say so
        assert any(o.encrypted for h in inv.hosts for o in
                   filter(None, (inv.origins.origin(h, p) for p in inv.hosts[h].provenance)))
    _DOCS.clear()


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_layers_below_and_hosts_sharing_an_entry(tmp_path: Path) -> None:
    _write(tmp_path, {
        "inv/hosts.yml": (
            "all:\n"
            "  vars: {x: 0}\n"
            "  children:\n"
            "    mlflow_servers:\n"
            "      vars:\n"
            "        mlflow_env: {MLFLOW_X: inline}\n"
            "      hosts:\n"
            "        a: {}\n"
            "        b: {}\n"
            "        c: {mlflow_env: {MLFLOW_X: host}}\n"),
        "inv/group_vars/mlflow_servers.yml": "mlflow_env:\n  MLFLOW_X: gv\n",
        "inv/host_vars/b.yml": "mlflow_env:\n  MLFLOW_Y: other\n",
    })
    inv = resolve_inventory(tmp_path / "inv", root=tmp_path)
    assert inv.origins is not None
    hosts_yml = tmp_path / "inv" / "hosts.yml"
    group_file = tmp_path / "inv" / "group_vars" / "mlflow_servers.yml"
    inline = ("all", "children", "mlflow_servers", "vars", "mlflow_env", "MLFLOW_X")

    a = inv.origins.origin("a", "mlflow_env.MLFLOW_X")
    assert a is not None
    assert (a.file, a.format, a.key_path, a.layer, a.location.line) == (
        group_file, "yaml", ("mlflow_env", "MLFLOW_X"), "inventory group_vars:mlflow_servers",
        2)
    assert [(o.file, o.key_path, o.layer) for o in a.below] == [
        (hosts_yml, inline, "inventory file group vars:mlflow_servers")]

    c = inv.origins.origin("c", ["mlflow_env", "MLFLOW_X"])
    assert c is not None
    assert (c.key_path, c.layer) == (
        ("all", "children", "mlflow_servers", "hosts", "c", "mlflow_env", "MLFLOW_X"),
        "inventory file host vars")
    assert [o.layer for o in c.below] == [
        "inventory group_vars:mlflow_servers", "inventory file group vars:mlflow_servers"]

    # host_vars/b.yml replaces the whole mapping: b has no MLFLOW_X at all
    assert inv.origins.origin("b", "mlflow_env.MLFLOW_X") is None
    b = inv.origins.origin("b", "mlflow_env")
    assert b is not None
    assert b.layer == "inventory host_vars"
    assert [o.layer for o in b.below] == [
        "inventory group_vars:mlflow_servers", "inventory file group vars:mlflow_servers"]

    assert inv.origins.hosts_sharing(group_file, ("mlflow_env", "MLFLOW_X")) == ("a",)
    assert inv.origins.hosts_sharing(hosts_yml, ("all", "vars", "x")) == ("a", "b", "c")
    assert inv.origins.hosts_sharing(hosts_yml, inline) == ()
    assert inv.origins.origin("a", "no_such_var") is None
    assert inv.origins.origin("nobody", "x") is None


def test_ini_and_toml_origins(tmp_path: Path) -> None:
    _write(tmp_path, {
        "ini/hosts": (
            "[web]\n"
            "web[1:2] x=1 y=2\n"
            "web3 x=3\n"
            "\n"
            "[web:vars]\n"
            "x = 0\n"
            "z=9\n"),
        "toml/hosts.toml": (
            "[web.vars]\n"
            "z = 9\n"
            "[web.hosts.web1]\n"
            "x = 1\n"),
    })
    ini = resolve_inventory(tmp_path / "ini" / "hosts", root=tmp_path)
    assert ini.origins is not None
    web1 = ini.origins.origin("web1", "x")
    assert web1 is not None
    assert (web1.format, web1.key_path, web1.location.line, web1.layer) == (
        "ini", ("web", "web[1:2]", "x"), 2, "inventory file host vars")
    assert ini.origins.hosts_sharing(web1.file, web1.key_path) == ("web1", "web2")
    z = ini.origins.origin("web3", "z")
    assert z is not None
    assert (z.key_path, z.location.line, z.layer) == (
        ("web:vars", "z"), 7, "inventory file group vars:web")
    assert ini.origins.hosts_sharing(z.file, z.key_path) == ("web1", "web2", "web3")
    assert [(o.key_path, o.location.line) for o in web1.below] == [(("web:vars", "x"), 6)]

    toml = resolve_inventory(tmp_path / "toml" / "hosts.toml", root=tmp_path)
    assert toml.origins is not None
    x = toml.origins.origin("web1", "x")
    z = toml.origins.origin("web1", "z")
    assert x is not None
    assert z is not None
    assert (x.format, x.key_path, z.key_path) == (
        "toml", ("web", "hosts", "web1", "x"), ("web", "vars", "z"))


def test_json_group_vars_and_the_playbook_layer(tmp_path: Path) -> None:
    _write(tmp_path, {
        "inv/hosts.ini": "[g]\nh1\n",
        "inv/group_vars/all.json": '{"v": {"k": 1}}\n',
        "play/group_vars/g.yml": "v:\n  k: 2\n",
    })
    inv = resolve_inventory(tmp_path / "inv" / "hosts.ini", playbook_dir=tmp_path / "play",
                            root=tmp_path)
    assert inv.origins is not None
    got = inv.origins.origin("h1", "v.k")
    assert got is not None
    assert (got.format, got.layer, got.key_path) == ("yaml", "playbook group_vars:g", ("v", "k"))
    assert [(o.format, o.layer, o.file.name) for o in got.below] == [
        ("json", "inventory group_vars:all", "all.json")]
