"""The gather action plugin's declared hostvars, without a fleet: a real ``ansible-playbook``
(local connection) runs the shipped action plugin in front of a stand-in module, over an
inventory with an inline ``!vault`` value, a whole-file vaulted vars file and templates
that use both. The vault password is given to Ansible (it needs it to load the file), yet
no plaintext comes back: vaulted leaves are markers, templates around them redacted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ansible

ACTION = (Path(__file__).resolve().parents[2] / "mlflow_policy" / "live" / "ansible"
          / "action_plugins" / "mlflow_policy_facts.py")
INLINE = "inline-Plain-93d1"
WHOLE = "whole-Plain-4b2e"
PASSWORD = "pw-Vault-61aa"

STAND_IN = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
AnsibleModule(argument_spec={}).exit_json(changed=False, mlflow_policy={"facts": {}})
"""

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - mlflow_policy_facts:
      register: gathered
    - copy:
        content: "{{ gathered.mlflow_policy_declared | to_json }}"
        dest: "{{ playbook_dir }}/declared-{{ inventory_hostname }}.json"
"""


def _vault(args: list[str], password: Path) -> str:
    tool = Path(sys.executable).with_name("ansible-vault")
    return subprocess.run([str(tool), *args, "--vault-password-file", str(password)],
                          capture_output=True, text=True, timeout=120, check=True).stdout


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("ansible-playbook is not installed beside this Python")
    base = tmp_path_factory.mktemp("declared-vault")
    password = base / "password"
    password.write_text(PASSWORD + "\n")
    (base / "action_plugins").mkdir()
    shutil.copy(ACTION, base / "action_plugins" / ACTION.name)
    (base / "library").mkdir()
    (base / "library" / "mlflow_policy_facts.py").write_text(STAND_IN)
    (base / "play.yml").write_text(PLAYBOOK)
    inv = base / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    whole = inv / "group_vars" / "all" / "vault.yml"
    whole.write_text(f"vault_whole: {WHOLE}\n")
    _vault(["encrypt", str(whole)], password)
    inline = _vault(["encrypt_string", INLINE, "--name", "vault_inline"], password)
    (inv / "hosts.yml").write_text(
        "all:\n  hosts:\n    h1:\n"
        "      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
        "      mlflow_version: '3.17.2'\n"
        "      mlflow_port: 5000\n"
        "      mlflow_env:\n"
        "        MLFLOW_TRACKING_URI: 'http://tracking:{{ mlflow_port }}'\n"
        "        MLFLOW_TRACKING_PASSWORD: '{{ vault_inline }}'\n"
        "      mlflow_backend_store_uri: 'postgresql://u:{{ vault_inline }}@db/m'\n"
        "      mlflow_auth_database_uri: 'sqlite:///{{ vault_whole }}.db'\n"
        "      mlflow_extras: ['{{ vault_whole }}', 'auth']\n"
        + "".join(f"      {line}\n" for line in inline.strip().splitlines()))
    names = ["mlflow_version", "mlflow_env", "mlflow_backend_store_uri",
             "mlflow_auth_database_uri", "mlflow_extras", "vault_inline", "vault_whole",
             "not_defined"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_CONFIG": str(base / "none.cfg"), "HOME": str(base),
                "ANSIBLE_VAULT_PASSWORD_FILE": str(password), "ANSIBLE_NOCOLOR": "1"})
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inv),
         "play.yml", "-e", json.dumps({"mlflow_policy_declared_vars": names})],
        cwd=base, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = base / "declared-h1.json"
    assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return {"doc": json.loads(out.read_text()), "text": out.read_text(),
            "log": done.stdout + done.stderr}


def _marker(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict)
    assert "__mlflow_policy_vault__" in value, value
    return value


def test_plain_values_and_templates_are_rendered(declared: dict[str, Any]) -> None:
    values = declared["doc"]["vars"]
    assert values["mlflow_version"] == "3.17.2"
    assert values["mlflow_env"]["MLFLOW_TRACKING_URI"] == "http://tracking:5000"
    assert "not_defined" not in values
    assert declared["doc"]["groups"] == ["ungrouped"]


def test_inline_vault_is_a_marker(declared: dict[str, Any]) -> None:
    values = declared["doc"]["vars"]
    whole = _marker(values["vault_inline"])
    assert whole["redacted"] is None
    assert whole["__mlflow_policy_vault__"].startswith("$ANSIBLE_VAULT")
    assert _marker(values["mlflow_env"]["MLFLOW_TRACKING_PASSWORD"])["redacted"] is None
    uri = _marker(values["mlflow_backend_store_uri"])
    assert uri["redacted"] == "postgresql://u:***@db/m"
    # the same vault, the same identity (consistent rules compare it)
    assert uri["__mlflow_policy_vault__"] == whole["__mlflow_policy_vault__"]


def test_whole_file_vault_is_a_marker(declared: dict[str, Any]) -> None:
    values = declared["doc"]["vars"]
    assert _marker(values["vault_whole"])["redacted"] is None
    assert _marker(values["mlflow_auth_database_uri"])["redacted"] == "sqlite:///***.db"
    extras = values["mlflow_extras"]
    assert _marker(extras[0])["__mlflow_policy_vault__"].startswith("file:")
    assert extras[1] == "auth"


def test_no_plaintext_anywhere(declared: dict[str, Any]) -> None:
    for secret in (INLINE, WHOLE, PASSWORD):
        assert secret not in declared["text"]
        assert secret not in declared["log"]


def test_declared_facts_from_the_markers(declared: dict[str, Any]) -> None:
    """The controller side: markers become vaulted values of the declared document."""
    from mlflow_policy.config import RunConfig
    from mlflow_policy.core import VaultedValue
    from mlflow_policy.live.result import LiveHostResult
    from mlflow_policy.sources.live import ansible_declared

    result = LiveHostResult("h1", None, "ok", declared=declared["doc"])
    [host] = ansible_declared("inv", [result], RunConfig()).hosts
    doc = host.declared
    assert doc.values["mlflow"]["version"] == "3.17.2"
    assert isinstance(doc.values["server"]["backend_store_uri"], VaultedValue)
    assert str(doc.values["server"]["backend_store_uri"]) == "postgresql://u:***@db/m"
    assert "server.backend_store_uri" in doc.vaulted
    assert "env.MLFLOW_TRACKING_PASSWORD" in doc.vaulted
    assert doc.origin("mlflow.version") == "ansible: hostvar mlflow_version"
    assert not doc.provenance
