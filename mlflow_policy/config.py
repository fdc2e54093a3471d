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
drift: [mlflow.version, env, server, db.revision]
```
Unknown keys are errors with file:line, as everywhere else; ``facts:`` keys and ``drift:``
entries must be fact paths of the fact table (``facts/table.py``). The model and its JSON
Schema (``mlflow-policy schema --config``) are in :mod:`mlflow_policy.configmodel`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow_policy import safeio, yamlio
from mlflow_policy.errors import InputError, InputErrors
from mlflow_policy.facts import table as _table

if TYPE_CHECKING:
    from mlflow_policy.policy.ruleconfig import RuleSetting

CONFIG_FILE = ".mlflow-policy.yaml"
FAIL_ON = ("error", "warning", "info", "never")

# facts.md: fact path -> the hostvar static mode reads it from (from the one fact table).
DEFAULT_FACT_MAPPING: dict[str, str] = dict(_table.DEFAULT_FACT_MAPPING)
# db.revision: compared with the alembic head of the declared mlflow.version (facts/drift.py)
DEFAULT_DRIFT = ("mlflow.version", "env", "server", "db.revision")


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
    rules: tuple[RuleSetting, ...] = ()  # the `rules:` table (policy/ruleconfig.py)

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


def _paths(base: Path, raw: str | list[str] | None) -> tuple[Path, ...] | None:
    if raw is None:
        return None
    return tuple(base / p for p in ([raw] if isinstance(raw, str) else raw))


def _build(display: str, base: Path, data: Mapping[Any, Any], line: int | None,
           confine: safeio.Confinement | None = None) -> RunConfig:
    """Validate a config mapping (every error located; see configmodel) into a RunConfig."""
    from mlflow_policy.configmodel import validate

    model = validate(data, display, line)
    kwargs: dict[str, Any] = {"source": display}
    for key in ("policies", "inventories", "waivers"):
        value = _paths(base, getattr(model, key))
        if value is not None:
            kwargs[key] = value
    if model.fail_on is not None:
        kwargs["fail_on"] = model.fail_on
    if model.playbook_dir is not None:
        kwargs["playbook_dir"] = base / model.playbook_dir
    if model.facts is not None:
        kwargs["fact_mapping"] = {**DEFAULT_FACT_MAPPING, **model.facts.mapping}
        kwargs["inventory_fact_mapping"] = {
            name: dict(m) for name, m in model.facts.inventories.items()}
    if model.roles is not None:
        kwargs["roles"] = tuple((r, tuple(g)) for r, g in model.roles.items())
    if model.drift is not None:
        kwargs["drift"] = tuple(model.drift)
    if model.rules is not None:
        from mlflow_policy.policy.ruleconfig import parse_rule_settings

        locs = getattr(data, "locs", None) or {}
        kwargs["rules"] = parse_rule_settings(data["rules"], display, locs.get("rules"))
    if confine is not None:
        _confined(display, data, line, kwargs, confine)
    return RunConfig(**kwargs)


def _confined(display: str, data: Mapping[Any, Any], line: int | None, kwargs: dict[str, Any],
              confine: safeio.Confinement) -> None:
    """Every path a repository's config names must resolve inside the configuration root:
    a pull request must not point a run at /proc/self/environ or /etc/shadow."""
    errors: list[InputError] = []
    locs = getattr(data, "locs", None) or {}
    for key in ("policies", "inventories", "waivers", "playbook_dir"):
        value = kwargs.get(key)
        for path in (value,) if isinstance(value, Path) else (value or ()):
            if confine.outside(path) is not None:
                where = locs.get(key)
                errors.append(InputError(
                    f"'{key}': {path} resolves outside the configuration root", display,
                    where.line if where is not None else line,
                    where.column if where is not None else None))
    if errors:
        raise InputErrors(errors)


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
            return _build(display, path.parent, section, line, confine)
        data = yamlio.loads(yamlio.read_text(path, display, reader), display)
        if data is None:
            return RunConfig(source=display)
        if not isinstance(data, Mapping):
            raise InputError("the config must be a YAML mapping", display, 1)
        return _build(display, path.parent, data, None, confine)
    return RunConfig()
