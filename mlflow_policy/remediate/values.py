"""Safe values: what the remediation writes, quoted for its target or refused.

Three targets, three syntaxes (anchors-live-remediation-docs.md section 2.4):

- YAML (host_vars/group_vars patches, the playbook's data): built as data and dumped with a
  safe dumper, never interpolated into text; a string holding Jinja2 markers is tagged
  ``!unsafe`` so that Ansible never templates it.
- env files: ``KEY="value"``, backslash and double quote escaped. python-dotenv (``mlflow
  --env-file``), systemd's ``EnvironmentFile=`` and the gather module's parser all read
  that the same way; ``${`` is refused because python-dotenv expands it and systemd does
  not.
- systemd unit lines (``Environment=`` in a drop-in): the whole assignment double-quoted,
  ``\\`` and ``"`` escaped and ``%`` doubled (systemd expands ``%`` specifiers there).

A value no target can hold safely (a newline, NUL or other control character; quoting
that does not balance) is refused with :class:`UnsafeValue`, which names the host, the
fact and the reason, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from mlflow_policy.core import Unsafe, VaultedValue

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TAB = "\t"
_JINJA = ("{{", "{%", "{#")
# multi-line text a literal block holds exactly: printable lines, no trailing spaces
_LITERAL_OK = re.compile(r"(?:[^\x00-\x1f\x7f]*[^\s]\n|\n)+")


class UnsafeValue(Exception):
    """A value that cannot be written safely. The message never quotes the value."""

    def __init__(self, host: str, fact: str, reason: str) -> None:
        super().__init__(f"{host}: {fact}: {reason}; not written")
        self.host = host
        self.fact = fact
        self.reason = reason


def _char_name(ch: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\x00": "a NUL byte"}
    return names.get(ch, f"the control character U+{ord(ch):04X}")


def text_problem(text: str, *, env: bool = False) -> str | None:
    """Why ``text`` cannot be written as one value, or None."""
    bad = _CONTROL.search(text)
    if bad is not None:
        return f"the value holds {_char_name(bad.group(0))}"
    if env and _TAB in text:
        return "the value holds a tab"
    if text.count('"') % 2:
        return "the value's double quotes do not balance"
    for q in ("'", '"'):
        if (text.startswith(q) != text.endswith(q)) or text == q:
            return f"the value starts or ends with an unmatched {q} quote"
    if env and "${" in text:
        return "the value holds '${', which python-dotenv expands and systemd does not"
    return None


def check(value: Any, host: str, fact: str, *, env: bool = False) -> None:
    """Refuse ``value`` (and anything nested in it) when it cannot be written safely."""
    if isinstance(value, VaultedValue):
        raise UnsafeValue(host, fact, "the value is vaulted and would be written in clear")
    if isinstance(value, str):
        problem = text_problem(value, env=env)
        if problem is not None:
            raise UnsafeValue(host, fact, problem)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise UnsafeValue(host, fact, "a mapping key is not a string")
            check(k, host, fact, env=env)
            check(v, host, f"{fact}.{k}", env=env)
    elif isinstance(value, list):
        for v in value:
            check(v, host, fact, env=env)
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise UnsafeValue(host, fact, f"a {type(value).__name__} is not plain YAML data")


def env_text(value: Any, host: str, fact: str) -> str:
    """An environment variable's value as text (a policy may set a number or a boolean)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float, str)):
        text = str(value)
    else:
        raise UnsafeValue(host, fact, f"an environment variable cannot hold a "
                                      f"{type(value).__name__}")
    problem = text_problem(text, env=True)
    if problem is not None:
        raise UnsafeValue(host, fact, problem)
    return text


def _env_escaped(name: str, value: Any, host: str) -> str:
    """``value`` as the escaped text of variable ``name``, or refused."""
    fact = f"env.{name}"
    if not ENV_NAME.fullmatch(name):
        raise UnsafeValue(host, fact, "not a valid environment variable name")
    return _escape(env_text(value, host, fact))


def env_line(name: str, value: Any, host: str) -> str:
    """One ``KEY="value"`` line of an env file."""
    return f'{name}="{_env_escaped(name, value, host)}"'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def systemd_environment(name: str, value: Any, host: str) -> str:
    """One ``Environment="KEY=value"`` line of a systemd unit or drop-in."""
    return f'Environment="{name}={_env_escaped(name, value, host).replace("%", "%%")}"'


def read_env_line(line: str) -> tuple[str, str]:
    """The inverse of :func:`env_line` (for tests and round-trip checks)."""
    name, _, quoted = line.partition("=")
    body = quoted[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return name, "".join(out)


# --------------------------------------------------------------------------- YAML


class _Dumper(yaml.SafeDumper):
    """A safe dumper that writes ``!unsafe`` strings and never aliases repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_unsafe(dumper: yaml.SafeDumper, data: Unsafe) -> yaml.ScalarNode:
    return dumper.represent_scalar("!unsafe", str(data), style='"')


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if any(marker in data for marker in _JINJA):
        return dumper.represent_scalar("!unsafe", data, style='"')
    if "\n" in data and _LITERAL_OK.fullmatch(data):
        # a unit file's text (a drop-in): readable as a block, still plain data
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_str(data)


_Dumper.add_representer(Unsafe, _represent_unsafe)
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """A YAML document (``---`` first) of plain data; Jinja2 markers in strings tagged
    ``!unsafe``. Ansible reads YAML 1.1: the safe dumper quotes ``yes``, ``0644``,
    ``1_000`` and the like, so every string stays a string."""
    text: str = yaml.dump(data, Dumper=_Dumper, explicit_start=True, sort_keys=False,
                          default_flow_style=False, allow_unicode=True, width=120)
    return text


def yaml_inline(data: Any) -> str:
    """One value as flow-style YAML, for a template to place after ``key:``."""
    text: str = yaml.dump(data, Dumper=_Dumper, default_flow_style=True, allow_unicode=True,
                          width=10_000)
    text = text.rstrip("\n")
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text
