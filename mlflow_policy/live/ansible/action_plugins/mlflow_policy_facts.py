"""Controller side of ``mlflow_policy_facts``: the declared hostvars, then the module.

Ansible picks this action plugin for the gather task because it lies beside the playbook
(``action_plugins/``). It runs in the worker Ansible already forked for the host, so what
it adds costs no process and no connection.

When the play sets ``mlflow_policy_declared_vars`` (a live run over an inventory our own
resolver cannot read: a script or an inventory plugin), the host's declared values of
those hostvars, as Ansible resolved and templated them, are returned beside the module's
result under ``mlflow_policy_declared`` (with ``group_names``), collected *before* the
host is contacted, so that a host that is unreachable, fails or times out still has its
declared side. Nothing declared is sent to the host.

Vault stays opaque: while the values are templated, an inline vaulted value renders as a
random placeholder, never its plaintext, and a value Ansible read from a whole-file vault
(its origin is a file that starts with ``$ANSIBLE_VAULT``) is replaced by one before any
template can read it. A leaf holding a placeholder is returned as
``{"__mlflow_policy_vault__": ID, "redacted": TEXT}``: ID tells equal vaults apart
(ciphertexts, or the vaulted file and position; nothing derived from the secret), TEXT
is the value with every vaulted part as ``***`` (None when the whole value is vaulted).

Without ``mlflow_policy_declared_vars`` this is exactly Ansible's ``normal`` action.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

VAULT_KEY = "__mlflow_policy_vault__"
DECLARED_KEY = "mlflow_policy_declared"
# task_vars entries that are not the host's variables (or would reach other hosts')
_SKIPPED_VARS = frozenset({"hostvars", "vars", "groups", "omit", "environment",
                           "ansible_play_hosts", "ansible_play_hosts_all", "play_hosts",
                           "ansible_play_batch", "ansible_facts"})
NO_INTERPRETER = ("no MLflow interpreter: neither hostvar {var} nor ansible_python_interpreter "
                  "is set (live mode never uses interpreter discovery)")


class _Placeholders:
    """Random tokens standing for vaulted values while templates render."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.ids: list[str] = []
        self.pattern = re.compile(rf"@@mlflow-policy-vault:{self.nonce}:(\d+)@@")

    def token(self, ident: str) -> str:
        if ident not in self.ids:
            self.ids.append(ident)
        return f"@@mlflow-policy-vault:{self.nonce}:{self.ids.index(ident)}@@"

    def opaque(self, value: Any) -> Any:
        """``value`` with each string holding a placeholder made a vault marker."""
        if isinstance(value, Mapping):
            return {str(k): self.opaque(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.opaque(v) for v in value]
        if isinstance(value, str):
            found = [int(n) for n in self.pattern.findall(value)]
            if found:
                whole = self.pattern.fullmatch(value) is not None
                return {VAULT_KEY: "\n".join(self.ids[n] for n in found),
                        "redacted": None if whole else self.pattern.sub("***", value)}
            return str(value)
        return value


@contextmanager
def _inline_vault_as(placeholders: _Placeholders) -> Iterator[None]:
    """While templating: an inline vaulted value decrypts to its placeholder."""
    try:  # ansible-core >= 2.19
        from ansible.parsing.vault import EncryptedString
    except ImportError:
        EncryptedString = None
    if EncryptedString is not None:
        original = EncryptedString._decrypt

        def _decrypt(self: Any) -> str:
            return placeholders.token(str(self._ciphertext))

        EncryptedString._decrypt = _decrypt
        try:
            yield
        finally:
            EncryptedString._decrypt = original
        return
    from ansible.parsing.yaml.objects import AnsibleVaultEncryptedUnicode

    prop = AnsibleVaultEncryptedUnicode.data
    AnsibleVaultEncryptedUnicode.data = property(
        lambda self: placeholders.token(str(self._ciphertext)))
    try:
        yield
    finally:
        AnsibleVaultEncryptedUnicode.data = prop


class _WholeFileVaults:
    """Which files a value was read from are whole-file vaults (checked once each)."""

    def __init__(self) -> None:
        self.seen: dict[str, bool] = {}
        try:
            from ansible._internal._datatag._tags import Origin
        except ImportError:  # before 2.19 values carry no origin
            Origin = None
        self.origin = Origin

    def _vaulted(self, path: str) -> bool:
        hit = self.seen.get(path)
        if hit is None:
            try:
                with open(path, "rb") as fh:
                    hit = fh.read(14) == b"$ANSIBLE_VAULT"
            except OSError:
                hit = False
            self.seen[path] = hit
        return hit

    def mask(self, value: Any, placeholders: _Placeholders) -> Any:
        """``value`` with every string read from a whole-file vault as a placeholder (the
        same object when nothing is)."""
        if self.origin is None:
            return value
        if isinstance(value, Mapping):
            out = {k: self.mask(v, placeholders) for k, v in value.items()}
            return value if all(out[k] is value[k] for k in out) else out
        if isinstance(value, list):
            items = [self.mask(v, placeholders) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if isinstance(value, str):
            origin = self.origin.get_tag(value)
            if origin is not None and origin.path and self._vaulted(origin.path):
                return placeholders.token(f"file:{origin.path}:{origin.line_num}:"
                                          f"{origin.col_num}")
        return value


def _patient_initial_data(connection: Any) -> None:
    """With pipelining the module is written to ssh's stdin before the connection is up.
    When ssh fails (refused, banner timeout) the write breaks, and Ansible gives ssh 1 ms
    to exit before it reports a bare "Data could not be sent" instead of ssh's own reason;
    on a loaded controller ssh takes longer than that. Wait for it a little longer (the
    ssh plugin's private hook; left alone where it does not exist)."""
    original = getattr(connection, "_send_initial_data", None)
    if original is None or getattr(original, "_mlflow_policy", False):
        return

    def send(fh: Any, in_data: Any, ssh_process: Any) -> Any:
        try:
            return original(fh, in_data, ssh_process)
        except AnsibleConnectionFailure:
            import subprocess

            try:
                ssh_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise
            return None  # ssh exited: the caller reports its status and stderr

    send._mlflow_policy = True  # type: ignore[attr-defined]
    connection._send_initial_data = send


class ActionModule(ActionBase):  # type: ignore[misc]  # Ansible is untyped
    _supports_check_mode = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        names = task_vars.get("mlflow_policy_declared_vars") or []
        if not names:
            return self._module(result, task_vars)
        declared = self._declared([str(n) for n in names], task_vars)
        interpreter = self._templar.template(task_vars.get("ansible_python_interpreter", ""))
        if not interpreter:
            var = task_vars.get("mlflow_policy_python_var") or "mlflow_python"
            result.update(failed=True, msg=NO_INTERPRETER.format(var=var))
        else:
            try:
                result = self._module(result, task_vars)
            except AnsibleConnectionFailure as exc:
                result.update(unreachable=True, msg=str(exc), changed=False)
            except BaseException as exc:
                # the task's timeout (ansible's TaskTimeoutError, a BaseException)
                if type(exc).__name__ != "TaskTimeoutError":
                    raise
                result.update(failed=True, timedout=True, msg=f"timed out: {exc}")
        result[DECLARED_KEY] = declared
        return result

    def _module(self, result: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        """What Ansible's ``normal`` action does (no async: the task never sets it)."""
        from ansible.utils.vars import merge_hash

        _patient_initial_data(self._connection)
        try:
            out: dict[str, Any] = merge_hash(result, self._execute_module(task_vars=task_vars))
        finally:
            # the temporary directory on the host, when not pipelining
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return out

    def _declared(self, names: list[str], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        placeholders = _Placeholders()
        files = _WholeFileVaults()
        masked = {k: files.mask(v, placeholders) for k, v in task_vars.items()
                  if k not in _SKIPPED_VARS}
        masked["vars"] = masked
        templar = self._templar.copy_with_new_env(available_variables=masked)
        values: dict[str, Any] = {}
        unrendered: dict[str, str] = {}
        with _inline_vault_as(placeholders):
            for name in names:
                if name not in masked:
                    continue
                try:
                    values[name] = placeholders.opaque(templar.template(masked[name]))
                except Exception as exc:  # a template Ansible cannot render either
                    unrendered[name] = type(exc).__name__
        groups = [str(g) for g in task_vars.get("group_names") or ()]
        return {"vars": values, "groups": groups, "unrendered": unrendered}
