"""Bad inventories: every problem is an InputError naming file and line, all problems of
one inventory come back together, and nothing in an inventory is ever executed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.inventory import resolve_inventory
from tests.oracle import require_ansible
from tests.support import REFERENCE


def _errors(path: Path, root: Path) -> list[InputError]:
    with pytest.raises(InputErrors) as info:
        resolve_inventory(path, root=root)
    return info.value.errors


def _one(path: Path, root: Path) -> InputError:
    errors = _errors(path, root)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


@pytest.mark.parametrize(
    ("name", "content", "line", "words"),
    [
        ("dup.yml", "all:\n  hosts:\n    a:\n    a:\n", 4, "duplicate key"),
        ("bad_host_var", "[g]\nh1 a=1 oops\n", 2, "Expected key=value"),
        ("bad_section", "[g]\nh1\n[g:weird]\nh2\n", 3, "unknown type"),
        ("space_section", "[g]\nh1\n[bad group]\n", 3, "Invalid section entry"),
        ("undefined_child", "[p:children]\nnope\n[g]\nh1\n", 2, "undefined group 'nope'"),
        ("undefined_vars", "[g]\nh1\n[ghost:vars]\nx=1\n", 3, "undefined group 'ghost'"),
        ("bad_range", "[g]\nweb[01:3]\n", 2, "equal-length"),
        ("colon", "[g]\nhost:\n", 2, "ending in ':'"),
        ("quote", "[g]\nh1 a='unclosed\n", 2, "Error parsing host definition"),
        ("cycle", "[a:children]\nb\n[b:children]\na\n[a]\nh\n", 4, "recursive"),
        ("priority", "[g]\nh\n[g:vars]\nansible_group_priority=high\n", 4, "integer"),
        ("hosts_list.yml", "g:\n  hosts:\n    - a\n    - b\n", 3, "requires a dictionary"),
        ("host_value.yml", "g:\n  hosts:\n    a: [1]\n", 3, "expected dictionary"),
        ("int_host.yml", "g:\n  hosts:\n    42:\n", 3, "must be a string"),
        ("bomb.yml", "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                     "f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", None, "alias"),
        ("list.yml", "- a\n- b\n", 1, "invalid structure"),
        ("huge_range", "[g]\nweb[1:999999999]\n", 2, "more than"),
        ("deep.yml", "g:\n  vars:\n    x: " + "[" * 3000 + "]" * 3000 + "\n", None, "nesting"),
        ("dup.json", '{\n "g": {},\n "g": {}\n}\n', 3, "duplicate key"),
        ("dup_unsafe.yml", "g:\n  vars:\n    x: !unsafe\n      a: 1\n      a: 2\n", 5,
         "duplicate key 'a'"),
        ("dup_unsafe_flow.yml", "g:\n  vars:\n    x: !unsafe [{a: 1, b: 2, a: 3}]\n", 3,
         "duplicate key 'a'"),
    ],
)
def test_bad_inventory_file_names_file_and_line(
    tmp_path: Path, name: str, content: str, line: int | None, words: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    error = _one(path, tmp_path)
    assert error.path == name
    if line is not None:
        assert error.line == line, error.render()
    else:
        assert error.line is not None
    assert words in error.message, error.render()


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_bytes(b"[g]\nh1 a=1\nh2 b=caf\xe9\n")
    error = _one(path, tmp_path)
    assert (error.path, error.line) == ("hosts", 3)
    assert "UTF-8" in error.message


def test_executable_inventory_script_is_refused_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "inventory.py"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n")
    script.chmod(0o755)
    error = _one(script, tmp_path)
    assert error.message.startswith(
        "executable inventory scripts are never run in static mode: they need a live run")
    assert (error.path, error.line) == ("inventory.py", 1)
    assert not marker.exists()


def test_inventory_plugin_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "aws_ec2.yml"
    path.write_text("# dynamic\nplugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n")
    error = _one(path, tmp_path)
    assert "inventory plugin configuration" in error.message
    assert "never run in static mode: they need a live run" in error.message
    assert (error.path, error.line) == ("aws_ec2.yml", 2)


def test_every_bad_file_of_a_directory_is_reported_together(tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "a_hosts").write_text("[g]\nh1 broken\n")
    (inv / "b_hosts.yml").write_text("g2:\n  hosts:\n    h2:\n    h2:\n")
    (inv / "c_script").write_text("#!/bin/sh\n")
    (inv / "c_script").chmod(0o700)
    errors = _errors(inv, tmp_path)
    assert [(e.path, e.line) for e in errors] == [
        ("inv/a_hosts", 2), ("inv/b_hosts.yml", 4), ("inv/c_script", 1)]


def test_bad_vars_files_are_reported_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "hosts").write_text("[g]\nh1\n")
    (tmp_path / "group_vars" / "g.yml").write_text("a: 1\nb: 2\na: 3\n")
    (tmp_path / "host_vars" / "h1.yml").write_text("- not\n- a mapping\n")
    errors = _errors(tmp_path / "hosts", tmp_path)
    assert [(e.path, e.line) for e in errors] == [("group_vars/g.yml", 3),
                                                 ("host_vars/h1.yml", 1)]
    assert "duplicate key" in errors[0].message
    assert "mapping" in errors[1].message


def test_missing_inventory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="inventory not found"):
        resolve_inventory(tmp_path / "nope")


def test_vault_password_file_must_exist(tmp_path: Path) -> None:
    from mlflow_policy.inventory import VaultSecrets

    with pytest.raises(InputErrors, match="vault password file not found"):
        VaultSecrets.from_cli([tmp_path / "missing"])
    with pytest.raises(InputErrors, match="prompt"):
        VaultSecrets.from_cli([], ["dev@prompt"])


def test_wrong_vault_password_names_the_file(tmp_path: Path) -> None:
    from mlflow_policy.inventory import VaultSecrets

    real = REFERENCE / "real-inventories" / "AlanCoding__Ansible-inventory-file-examples__vault"
    require_ansible()
    wrong = tmp_path / "pw"
    wrong.write_text("not-the-password")
    cwd = Path.cwd()
    os.chdir(real)
    try:
        with pytest.raises(InputErrors) as info:
            resolve_inventory(Path("vault/host_and_group_vars/inventory.ini"),
                              vault_secrets=VaultSecrets.from_cli([wrong]))
    finally:
        os.chdir(cwd)
    paths = sorted(e.path or "" for e in info.value.errors)
    assert paths == ["vault/host_and_group_vars/group_vars/raleigh",
                     "vault/host_and_group_vars/host_vars/host1"]
    assert all("decrypt" in e.message for e in info.value.errors)
    assert "not-the-password" not in str(info.value)
