"""The resolver's building blocks against Ansible's own functions (imported in-process
as the oracle): host patterns, INI value typing, host-line splitting, locations."""

from __future__ import annotations

import ast
import shlex
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlflow_policy.core import Location
from mlflow_policy.inventory import ResolvedHost, resolve_inventory
from mlflow_policy.inventory.hostpatterns import PatternError, expand_hostpattern
from mlflow_policy.inventory.ini import parse_value, split_host_line
from tests.oracle import require_ansible


def _ansible_pattern(pattern: str) -> tuple[list[str], int | None] | str:
    require_ansible()
    from ansible.plugins.inventory import BaseInventoryPlugin

    try:
        names, port = BaseInventoryPlugin()._expand_hostpattern(pattern)
    except Exception:
        return "error"
    return list(names), port


def _ours(pattern: str) -> tuple[list[str], int | None] | str:
    try:
        return expand_hostpattern(pattern)
    except PatternError:
        return "error"


PATTERNS = [
    "web01", "web[01:03]", "db-[a:c]", "x[A:C]", "n[1:10:3]", "r[1:2]-u[01:02]", "y[:2]",
    "api.example.com:2222", "10.1.2.3:22", "[fe80::1]:2201", "fe80::2", "::1", "h_:22",
    "web[1:3].example.com:80", "10.0.[1:2].5", "a[01:3]", "a[3:1]", "a[1:]", "a[z:a]",
    "a[1:4:x]", "a]b[", "a[1:2", "[x]:1", "ho st", "-bad", "bad-", "ünïcode.example",
    "x[0:0]", "h:0", "1.2.3.4.5:6",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_host_patterns_like_ansible(pattern: str) -> None:
    assert _ours(pattern) == _ansible_pattern(pattern)


@given(st.text(alphabet="ab01:[]-._", max_size=12))
def test_host_patterns_like_ansible_generated(pattern: str) -> None:
    if pattern.count("[") > 3:  # keep expansions small
        return
    assert _ours(pattern) == _ansible_pattern(pattern)


def _ansible_value(text: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except Exception:
        return "error"

    def coerce(v: Any) -> Any:
        if isinstance(v, (list, tuple, set)):
            return [coerce(x) for x in v]
        if isinstance(v, dict):
            return {k: coerce(x) for k, x in v.items()}
        if v is ...:
            return "..."
        if isinstance(v, complex):
            return str(v)
        if isinstance(v, bytes):
            return v.decode("utf-8", "surrogateescape")
        return v

    return coerce(value)


VALUES = ["0", "00", "007", "42", "-7", "1.5", "1e3", "0x1f", "1_000", "True", "None",
          "yes", "if", "é", "10.0.0.1", "1.2.3", "/usr/bin/x", "/x[1]", "[1, (2, 3)]",
          "{'a': {1, 2}}", "...", "1j", "b'x'", "'quoted'", "a=b", "5 # c", "foo # c",
          "__debug__", "", "  ", "[", "{{ x }}", "{{ x | int }}", "0o17", "1.", ".5"]


@pytest.mark.parametrize("text", VALUES)
def test_ini_values_typed_like_ansible(text: str) -> None:
    expected = _ansible_value(text)
    try:
        got = parse_value(text)
    except ValueError:
        got = "error"
    assert got == expected
    assert type(got) is type(expected)


@given(st.text(alphabet="0123456789.-_/aeTrNn'\"[]{}(),: x#", max_size=10))
def test_ini_values_typed_like_ansible_generated(text: str) -> None:
    expected = _ansible_value(text)
    try:
        got = parse_value(text)
    except ValueError:
        got = "error"
    assert (got, type(got)) == (expected, type(expected))


@given(st.text(alphabet="ab= \t'\"#\\x.", max_size=16))
def test_host_line_split_is_shlex(line: str) -> None:
    try:
        expected: Any = shlex.split(line, comments=True)
    except ValueError:
        expected = "error"
    try:
        got: Any = split_host_line(line)
    except ValueError:
        got = "error"
    assert got == expected


def test_locations_point_at_the_winning_value(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts").write_text(
        "[g]\nh1 mlflow_port=5000   mlflow_host=a.example\n\n[g:vars]\nmlflow_version = 2.9.0\n")
    (tmp_path / "group_vars" / "all.yml").write_text(
        "mlflow_env:\n  MLFLOW_TRACKING_URI: http://x\n  nested:\n    deep: 1\n"
        "mlflow_version: '1.0'\n")
    host = resolve_inventory(tmp_path / "hosts", root=tmp_path).hosts["h1"]
    assert host.provenance["mlflow_port"] == Location("hosts", 2, 16)
    assert host.provenance["mlflow_host"] == Location("hosts", 2, 35)
    # group inline loses to the all group_vars file (Ansible's order)
    assert host.raw_vars["mlflow_version"] == "1.0"
    assert host.provenance["mlflow_version"] == Location("group_vars/all.yml", 5, 17)
    assert host.provenance["mlflow_env"] == Location("group_vars/all.yml", 2, 3)
    assert host.provenance["mlflow_env.MLFLOW_TRACKING_URI"] == Location(
        "group_vars/all.yml", 2, 24)
    assert host.provenance["mlflow_env.nested.deep"] == Location("group_vars/all.yml", 4, 11)


def test_host_override_replaces_nested_provenance(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "hosts").write_text("[g]\nh1\nh2\n")
    (tmp_path / "group_vars" / "g.yml").write_text("env:\n  A: 1\n  B: 2\n")
    (tmp_path / "host_vars" / "h1.yml").write_text("env:\n  A: 9\n")
    inv = resolve_inventory(tmp_path / "hosts", root=tmp_path)
    assert "env.B" not in inv.hosts["h1"].provenance
    assert inv.hosts["h1"].provenance["env.A"].path == "host_vars/h1.yml"
    assert inv.hosts["h2"].provenance["env.B"].path == "group_vars/g.yml"


def test_name_and_groups(tmp_path: Path) -> None:
    inv_dir = tmp_path / "prod"
    inv_dir.mkdir()
    (inv_dir / "hosts").write_text("lonely\n[a:children]\nb\n[b]\nh\n")
    inv = resolve_inventory(inv_dir, root=tmp_path)
    assert inv.name == "prod"
    assert inv.hosts["h"].groups == ("a", "b")
    assert inv.hosts["lonely"].groups == ()
    assert resolve_inventory(inv_dir / "hosts", root=tmp_path).name == "hosts"
    assert resolve_inventory(inv_dir, name="x", root=tmp_path).name == "x"


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, mlflow_policy.inventory as m; "
            "print(any(k.split('.')[0] in ('ansible', 'jinja2') for k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_templates_without_jinja_never_import_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "hosts").write_text("[g]\nh1 a=1 b='x'\n")
    code = ("import sys; from pathlib import Path; "
            "from mlflow_policy.inventory import resolve_inventory; "
            f"resolve_inventory(Path({str(tmp_path / 'hosts')!r})); "
            "print('jinja2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("template", [
    "{{ 2 ** 100000 }}", "{{ (2 ** 10000) ** 10000 }}", "{{ 'x' * 10 ** 9 }}",
    "{{ range(10 ** 9) | list }}", "{{ ''.__class__.__mro__ }}", "{{ [].append(1) }}",
])
def test_hostile_templates_are_unresolved_not_run(tmp_path: Path, template: str) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts").write_text("h1\n")
    (tmp_path / "group_vars" / "all.yml").write_text(f"bad: \"{template}\"\n")
    inv = resolve_inventory(tmp_path / "hosts", root=tmp_path)
    assert inv.hosts["h1"].vars["bad"] == template
    assert [d.fact for d in inv.diagnostics] == ["vars.bad"]


def _host_beside_a_vault_file(tmp_path: Path, all_yml: str) -> ResolvedHost:
    """Host h1 of group g, whose group_vars/g.yml is a vault file (token: s3cret) opened
    with a password file, and whose group_vars/all.yml is ``all_yml``."""
    require_ansible()
    from ansible.parsing.vault import VaultLib, VaultSecret

    from mlflow_policy.inventory import VaultSecrets

    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts").write_text("[g]\nh1\n")
    secret = VaultLib([("default", VaultSecret(b"pw"))]).encrypt(b"token: s3cret\n")
    (tmp_path / "group_vars" / "g.yml").write_bytes(secret)
    (tmp_path / "group_vars" / "all.yml").write_text(all_yml)
    password = tmp_path / "pw"
    password.write_text("pw\n")
    return resolve_inventory(tmp_path / "hosts", root=tmp_path,
                             vault_secrets=VaultSecrets.from_cli([password])).hosts["h1"]


def test_values_rendered_from_a_decrypted_vault_count_as_vaulted(tmp_path: Path) -> None:
    host = _host_beside_a_vault_file(
        tmp_path, 'header: "Bearer {{ token }}"\nindirect: "x-{{ header }}"\n'
        'plain: "{{ other }}"\nother: 1\n')
    assert host.vars["header"] == "Bearer s3cret"
    assert {"token", "header", "indirect"} <= host.vaulted
    assert "plain" not in host.vaulted
    assert host.provenance["token"] == Location("group_vars/g.yml", 1, 8)


def test_list_items_rendered_from_a_decrypted_vault_mark_their_list(tmp_path: Path) -> None:
    # Fact paths stop at a list (lookup and masking never index one): an item rendered
    # from a secret must mark the list itself, or reports would print the plaintext.
    host = _host_beside_a_vault_file(
        tmp_path, 'listed: ["{{ token }}", plain]\nnested: {a: ["x-{{ token }}"]}\n'
        'free: ["{{ 1 }}"]\n')
    assert host.vars["listed"] == ["s3cret", "plain"]
    assert {"token", "listed", "nested.a"} <= host.vaulted
    assert not {"listed.0", "nested.a.0", "free"} & host.vaulted


def test_vars_magic_reads_the_hosts_own_vars(tmp_path: Path) -> None:
    # As in a play (ansible-inventory has no 'vars'; a playbook run, which deploys, does).
    (tmp_path / "hosts").write_text("h1 p=5 q=\"{{ vars['p'] + 1 }}\" r=\"{{ vars.p }}\"\n")
    host = resolve_inventory(tmp_path / "hosts", root=tmp_path).hosts["h1"]
    assert (host.vars["q"], host.vars["r"]) == (6, 5)


def test_a_vault_encrypted_inventory_file(tmp_path: Path) -> None:
    require_ansible()
    from ansible.parsing.vault import VaultLib, VaultSecret

    from mlflow_policy.inventory import VaultSecrets

    (tmp_path / "hosts").write_bytes(VaultLib([("default", VaultSecret(b"pw"))]).encrypt(
        b"[g]\nh1:2222 token=s3cret\n"))
    password = tmp_path / "pw"
    password.write_text("pw")
    inv = resolve_inventory(tmp_path / "hosts", root=tmp_path,
                            vault_secrets=VaultSecrets.from_cli([password]))
    assert inv.hosts["h1"].raw_vars == {"ansible_port": 2222, "token": "s3cret"}
    assert {"ansible_port", "token"} <= inv.hosts["h1"].vaulted
    skipped = resolve_inventory(tmp_path / "hosts", root=tmp_path)
    assert skipped.hosts == {}
    assert [d.rule for d in skipped.diagnostics] == ["mlflow-policy/vaulted-file"]


def test_opaque_templates_get_a_redacted_text_when_they_only_print_secrets() -> None:
    from mlflow_policy.core import VaultedValue
    from mlflow_policy.inventory.data import Entry
    from mlflow_policy.inventory.template import HostScope

    at = Location("x.yml", 1, 1)
    entries = {name: Entry(value, at) for name, value in {
        "pw": VaultedValue("CT"), "user": "mlflow",
        "uri": "postgresql://{{ user }}:{{ pw }}@db/mlflow",
        "compared": "{{ pw == 'x' }}", "rewritten": "{{ pw | regex_replace('.', 'x') }}",
    }.items()}
    scope = HostScope(entries, {})
    for name in ("uri", "compared", "rewritten"):
        assert isinstance(scope.render(name), VaultedValue)
    assert scope._redacted(entries["uri"].value) == "postgresql://mlflow:***@db/mlflow"
    assert scope._redacted(entries["compared"].value) is None
    assert scope._redacted(entries["rewritten"].value) is None
    assert scope.vaulted_paths == {"uri", "compared", "rewritten"}
    assert not scope.failed


def test_hosts_with_the_same_inputs_share_one_rendering(tmp_path: Path) -> None:
    # Renders are memoised on what the template reads (memo.py): hosts inheriting the same
    # entries get the very same result object, a host overriding an input its own, and
    # what a shared rendering marked (vaulted, failed) is replayed on every host.
    from mlflow_policy.core import VaultedValue

    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "hosts").write_text("[g]\nh1\nh2\nh3\n")
    (tmp_path / "group_vars" / "all.yml").write_text(
        'domain: d\nfqdn: "x.{{ domain }}"\nurl: "https://{{ fqdn }}"\n'
        'env: {URI: "{{ url }}", NAME: "/t/{{ inventory_hostname }}"}\n'
        "pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n"
        'uri: "pg://u:{{ pw }}@{{ fqdn }}"\nindirect: "{{ uri }}"\nbad: "{{ nope }}"\n')
    (tmp_path / "host_vars" / "h3.yml").write_text("domain: other\n")
    inv = resolve_inventory(tmp_path / "hosts", root=tmp_path)
    h1, h2, h3 = (inv.hosts[h].vars for h in ("h1", "h2", "h3"))
    assert (h1["url"], h3["url"]) == ("https://x.d", "https://x.other")
    assert h1["url"] is h2["url"]
    assert h1["env"]["URI"] is h2["env"]["URI"]
    assert (h1["env"]["NAME"], h2["env"]["NAME"]) == ("/t/h1", "/t/h2")
    for name in ("h1", "h2", "h3"):
        host = inv.hosts[name]
        assert isinstance(host.vars["uri"], VaultedValue), name
        assert isinstance(host.vars["indirect"], VaultedValue), name
        assert {"pw", "uri", "indirect"} <= host.vaulted, name
    assert h1["uri"] is h2["uri"]
    assert sorted((d.host, d.fact) for d in inv.diagnostics) == [
        ("h1", "vars.bad"), ("h2", "vars.bad"), ("h3", "vars.bad")]


_TEMPLATE_PIECES = ["{{", "}}", "{", "}", " ", "\t", "\n", "\r", "a", "b_1", "x", ".", "|",
                    "true", "None", "é", "{%", "%}", "-"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(_TEMPLATE_PIECES), max_size=12).map("".join))
def test_simple_templates_are_read_as_jinja_reads_them(source: str) -> None:
    """Templates of text and plain substitutions are planned without Jinja's parser; what
    is planned must be exactly Jinja's output nodes and names."""
    from jinja2 import meta, nodes

    from mlflow_policy.inventory.jinja import parse, simple_nodes

    found = simple_nodes(source)
    if found is None:
        return
    tree = parse(source)
    body = tree.body[0].nodes if tree.body and isinstance(tree.body[0], nodes.Output) else []
    assert len(tree.body) <= 1
    assert found == tuple((n.name,) if isinstance(n, nodes.Name) else getattr(n, "data", n)
                          for n in body)
    assert {n[0] for n in found if isinstance(n, tuple)} == meta.find_undeclared_variables(tree)


@pytest.mark.parametrize("source", ["{{ not }}", "{{ self }}{{ host }}", "{{ loop }}",
                                    "{{ true }}", "{{ None }}x"])
def test_jinja_words_are_left_to_jinja(source: str) -> None:
    from mlflow_policy.inventory.jinja import _plan, simple_nodes

    assert simple_nodes(source) is None
    assert _plan(source) is None
