"""What the playbook does on each affected host, from its :class:`HostPlan`.

- the MLflow distribution pinned (``ansible.builtin.pip`` into ``mlflow.python``'s
  environment) when a version, package or extras fact changes: the host's own distribution
  and extras are kept (``mlflow-skinny`` stays skinny);
- the env file written from the inventory's environment with the changes on top (or, when
  the inventory declares no environment, only the changed lines set);
- server options as ``Environment=`` lines of a systemd drop-in, only on a host whose
  inventory says remediation manages its service (``server.managed``).

What cannot be done safely or automatically is added to the needs-a-human list instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlflow_policy.core import VaultedValue
from mlflow_policy.remediate import values as V
from mlflow_policy.remediate.plan import (
    ABSENT,
    NOT_MANAGED,
    NOT_WRITABLE,
    SECRET,
    UNSAFE,
    HostPlan,
    NeedsHuman,
)
from mlflow_policy.secrets import is_secret_name, mask_text

DROPIN = "mlflow-policy.conf"
# server option facts -> the environment variable `mlflow server` reads it from (click
# envvar); --app-name has none, so it is not set by a drop-in.
SERVER_ENV: Mapping[str, str] = {
    "server.backend_store_uri": "MLFLOW_BACKEND_STORE_URI",
    "server.registry_store_uri": "MLFLOW_REGISTRY_STORE_URI",
    "server.default_artifact_root": "MLFLOW_DEFAULT_ARTIFACT_ROOT",
    "server.artifacts_destination": "MLFLOW_ARTIFACTS_DESTINATION",
    "server.serve_artifacts": "MLFLOW_SERVE_ARTIFACTS",
    "server.workers": "MLFLOW_WORKERS",
    "server.host": "MLFLOW_HOST",
    "server.port": "MLFLOW_PORT",
}
_VERSION = re.compile(r"\d+(\.\d+)*([a-z]+\d*)?(\.post\d+)?(\.dev\d+)?")
_EXTRA = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._:-]*")
_HOSTVAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PACKAGES = ("mlflow", "mlflow-skinny")


@dataclass
class HostActions:
    """What the playbook does on one host, and the files written for it."""

    inventory: str
    host: str
    data: dict[str, Any] = field(default_factory=dict)  # the play's per-host vars
    summary: list[str] = field(default_factory=list)  # REPORT.md lines (masked)
    env_lines: list[str] | None = None  # the standalone env file, when env changes



def _value(plan: HostPlan, fact: str) -> tuple[bool, Any]:
    """The value a fact will have: the desired one, else the declared one."""
    if fact in plan.desired and plan.desired[fact].value is not ABSENT:
        return True, plan.desired[fact].value
    return plan.declared(fact)


def host_actions(plan: HostPlan, mapping: Mapping[str, str],
                 needs: list[NeedsHuman]) -> HostActions:
    name, inv = plan.facts.host, plan.facts.inventory
    acts = HostActions(inv, name)

    def human(kind: str, fact: str, message: str) -> None:
        needs.append(NeedsHuman(kind=kind, message=mask_text(message), inventory=inv,
                                host=name, fact=fact,
                                rule=", ".join(plan.desired[fact].rules)
                                if fact in plan.desired else None))

    _, managed = plan.declared("server.managed")
    managed = managed is True
    acts.data["managed"] = managed
    _, python = plan.declared("mlflow.python")
    # the MLflow distribution: pinned where a version, package or extras fact changes
    if any(f in plan.desired for f in ("mlflow.version", "mlflow.package", "mlflow.extras")):
        _pin(plan, acts, python, human)
    env_facts = [f for f in plan.desired if f.startswith("env.")]
    if env_facts:
        _env(plan, acts, mapping, env_facts, human)
    server = [f for f in plan.desired
              if f.startswith("server.") and f not in {"server.url", "server.managed"}]
    if server:
        _server(plan, acts, managed, server, human)
    return acts


def _pin(plan: HostPlan, acts: HostActions, python: Any, human: Any) -> None:
    ok, version = _value(plan, "mlflow.version")
    if not ok or not isinstance(version, str) or not _VERSION.fullmatch(version):
        human(NOT_WRITABLE, "mlflow.version", "the MLflow version to pin is not one exact "
              "release (X.Y.Z), so the playbook does not pin it")
        return
    found, package = _value(plan, "mlflow.package")
    if not found:
        found, package = plan.observed("mlflow.package")
    package = package if found else "mlflow"
    if package not in PACKAGES:
        human(NOT_WRITABLE, "mlflow.package", f"unknown MLflow distribution {package!r}")
        return
    _, extras = _value(plan, "mlflow.extras")
    if extras is None:
        _, extras = plan.observed("mlflow.extras")
    extras = extras if isinstance(extras, list) else []
    if not all(isinstance(e, str) and _EXTRA.fullmatch(e) for e in extras):
        human(NOT_WRITABLE, "mlflow.extras", "an extra is not a valid name")
        return
    if not isinstance(python, str) or not python.startswith("/") or V.text_problem(python):
        human(NOT_WRITABLE, "mlflow.python", "the host declares no usable mlflow.python (an "
              "absolute path): the playbook cannot tell which environment to pin")
        return
    spec = package + (f"[{','.join(extras)}]" if extras else "") + f"=={version}"
    acts.data["pin"] = spec
    acts.data["python"] = python
    acts.summary.append(f"pin `{spec}` with `{python}`")
    has_store, _ = plan.declared("server.backend_store_uri")
    running = plan.observed("mlflow.version")[1] if plan.facts.observed is not None \
        else plan.declared("mlflow.version")[1]
    if has_store and running != version:
        # `mlflow server` migrates an older database on start, under every replica still
        # running the old release: a restart after a version change is a migration
        acts.data["restart"] = False
        human(NOT_MANAGED, "mlflow.version", f"the server moves to MLflow {version}: the "
              "playbook does not restart it, because a server migrates its database on "
              "start; run `mlflow db upgrade` while the older servers are stopped, then "
              "restart the servers")


def _env(plan: HostPlan, acts: HostActions, mapping: Mapping[str, str], facts: list[str],
         human: Any) -> None:
    var = mapping.get("env", "env")
    if not _HOSTVAR.fullmatch(var):
        human(NOT_WRITABLE, "env", f"the env fact maps to the nested hostvar {var!r}; the "
              "playbook reads a top-level one only")
        return
    ok, env_file = plan.declared("mlflow.env_file")
    if not ok or not isinstance(env_file, str) or not env_file.startswith("/") or \
            V.text_problem(env_file):
        human(NOT_WRITABLE, "mlflow.env_file", "the host declares no mlflow.env_file (an "
              "absolute path): the environment file cannot be written")
        return
    overlay: dict[str, str] = {}
    for fact in sorted(facts):
        d = plan.desired[fact]
        if d.value is ABSENT or d.hostvar is None:
            continue  # drift: Ansible renders the inventory's own value
        key = fact[len("env."):]
        try:
            V.env_line(key, d.value, acts.host)
            overlay[key] = V.env_text(d.value, acts.host, fact)
        except V.UnsafeValue as exc:
            human(UNSAFE, fact, f"{exc.fact}: {exc.reason}; not written")
    declared, env = plan.declared("env")
    if not declared or not isinstance(env, Mapping):
        # The inventory declares no environment: the file on the host is someone else's.
        # Only the changed variables' lines are set; nothing else is removed.
        for fact in sorted(facts):
            if plan.desired[fact].value is ABSENT:
                human(NOT_WRITABLE, fact, f"{fact} is set on the host but the inventory "
                      "declares no environment at all: remove it by hand, or declare the "
                      "environment in the inventory")
        if not overlay:
            return
        acts.data["env_file"] = env_file
        acts.data["env_lines"] = {k: V.env_line(k, v, acts.host) for k, v in overlay.items()}
        acts.summary.append(f"set {', '.join(f'`{k}`' for k in overlay)} in `{env_file}` "
                            "(mode 0600), leaving its other lines as they are")
        acts.env_lines = _standalone_env(plan, overlay, acts.host)
        return
    acts.data["env_var"] = var
    acts.data["env_file"] = env_file
    if overlay:
        acts.data["env"] = overlay
    changed = ", ".join(f"`{f[4:]}`" for f in sorted(facts))
    acts.summary.append(f"write `{env_file}` (mode 0600) from the inventory's `{var}`, "
                        f"changing {changed}")
    acts.env_lines = _standalone_env(plan, overlay, acts.host)


def _standalone_env(plan: HostPlan, overlay: Mapping[str, str], host: str) -> list[str]:
    """The env file for users without Ansible: the declared environment with the changes;
    a vaulted or secret value is left out (named in a comment), never written in clear."""
    _, declared = plan.declared("env")
    env: dict[str, Any] = dict(declared) if isinstance(declared, Mapping) else {}
    env.update(overlay)
    vaulted = plan.facts.declared.vaulted
    lines: list[str] = []
    for key in sorted(env):
        value = env[key]
        if isinstance(value, VaultedValue) or is_secret_name(key) or \
                (vaulted and f"env.{key}" in vaulted):
            lines.append(f"# {key}: a secret; not written here (the playbook writes it from "
                         "the inventory)")
            continue
        try:
            lines.append(V.env_line(key, value, host))
        except V.UnsafeValue as exc:
            lines.append(f"# {key}: {exc.reason}; not written")
    return lines


def _server(plan: HostPlan, acts: HostActions, managed: bool, facts: list[str],
            human: Any) -> None:
    lines: list[str] = []
    for fact in sorted(facts):
        env = SERVER_ENV.get(fact)
        if env is None:
            human(NOT_MANAGED, fact, f"{fact} has no environment variable `mlflow server` "
                  "reads: change the service's command line by hand")
            continue
        if not managed:
            human(NOT_MANAGED, fact, f"{fact}: the host does not declare that remediation "
                  "manages its service (server.managed, hostvar mlflow_manage_service); "
                  "change the service's options by hand")
            continue
        value = plan.desired[fact].value
        if isinstance(value, VaultedValue) or (isinstance(value, str) and mask_text(value)
                                               != value):
            human(SECRET, fact, f"{fact} holds a credential: it is never written in clear "
                  "into a unit file")
            continue
        try:
            lines.append(V.systemd_environment(env, value, acts.host))
        except V.UnsafeValue as exc:
            human(UNSAFE, fact, f"{exc.fact}: {exc.reason}; not written")
    if not lines:
        return
    _, service = plan.declared("vars.mlflow_service_name")
    service = service if isinstance(service, str) and _SERVICE.fullmatch(service) else "mlflow"
    acts.data["service"] = service
    acts.data["dropin"] = "# Written by mlflow-policy remediate\n[Service]\n" + \
        "".join(line + "\n" for line in lines)
    acts.summary.append(f"server options in `/etc/systemd/system/{service}.service.d/"
                        f"{DROPIN}`, then restart `{service}`")


