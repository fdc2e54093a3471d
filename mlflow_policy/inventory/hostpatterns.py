"""Host patterns as Ansible's file inventory plugins read them: ``name[:port]`` with
``[a:b(:step)]`` ranges (``web[01:20].example.com``, ``db-[a:f]``, ``[::1]:2222``).

Behaviour follows ``ansible.parsing.utils.addresses.parse_address`` and
``ansible.plugins.inventory.expand_hostname_range`` (2.19), including their quirks: a
pattern that is not a valid address is kept whole as a host name, with no port.
"""

from __future__ import annotations

import re
import string

_NUM_RANGE = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX_RANGE = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_V4 = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUM_RANGE})"
_V6 = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_LABEL = rf"(?:\w|{_ALNUM_RANGE})(?:[\w-]|{_ALNUM_RANGE})*(?<![_-])"
_DOTTED_V4 = rf"(?:{_V4}\.){{3}}{_V4}"

_IPV4 = re.compile(rf"^{_DOTTED_V4}$", re.I)
_IPV6 = re.compile(
    "^(?:"
    + "|".join([
        rf"(?:{_V6}:){{7}}{_V6}",
        rf"(?:{_V6}:){{1,6}}:",
        rf"(?:{_V6}:)(?::{_V6}){{1,6}}",
        rf"(?:{_V6}:){{2}}(?::{_V6}){{1,5}}",
        rf"(?:{_V6}:){{3}}(?::{_V6}){{1,4}}",
        rf"(?:{_V6}:){{4}}(?::{_V6}){{1,3}}",
        rf"(?:{_V6}:){{5}}(?::{_V6}){{1,2}}",
        rf"(?:{_V6}:){{6}}(?::{_V6})",
        rf":(?::{_V6}){{1,6}}",
        rf"{_V6}?::",
        rf"(?:0:){{6}}{_DOTTED_V4}",
        rf"::(?:ffff:)?{_DOTTED_V4}",
        rf"(?:0:){{5}}ffff:{_DOTTED_V4}",
    ])
    + ")$",
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)
_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")


# A range that expands past this is a typo (web[1:10000000]), not a fleet; refuse it
# rather than exhaust memory.
MAX_EXPANSION = 50_000  # the same as data.MAX_HOSTS


class PatternError(ValueError):
    """A host pattern Ansible refuses; the message is Ansible's."""


def is_ip_address(name: str) -> bool:
    # every IPv6 form has a ':' (and the IPv6 pattern is by far the slower one)
    return bool(_IPV4.match(name) or (":" in name and _IPV6.match(name)))


def _parse_address(address: str) -> tuple[str, int | None]:
    if ":" not in address:
        # no port and no IPv6 form without a ':': the common "web-01" in one or two probes
        if _HOSTNAME.match(address) or _IPV4.match(address):
            return address, None
        raise PatternError(f"Not a valid network hostname: {address}")
    port = None
    # Ansible tries both port forms in turn (the second on what the first left).
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        m = pattern.match(address)
        if m:
            address, port = m.group(1), int(m.group(2))
    if not (_IPV4.match(address) or _IPV6.match(address) or _HOSTNAME.match(address)):
        raise PatternError(f"Not a valid network hostname: {address}")
    return address, port


def _numeric(beg: str, end: str, step: str, nrange: str) -> list[str]:
    try:
        numbers = range(int(beg), int(end) + 1, int(step))
    except ValueError as exc:
        raise PatternError(f"invalid host range '[{nrange}]': {exc}") from None
    if len(numbers) > MAX_EXPANSION:
        raise PatternError(f"host range '[{nrange}]' expands to {len(numbers)} hosts, "
                           f"more than the {MAX_EXPANSION} mlflow-policy accepts")
    return [str(i) for i in numbers]


def expand_range(line: str) -> list[str]:
    """Expand the first ``[begin:end(:step)]`` of ``line``, then the rest recursively."""
    parts = line.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        raise PatternError(f"cannot expand host range in '{line}'")
    head, nrange, tail = parts
    bounds = nrange.split(":")
    if len(bounds) not in (2, 3):
        raise PatternError("host range must be begin:end or begin:end:step")
    beg, end = bounds[0] or "0", bounds[1]
    step = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise PatternError("host range must specify end value")
    width = 0
    if beg[0] == "0" and len(beg) > 1:
        width = len(beg)
        if width != len(end):
            raise PatternError("host range must specify equal-length begin and end formats")
    seq: list[str]
    try:
        i_beg = string.ascii_letters.index(beg)
        i_end = string.ascii_letters.index(end)
        if i_beg > i_end:
            raise PatternError("host range must have begin <= end")
        seq = list(string.ascii_letters[i_beg:i_end + 1:int(step)])
    except PatternError:
        raise
    except ValueError:  # not an alphabetic range (or a bad step): numeric, as Ansible does
        seq = _numeric(beg, end, step, nrange)
    if len(seq) > MAX_EXPANSION:
        raise PatternError(f"host range '[{nrange}]' expands to {len(seq)} hosts, "
                           f"more than the {MAX_EXPANSION} mlflow-policy accepts")
    hosts: list[str] = []
    for item in seq:
        name = f"{head}{item.zfill(width) if width else item}{tail}"
        if "[" in name:
            hosts.extend(expand_range(name))
        else:
            hosts.append(name)
        if len(hosts) > MAX_EXPANSION:
            raise PatternError(f"host pattern '{line}' expands to more than {MAX_EXPANSION} "
                               "hosts")
    return hosts


def expand_hostpattern(pattern: str) -> tuple[list[str], int | None]:
    """Host names and the port a pattern gives (``BaseInventoryPlugin._expand_hostpattern``)."""
    try:
        name, port = _parse_address(pattern)
    except PatternError:
        name, port = pattern, None
    if "[" in name:
        return expand_range(name), port
    return [name], port
