"""``check --live`` over inventories only Ansible can read, on the real test fleet: an
executable inventory script and a directory with a ``constructed`` plugin configuration.
The declared side then comes from Ansible's own resolved hostvars (returned by the
gathering run itself), and the findings are the same as for the equivalent static
inventory; vaulted values (inline and whole-file) stay opaque: never decrypted into a
report, never drift.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.conftest import GATHER_TIMEOUT
from tests.live.session import cli, enter_fleet

pytestmark = pytest.mark.slow

PACK = Path(__file__).resolve().parents[2] / "policies" / "mlflow-baseline.yaml"
VAULT_PASSWORD = "vault-Pass-2c81"
INLINE_SECRET = "inline-Vaulted-77e0"  # the vaulted token declared for client-ok


def _list_form(doc: dict[str, Any]) -> dict[str, Any]:
    """The fleet's YAML inventory as an inventory script prints it for ``--list``."""
    top = doc["all"]
    out: dict[str, Any] = {"_meta": {"hostvars": {}},
                           "all": {"vars": top["vars"], "children": sorted(top["children"])}}
    for group, body in top["children"].items():
        out[group] = {"hosts": sorted(body["hosts"])}
        for host, hostvars in body["hosts"].items():
            out["_meta"]["hostvars"][host] = hostvars
    return out


SCRIPT = """#!{python}
# An inventory script: Ansible runs it (--list); mlflow-policy's resolver never does.
import json, sys
DATA = json.loads({data!r})
print(json.dumps(DATA if "--list" in sys.argv else {{}}))
"""

CONSTRUCTED = """\
# an inventory plugin configuration: only Ansible reads it
plugin: ansible.builtin.constructed
strict: true
groups:
  mlflow_servers: mlflow_role | default('') == 'server'
compose:
  mlflow_constructed_note: "'composed by constructed'"
"""


def _ansible_vault(args: list[str], password_file: Path) -> str:
    tool = Path(sys.executable).with_name("ansible-vault")
    done = subprocess.run([str(tool), *args, "--vault-password-file", str(password_file)],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "ANSIBLE_CONFIG": str(password_file) + ".cfg"})
    return done.stdout


def write_script(fleet: Any, where: Path) -> Path:
    doc = json.loads((fleet.inventory / "hosts.yml").read_text())
    # named as the fleet's own inventory directory: messages name the inventory
    (where / "script").mkdir()
    script = where / "script" / fleet.inventory.name
    script.write_text(SCRIPT.format(python=sys.executable, data=json.dumps(_list_form(doc))))
    script.chmod(0o755)
    return script


def write_constructed(fleet: Any, where: Path, password_file: Path) -> Path:
    """The fleet's inventory, a constructed plugin after it, client-ok's token vaulted
    inline and server-dbbehind's backend store URI in a whole-file vaulted host_vars."""
    doc = json.loads((fleet.inventory / "hosts.yml").read_text())
    inv = where / "constructed" / fleet.inventory.name
    (inv / "host_vars").mkdir(parents=True)
    hosts = doc["all"]["children"]
    uri = hosts["servers"]["hosts"]["server-dbbehind"].pop("mlflow_backend_store_uri")
    vaulted_file = inv / "host_vars" / "server-dbbehind.yml"
    vaulted_file.write_text(json.dumps({"mlflow_backend_store_uri": uri}))
    _ansible_vault(["encrypt", str(vaulted_file)], password_file)
    assert vaulted_file.read_text().startswith("$ANSIBLE_VAULT")
    env = hosts["clients"]["hosts"]["client-ok"].pop("mlflow_env")
    assert env.pop("MLFLOW_TRACKING_TOKEN")
    encrypted = _ansible_vault(["encrypt_string", INLINE_SECRET, "--name", "x"],
                               password_file).split("x: ", 1)[1]
    (inv / "host_vars" / "client-ok.yml").write_text(
        "mlflow_env:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in env.items())
        + "  MLFLOW_TRACKING_TOKEN: " + encrypted.strip().replace("\n", "\n  ") + "\n")
    (inv / "01-hosts.yml").write_text(json.dumps(doc, indent=2))
    (inv / "02-constructed.yml").write_text(CONSTRUCTED)
    return inv


@pytest.fixture(scope="module")
def runs(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("ansinv-cwd")
    restore = enter_fleet(fleet, tmp_path_factory.mktemp("ansinv-tmp"), work)
    password_file = work / "vault-password"
    password_file.write_text(VAULT_PASSWORD + "\n")
    knobs = ["--forks", "10", "--timeout", str(GATHER_TIMEOUT), "-p", str(PACK)]
    out: dict[str, Any] = {"std": []}
    try:
        inventories = {"static": fleet.inventory, "script": write_script(fleet, work),
                       "constructed": write_constructed(fleet, work, password_file)}
        # Ansible needs the password to load the whole-file vault (as a user's ansible.cfg
        # would give it); mlflow-policy never decrypts, nor lets it into a report
        os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = str(password_file)
        for kind, inv in inventories.items():
            code, so, se = cli(["check", "--live", "-i", str(inv), *knobs,
                                 "--format", f"json={kind}.json",
                                 "--format", f"text={kind}.txt"])
            out[kind] = (code, json.loads((work / f"{kind}.json").read_text()),
                         (work / f"{kind}.txt").read_text())
            out["std"] += [so, se]
        code, so, se = cli(["facts", "--live", "-i", str(inventories["constructed"]),
                             "--forks", "10", "--timeout", str(GATHER_TIMEOUT),
                             "--format", "json"])
        out["facts"] = (code, so)
        out["std"] += [se]
        yield out
    finally:
        restore()


def _findings(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Findings as (rule, severity, host, fact, message), but clock skew: on one loaded
    machine the offset estimate wanders around the rule's 1 s bound from run to run."""
    return sorted((f["rule"], f["severity"], f["host"], f["fact"], f["message"])
                  for f in doc["findings"] if f["rule"] != "mlflow-baseline/clock-skew")


# What vaulting two values in the constructed variant changes: the rules that ask for a
# vaulted value pass there (Ansible's vaulted values are vaulted to the rules too).
VAULTED_PASS = {("mlflow-baseline/credentials-vaulted", "client-ok", "env.MLFLOW_TRACKING_TOKEN"),
                ("mlflow-baseline/uri-passwords-vaulted", "server-dbbehind",
                 "server.backend_store_uri")}


@pytest.mark.parametrize("kind", ["script", "constructed"])
def test_same_findings_as_the_static_inventory(runs: dict[str, Any], kind: str) -> None:
    code, doc, _ = runs[kind]
    static_code, static, _ = runs["static"]
    assert code == static_code == 1
    ours, theirs = _findings(doc), _findings(static)
    if kind == "constructed":
        assert {(f[0], f[2], f[3]) for f in theirs if f not in ours} == VAULTED_PASS
        theirs = [f for f in theirs if (f[0], f[2], f[3]) not in VAULTED_PASS]
    assert ours == theirs, ([f for f in ours if f not in theirs],
                            [f for f in theirs if f not in ours])
    assert doc["summary"]["hosts"] == static["summary"]["hosts"] == 7


@pytest.mark.parametrize("kind", ["script", "constructed"])
def test_the_seeded_drift_comes_out(runs: dict[str, Any], kind: str) -> None:
    from tests.live.test_live_check import SEEDED

    found = {(f["rule"], f["host"], f["fact"]) for f in runs[kind][1]["findings"]
             if f["rule"] in ("mlflow-policy/drift", "mlflow-policy/unreachable")}
    assert found == SEEDED


def test_declared_values_have_no_file_and_line(runs: dict[str, Any]) -> None:
    """Ansible's values have no place in a file we could name: no location on drift."""
    for kind in ("script", "constructed"):
        drift = [f for f in runs[kind][1]["findings"] if f["rule"] == "mlflow-policy/drift"]
        assert drift
        assert all(f["location"] is None for f in drift), drift
    static = [f for f in runs["static"][1]["findings"] if f["rule"] == "mlflow-policy/drift"]
    assert all(f["location"] is not None for f in static)


def test_vaulted_values_stay_opaque(runs: dict[str, Any], fleet: Any) -> None:
    code, text = runs["facts"]
    assert code == 0
    doc = json.loads(text)
    hosts = {h["host"]: h for h in doc["hosts"]}
    token = hosts["client-ok"]["facts"]["env"]["MLFLOW_TRACKING_TOKEN"]
    assert token["__vault__"] is True, token
    uri = hosts["server-dbbehind"]["facts"]["server"]["backend_store_uri"]
    assert uri["__vault__"] is True, uri
    # the constructed plugin did run (Ansible's groups, not ours)
    assert "mlflow_servers" in hosts["server-live"]["facts"]["groups"]


def test_no_secret_in_any_output(runs: dict[str, Any], fleet: Any) -> None:
    from tests.fleet import postgres

    outputs = [*runs["std"], runs["facts"][1]]
    for kind in ("static", "script", "constructed"):
        outputs += [json.dumps(runs[kind][1]), runs[kind][2]]
    for secret in (*fleet.secrets, postgres.PASSWORD, INLINE_SECRET, VAULT_PASSWORD):
        for text in outputs:
            assert secret not in text
