"""``gather-playbook``: the gathering playbook and module as files for a user's own
``ansible-playbook`` run or an AWX / Automation Platform job template, and the reader of
the results directory such a run leaves.

The files written are the ones ``check --live`` runs through ansible-runner (one source),
with the settings live mode passes as extra variables written into the play's ``vars``:
the run writes one JSON document per host, with every secret value withheld by the module
itself (result files are on disk; a secret never is).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.live.result import LiveHostResult, failed, from_module_result

SOURCE = Path(__file__).with_name("ansible")
PLAYBOOK_NAME = "gather.yml"
WRITER_NAME = "write-results.yml"
MODULE_FILE = "library/mlflow_policy_facts.py"
# the module's controller side (Ansible's normal action, plus ssh's own reason for a host
# that cannot be reached under load; declared hostvars only when a live run asks)
ACTION_FILE = "action_plugins/mlflow_policy_facts.py"
RESULTS_DEFAULT = "mlflow-policy-facts"
SETTINGS_MARKER = "    # (gather-playbook writes its settings here)\n"

README = """\
# mlflow-policy gathering playbook

Written by `mlflow-policy gather-playbook`. It gathers every host's observed MLflow facts
read-only, in one round trip per host, with each host's MLflow interpreter (hostvar
`mlflow_python`, else `ansible_python_interpreter`; never interpreter discovery).

    ansible-playbook -i INVENTORY gather.yml [--limit PATTERN] [--forks N]
    mlflow-policy check --facts mlflow-policy-facts/ [-i INVENTORY]

Each host leaves `mlflow-policy-facts/<inventory_hostname>.json` beside this playbook
(`-e mlflow_policy_results=DIR` to put them elsewhere, e.g. a path an AWX job collects).
Unreachable and failing hosts get a document too, with Ansible's reason. Secret values
(passwords, tokens, URI passwords) are withheld by the module: no result file holds one.

For AWX / Automation Platform: put this directory in a project; the job template runs
`gather.yml` over your inventory; `library/` and `action_plugins/` travel with it.

Extra variables: `mlflow_policy_timeout` (seconds per host, default 60),
`mlflow_policy_python_var` / `mlflow_policy_env_file_var` / `mlflow_policy_server_url_var`
(hostvar names, when your inventory uses other names than `mlflow_python`,
`mlflow_env_file`, `mlflow_server_url`).
"""


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def playbook_text(env_names: Iterable[str], secret_names: Iterable[str]) -> str:
    """The shipped playbook with live mode's settings as play vars and the tasks that
    write the results appended."""
    text = (SOURCE / PLAYBOOK_NAME).read_text(encoding="utf-8")
    writer = (SOURCE / WRITER_NAME).read_text(encoding="utf-8")
    if SETTINGS_MARKER not in text:  # the shipped file and this writer go together
        raise RuntimeError("gather.yml lacks its settings marker")
    settings = (
        "    # Variables MLflow reads without the MLFLOW_ prefix (kept from a server's\n"
        "    # environment besides MLFLOW_*), and MLflow's secret variables (withheld).\n"
        f"    mlflow_policy_env_names: {json.dumps(sorted(env_names))}\n"
        f"    mlflow_policy_secret_names: {json.dumps(sorted(secret_names))}\n"
        "    mlflow_policy_write_results: true\n")
    return text.replace(SETTINGS_MARKER, settings).rstrip("\n") + "\n\n" + writer


def secret_names() -> list[str]:
    from mlflow_policy import catalogue

    return sorted(n for n, v in catalogue.env_vars().items() if v.secret)


def write(directory: Path) -> list[Path]:
    """Write the playbook, its module and a README into ``directory``; the paths written."""
    from mlflow_policy.live.driver import env_names

    written = []
    for rel, text, mode in (
        (PLAYBOOK_NAME, playbook_text(env_names(), secret_names()), 0o644),
        (MODULE_FILE, (SOURCE / MODULE_FILE).read_text(encoding="utf-8"), 0o644),
        (ACTION_FILE, (SOURCE / ACTION_FILE).read_text(encoding="utf-8"), 0o644),
        ("README.md", README, 0o644),
    ):
        target = directory / rel
        _atomic_write(target, text, mode)
        written.append(target)
    return written


# --- the results directory -------------------------------------------------------------

def read_results(directory: Path) -> list[LiveHostResult]:
    """Every host document of a results directory, sorted by inventory hostname. A file
    that is not such a document is an input error naming it (all of them at once)."""
    if not directory.is_dir():
        raise InputErrors([InputError("not a results directory", str(directory))])
    results: dict[str, LiveHostResult] = {}
    errors: list[InputError] = []
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            errors.append(InputError(f"not JSON: {exc.msg}", str(path), exc.lineno, exc.colno))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(InputError(f"cannot read: {exc}", str(path)))
            continue
        try:
            result = from_result_document(doc)
        except ValueError as exc:
            errors.append(InputError(str(exc), str(path)))
            continue
        if result.inventory_hostname in results:
            errors.append(InputError(f"a second document for host "
                                     f"{result.inventory_hostname}", str(path)))
            continue
        results[result.inventory_hostname] = result
    if errors:
        raise InputErrors(errors)
    return [results[h] for h in sorted(results)]


def from_result_document(doc: Any) -> LiveHostResult:
    """One host's result from the document the playbook wrote for it."""
    if not isinstance(doc, dict) or doc.get("mlflow_policy_result") != 1:
        raise ValueError("not an mlflow-policy result document (mlflow_policy_result: 1)")
    host = doc.get("host")
    res = doc.get("result")
    if not isinstance(host, str) or not host or not isinstance(res, dict):
        raise ValueError("result document without host or result")
    received = doc.get("received")
    received_f = float(received) if isinstance(received, (int, float, str)) else None
    if res.get("skipped"):
        return failed(host, None, "failed",
                      "no MLflow interpreter: neither hostvar mlflow_python nor "
                      "ansible_python_interpreter is set (live mode never uses interpreter "
                      "discovery)")
    if res.get("unreachable") or res.get("failed"):
        from mlflow_policy.live.driver import result_from_event

        event = "runner_on_unreachable" if res.get("unreachable") else "runner_on_failed"
        return result_from_event(host, event, res, None, received_f)
    return from_module_result(host, None, res, received_f)
