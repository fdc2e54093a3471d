"""The run's configuration: ``.mlflow-policy.yaml``, else ``[tool.mlflow-policy]`` in
``pyproject.toml``, else defaults. Paths in a config file are relative to that file.

```yaml
policies: [policies/]            # default policy paths
inventories: [inventories/prod]  # default: every directory under inventories/
waivers: [waivers/]
fail_on: error                   # error | warning | info | never
playbook_dir: playbooks/         # also load group_vars/host_vars next to the playbooks
facts:                           # fact path -> hostvar (dotted for nested hostvars)
  mlflow.version: mlflow_release
  inventories:                   # per-inventory overrides
    legacy: {env: legacy_mlflow_env}
roles:                           # role fact when the role hostvar is unset: first match wins
  tracking_server: [mlflow_servers]
  client: [mlflow_clients]
drift: [mlflow.version, env, server]
```
Unknown keys are errors with file:line, as everywhere else.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_policy import safeio, yamlio
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.facts import table as _table

CONFIG_FILE = ".mlflow-policy.yaml"
FAIL_ON = ("error", "warning", "info", "never")

# facts.md: fact path -> the hostvar static mode reads it from (from the one fact table).
DEFAULT_FACT_MAPPING: dict[str, str] = dict(_table.DEFAULT_FACT_MAPPING)
DEFAULT_DRIFT = ("mlflow.version", "env", "server")

_KEYS = {"policies", "inventories", "waivers", "fail_on", "playbook_dir", "facts", "roles",
         "drift"}


@dataclass(frozen=True)
class RunConfig:
    source: str | None = None  # the file the config came from, for messages
    policies: tuple[Path, ...] = (Path("policies"),)
    inventories: tuple[Path, ...] | None = None  # None: every directory under inventories/
    waivers: tuple[Path, ...] = ()
    fail_on: str = "error"
    playbook_dir: Path | None = None
    fact_mapping: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_FACT_MAPPING))
    inventory_fact_mapping: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    roles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    drift: tuple[str, ...] = DEFAULT_DRIFT

    def mapping_for(self, inventory: str) -> Mapping[str, str]:
        extra = self.inventory_fact_mapping.get(inventory)
        return {**self.fact_mapping, **extra} if extra else self.fact_mapping

    def default_inventories(self, root: Path) -> tuple[Path, ...]:
        if self.inventories is not None:
            return self.inventories
        base = root / "inventories"
        if not base.is_dir():
            return ()
        return tuple(sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")))


class _Checker:
    """Validates the raw config mapping, collecting every error with its location."""

    def __init__(self, display: str, base: Path, data: Mapping[Any, Any], line: int | None,
                 confine: safeio.Confinement | None = None):
        self.confine = confine  # paths a config names must stay inside (see safeio)
        self.display = display
        self.base = base
        self.data = data
        self.line = line
        self.errors: list[InputError] = []

    def _where(self, key: Any, container: Mapping[Any, Any] | None = None) -> tuple[int | None,
                                                                                    int | None]:
        holder = self.data if container is None else container
        locs = getattr(holder, "locs", None)
        if locs is not None and key in locs:
            return locs[key].line, locs[key].column
        return self.line, None

    def error(self, message: str, key: Any, container: Mapping[Any, Any] | None = None) -> None:
        line, col = self._where(key, container)
        self.errors.append(InputError(message, self.display, line, col))

    def paths(self, key: str) -> tuple[Path, ...] | None:
        raw = self.data.get(key)
        if raw is None:
            return None
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            self.error(f"'{key}' must be a path or a list of paths", key)
            return None
        return tuple(self.confined(key, self.base / i) for i in items)

    def confined(self, key: str, path: Path) -> Path:
        if self.confine is not None and self.confine.outside(path) is not None:
            self.error(f"'{key}': {path} resolves outside the configuration root", key)
        return path

    def string_map(self, raw: Any, key: str, container: Mapping[Any, Any]) -> dict[str, str]:
        if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in raw.items()
        ):
            self.error(f"'{key}' must map fact paths to hostvar names", key, container)
            return {}
        return dict(raw)

    def build(self) -> RunConfig:
        for key in self.data:
            if key not in _KEYS:
                self.error(f"unknown key '{key}' (allowed: {', '.join(sorted(_KEYS))})", key)
        kwargs: dict[str, Any] = {"source": self.display}
        for key in ("policies", "inventories", "waivers"):
            value = self.paths(key)
            if value is not None:
                kwargs[key] = value
        fail_on = self.data.get("fail_on", "error")
        if fail_on not in FAIL_ON:
            self.error(f"'fail_on' must be one of {', '.join(FAIL_ON)}, not {fail_on!r}",
                       "fail_on")
        else:
            kwargs["fail_on"] = fail_on
        playbook = self.data.get("playbook_dir")
        if playbook is not None:
            if isinstance(playbook, str) and playbook:
                kwargs["playbook_dir"] = self.confined("playbook_dir", self.base / playbook)
            else:
                self.error("'playbook_dir' must be a path", "playbook_dir")
        facts = self.data.get("facts")
        if facts is not None:
            if not isinstance(facts, Mapping):
                self.error("'facts' must be a mapping of fact paths to hostvar names", "facts")
            else:
                per_inv = facts.get("inventories", {})
                flat = {k: v for k, v in facts.items() if k != "inventories"}
                kwargs["fact_mapping"] = {
                    **DEFAULT_FACT_MAPPING, **self.string_map(flat, "facts", self.data)}
                if not isinstance(per_inv, Mapping):
                    self.error("'facts.inventories' must map inventory names to mappings",
                               "inventories", facts)
                else:
                    kwargs["inventory_fact_mapping"] = {
                        str(name): self.string_map(m, str(name), per_inv)
                        for name, m in per_inv.items()
                    }
        roles = self.data.get("roles")
        if roles is not None:
            if not isinstance(roles, Mapping) or not all(
                isinstance(g, list) and all(isinstance(x, str) for x in g)
                for g in roles.values()
            ):
                self.error("'roles' must map each role to a list of group names", "roles")
            else:
                kwargs["roles"] = tuple((str(r), tuple(g)) for r, g in roles.items())
        drift = self.data.get("drift")
        if drift is not None:
            if not isinstance(drift, list) or not all(isinstance(d, str) for d in drift):
                self.error("'drift' must be a list of fact paths", "drift")
            else:
                kwargs["drift"] = tuple(drift)
        if self.errors:
            raise InputErrors(self.errors)
        return RunConfig(**kwargs)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def load_config(explicit: Path | None = None, root: Path | None = None) -> RunConfig:
    """The config named with ``--config``, else the one found in ``root`` (cwd), else defaults."""
    root = root or Path.cwd()
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"config file not found: {explicit}")
        candidates = [explicit]
    else:
        candidates = [root / CONFIG_FILE, root / "pyproject.toml"]
    # A config found in the root is the repository's: it, and every path it names, must
    # stay inside the root. One named with --config may live elsewhere, beside its paths.
    confine = safeio.Confinement(root, explicit.parent if explicit is not None else None)
    for path in candidates:
        if not path.is_file():
            continue
        display = _display(path, root)
        reader = None if explicit is not None else confine
        if path.suffix == ".toml":
            text = yamlio.read_text(path, display, reader)
            try:
                doc = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise InputError(f"invalid TOML: {exc}", display) from None
            tool = doc.get("tool", {})
            section = tool.get("mlflow-policy") if isinstance(tool, dict) else None
            if section is not None and not isinstance(section, dict):
                raise InputError("[tool.mlflow-policy] must be a table", display)
            if section is None:
                if explicit is None:
                    continue
                raise InputError("no [tool.mlflow-policy] table", display)
            line = next((n for n, s in enumerate(text.splitlines(), 1)
                         if s.strip() == "[tool.mlflow-policy]"), None)
            return _Checker(display, path.parent, section, line, confine).build()
        data = yamlio.loads(yamlio.read_text(path, display, reader), display)
        if data is None:
            return RunConfig(source=display)
        if not isinstance(data, Mapping):
            raise InputError("the config must be a YAML mapping", display, 1)
        return _Checker(display, path.parent, data, None, confine).build()
    return RunConfig()
