"""``remediate --write`` / ``--diff`` (mlflow_policy.remediate.inventory_edit), data-driven:
each ``tests/fixtures/inventory_edit/<case>/`` names an inventory (its own ``inventory/``, or
one of the repository's example inventories) and the changes to make. On a copy of it the
test asserts the unified diff (``expected.diff``, regenerate with ``UPDATE_GOLDEN=1`` and
review) and the notes (``expected-notes.txt``), writes, and then asks both our resolver and
``ansible-inventory --list`` (the oracle): every changed host holds its new value, every
other hostvar of every host is what it was, and planning again changes nothing."""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlflow_policy.errors import InputError
from mlflow_policy.inventory import ResolvedInventory, resolve_inventory
from mlflow_policy.remediate.change import HostvarChange
from mlflow_policy.remediate.inventory_edit import EditPlan, plan_edits
from tests import oracle
from tests.support import REPO

CASES_DIR = REPO / "tests" / "fixtures" / "inventory_edit"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())


def _case(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CASES_DIR / name / "case.yaml").read_text())
    return data


def _copy(name: str, tmp: Path) -> Path:
    """The case's inventory copied under ``tmp``; returns the inventory path to resolve."""
    case = _case(name)
    source = str(case["inventory"])
    if source.startswith("inventories/"):
        top = REPO / source
        shutil.copytree(top, tmp / top.name)
        return tmp / top.name
    first = Path(source).parts[0]
    shutil.copytree(CASES_DIR / name / first, tmp / first)
    return tmp / source


def _path(hostvar: Any) -> tuple[str, ...]:
    return tuple(hostvar) if isinstance(hostvar, list) else (str(hostvar),)


def _changes(name: str, inventory: Path) -> tuple[list[HostvarChange], list[HostvarChange]]:
    """(every change, the ones expected written)."""
    every, written = [], []
    for item in _case(name)["changes"]:
        change = HostvarChange(Path(os.path.abspath(inventory)), item["host"],
                               _path(item["hostvar"]), item["value"], ("test/rule",))
        every.append(change)
        if not item.get("refused"):
            written.append(change)
    return every, written


def _put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _expected(before: dict[str, dict[str, Any]], written: list[HostvarChange],
              shape: Any = lambda v: v) -> dict[str, dict[str, Any]]:
    after = copy.deepcopy(before)
    for change in written:
        _put(after[change.host], change.hostvar, shape(change.value))
    return after


def _ours(inv: ResolvedInventory) -> dict[str, dict[str, Any]]:
    # raw (untemplated) values: a template elsewhere that reads a changed var renders
    # differently by design; what must not change is what is written
    return oracle.normalise_hostvars({h: r.raw_vars for h, r in inv.hosts.items()})


def _ansible(inventory: Path) -> dict[str, dict[str, Any]]:
    data = oracle.ansible_inventory_list(["-i", str(inventory)], inventory.parent)
    return oracle.hostvars_from_list(data)


def _golden(path: Path, text: str) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no {path.name}: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), "regenerate with UPDATE_GOLDEN=1 and review the diff"


def _plan(inventory: Path, changes: list[HostvarChange]) -> tuple[ResolvedInventory, EditPlan]:
    inv = resolve_inventory(inventory, root=inventory.parent)
    return inv, plan_edits(changes, [inv])


@pytest.mark.ansible
@pytest.mark.parametrize("name", CASES)
def test_edit_case(name: str, tmp_path: Path) -> None:
    oracle.require_ansible()
    inventory = _copy(name, tmp_path)
    every, written = _changes(name, inventory)
    before_files = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    inv, plan = _plan(inventory, every)
    ours_before = _ours(inv)
    ansible_before = _ansible(inventory)

    _golden(CASES_DIR / name / "expected.diff", plan.diff())
    _golden(CASES_DIR / name / "expected-notes.txt", "".join(f"{n}\n" for n in plan.notes))
    # --diff writes nothing
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before_files

    plan.write()
    changed = {p for p in tmp_path.rglob("*") if p.is_file()
               and before_files.get(p) != p.read_bytes()}
    assert changed == set(plan.files)
    for path, (_old, new) in plan.files.items():
        assert path.read_text() == new

    after_inv = resolve_inventory(inventory, root=inventory.parent)
    assert _ours(after_inv) == _expected(ours_before, written, oracle.normalise)
    assert _ansible(inventory) == _expected(ansible_before, written, oracle.normalise)

    # a second run finds every value in place
    again = plan_edits(every, [after_inv])
    assert again.files == {}


def test_diff_paths_are_relative_to_the_inventory(tmp_path: Path) -> None:
    inventory = _copy("shared-entry", tmp_path)
    _every, written = _changes("shared-entry", inventory)
    _inv, plan = _plan(inventory, written)
    heads = [line for line in plan.diff().splitlines() if line.startswith(("---", "+++"))]
    assert heads == ["--- a/host_vars/web1.yml", "+++ b/host_vars/web1.yml",
                     "--- /dev/null", "+++ b/host_vars/web2.yml",
                     "--- /dev/null", "+++ b/host_vars/web3.yml"]


def test_write_keeps_the_mode_and_refuses_a_file_changed_since_planning(
        tmp_path: Path) -> None:
    inventory = _copy("shared-entry", tmp_path)
    _every, written = _changes("shared-entry", inventory)
    web1 = inventory / "host_vars" / "web1.yml"
    web1.chmod(0o640)
    _inv, plan = _plan(inventory, written)
    web1.write_text(web1.read_text() + "edited: meanwhile\n")
    with pytest.raises(InputError, match="changed since the edit was planned"):
        plan.write()
    assert not (inventory / "host_vars" / "web2.yml").exists()
    web1.write_text(web1.read_text().replace("edited: meanwhile\n", ""))
    plan.write()
    assert web1.stat().st_mode & 0o777 == 0o640
    assert "mlflow_version: 3.18.0" in web1.read_text()


def test_a_failure_while_preparing_leaves_every_file_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = _copy("ini-inline", tmp_path)
    every, _written = _changes("ini-inline", inventory)
    _inv, plan = _plan(inventory, every)
    assert len(plan.files) == 2  # hosts edited, host_vars/web3.yml new
    assert plan.created
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    real = tempfile.mkstemp
    calls = []

    def failing(*args: Any, **kwargs: Any) -> tuple[int, str]:
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", failing)
    with pytest.raises(InputError, match="No space left"):
        plan.write()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not (inventory.parent / "host_vars").exists()  # the directory made for it too


def test_nested_value_in_a_new_place_copies_the_whole_mapping(tmp_path: Path) -> None:
    """Ansible replaces a mapping from a higher layer: host_vars/web2.yml must hold every
    key web2 had, not only the changed one (else the others silently disappear)."""
    inventory = _copy("shared-entry", tmp_path)
    _every, written = _changes("shared-entry", inventory)
    _inv, plan = _plan(inventory, written)
    new = yaml.safe_load(plan.files[inventory / "host_vars" / "web2.yml"][1])
    assert new == {"mlflow_env": {"MLFLOW_TRACKING_URI": "https://mlflow.example",
                                  "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "9"}}
