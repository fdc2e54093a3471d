"""Strict YAML: the only way mlflow-policy reads YAML (policies, inventories, vars, config).

Stricter than PyYAML's safe loader, because a silently wrong read of an inventory is a
silently wrong verdict:

- duplicate mapping keys are an error (Ansible only warns and keeps the last one);
- invalid UTF-8 is an error naming the line;
- files are size-bounded and alias expansion is bounded, so a "billion laughs" document
  fails fast instead of exhausting memory in whatever walks the result later;
- ``!vault`` scalars and ``__ansible_vault`` mappings load as opaque :class:`VaultedValue`;
- ``!unsafe`` scalars load as :class:`Unsafe` strings (never templated);
- every mapping and list remembers where each of its values was written.

libyaml's parser and composer do the heavy lifting (``CSafeLoader``) when available.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from mlflow_policy import safeio
from mlflow_policy.core import Location, Unsafe, VaultedValue
from mlflow_policy.errors import InputError

MAX_FILE_BYTES = safeio.MAX_FILE_BYTES
# Nodes that aliases may add on top of the nodes actually written in the file. Real
# inventories use a handful of anchors; a bomb needs millions.
MAX_ALIAS_EXPANSION = 100_000

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocDict(dict[Any, Any]):
    """A mapping that remembers, per key, where its value was written."""

    __slots__ = ("loc", "locs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locs: dict[Any, Location] = {}
        self.loc: Location | None = None


class LocList(list[Any]):
    """A list that remembers where each item was written."""

    __slots__ = ("loc", "locs")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.locs: list[Location] = []
        self.loc: Location | None = None


def decode_utf8(data: bytes, path: str) -> str:
    """Decode strictly; the error names the line of the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); files must be UTF-8", path, line, col
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: Path, display: str | None = None,
              confine: safeio.Confinement | None = None) -> str:
    """Read a regular text file with the size bound and strict UTF-8 (``confine``: the
    directories it must resolve inside, for a path a repository file named)."""
    shown = display if display is not None else str(path)
    return decode_utf8(safeio.read_bytes(path, shown, confine), shown)


class _Loader(_BaseLoader):  # type: ignore[misc]
    display_path = "<string>"

    def _loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.display_path, mark.line + 1, mark.column + 1)

    def _error(self, message: str, node: yaml.Node) -> InputError:
        mark = node.start_mark
        return InputError(message, self.display_path, mark.line + 1, mark.column + 1)

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[Any]:
        data = LocDict()
        data.loc = self._loc(node)
        yield data
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise self._error("a mapping key must be a scalar", key_node) from None
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise self._error(f"duplicate key {key!r} (first defined on line {first})",
                                  key_node)
            seen[key] = key_node
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            data[key] = self.construct_object(value_node, deep=False)
            data.locs[key] = self._loc(value_node)

    def build(self, node: yaml.Node) -> Any:
        """What ``construct_document`` makes of ``node``, for a document without aliases
        or merge keys: a direct recursive walk, about twice as fast as PyYAML's
        generator-driven construction (most of the time of loading an inventory)."""
        kind = type(node)
        tag = node.tag
        if kind is yaml.ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _SCALAR_TAGS:
                return self.yaml_constructors[tag](self, node)
            return self.construct_document(node)  # PyYAML's own handling, or its error
        if kind is yaml.MappingNode and tag == _MAP:
            data = LocDict()
            data.loc = self._loc(node)
            locs = data.locs
            path = self.display_path
            build = self.build
            # every key first, as PyYAML's constructor checks them: a duplicate key is the
            # error reported even when a later value is bad too
            keys: list[Any] = []
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                key = key_node.value if type(key_node) is yaml.ScalarNode and \
                    key_node.tag == _STR else build(key_node)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise self._error("a mapping key must be a scalar", key_node) from None
                if first is not None:
                    raise self._error(f"duplicate key {key!r} (first defined on line "
                                      f"{first.start_mark.line + 1})", key_node)
                seen[key] = key_node
                keys.append(key)
            for key, (_, value_node) in zip(keys, node.value, strict=True):
                data[key] = build(value_node)
                mark = value_node.start_mark
                locs[key] = Location(path, mark.line + 1, mark.column + 1)
            return data
        if kind is yaml.SequenceNode and tag == _SEQ:
            items = LocList()
            items.loc = self._loc(node)
            build = self.build
            path = self.display_path
            for child in node.value:
                items.append(build(child))
                mark = child.start_mark
                items.locs.append(Location(path, mark.line + 1, mark.column + 1))
            return items
        return self.construct_document(node)  # a tagged collection (!unsafe {...}...)

    def construct_located_seq(self, node: yaml.SequenceNode) -> Iterator[Any]:
        data = LocList()
        data.loc = self._loc(node)
        yield data
        for child in node.value:
            data.append(self.construct_object(child, deep=False))
            data.locs.append(self._loc(child))

    def construct_vault(self, node: yaml.Node) -> VaultedValue:
        if not isinstance(node, yaml.ScalarNode):
            raise self._error("!vault must tag a scalar holding the ciphertext", node)
        return VaultedValue(str(node.value))

    def construct_timestamp(self, node: yaml.ScalarNode) -> Any:
        # PyYAML raises a bare ValueError for 2027-13-01; make it a located input error.
        try:
            return yaml.constructor.SafeConstructor.construct_yaml_timestamp(self, node)
        except (ValueError, OverflowError) as exc:
            raise self._error(f"invalid date {node.value!r}: {exc}", node) from None

    def construct_int(self, node: yaml.ScalarNode) -> Any:
        # int() refuses more than sys.get_int_max_str_digits() digits with a bare ValueError
        try:
            return yaml.constructor.SafeConstructor.construct_yaml_int(self, node)
        except ValueError:
            raise self._error(f"integer of {len(str(node.value))} characters is too large "
                              "to read", node) from None

    def refuse_tag(self, node: yaml.Node) -> Any:
        # Neither is inventory or policy data (Ansible's loader has no !!binary either):
        # bytes and sets would reach reports that cannot print them.
        raise self._error(f"the YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is "
                          "not supported here", node)

    def construct_unsafe(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return Unsafe(node.value)
        # A collection is read as if untagged (so duplicate keys are errors and locations
        # are kept), then every string in it is unsafe, as Ansible's constructor marks
        # everything under the tag untrusted. A copy of the node, as Ansible does, so that
        # constructing it again is not taken for a recursive alias.
        untagged = copy.copy(node)
        untagged.tag = _SEQ if isinstance(node, yaml.SequenceNode) else _MAP
        return _unsafe(self.construct_object(untagged, deep=True))


def _unsafe(value: Any) -> Any:
    """``value`` with every string in it unsafe; containers are copied (an alias may share
    them with a part of the document outside the tag), keeping their locations."""
    if isinstance(value, str):
        return value if isinstance(value, Unsafe) else Unsafe(value)
    if isinstance(value, LocDict):
        out = LocDict({k: _unsafe(v) for k, v in value.items()})
        out.loc, out.locs = value.loc, dict(value.locs)
        return out
    if isinstance(value, LocList):
        items = LocList([_unsafe(v) for v in value])
        items.loc, items.locs = value.loc, list(value.locs)
        return items
    return value


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# tags whose constructors make a scalar in one call (not generators such as !!set, !!omap)
_SCALAR_TAGS = frozenset({
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float", "tag:yaml.org,2002:binary", "tag:yaml.org,2002:timestamp",
    "!vault", "!vault-encrypted", "!unsafe",
})


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_located_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_located_seq)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_timestamp)
_Loader.add_constructor("!vault", _Loader.construct_vault)
_Loader.add_constructor("!vault-encrypted", _Loader.construct_vault)
_Loader.add_constructor("!unsafe", _Loader.construct_unsafe)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_int)
for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader.refuse_tag)


def _check_expansion(root: yaml.Node, loader: _Loader) -> None:
    """Refuse recursive aliases and documents that aliases blow up past the bound.

    The composer shares one node object for every alias, so counting the expanded size
    with a memo costs one visit per node actually written.
    """
    expanded: dict[int, int] = {}
    written = 0
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(expanded[id(c)] for c in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(expanded[id(k)] + expanded[id(v)] for k, v in node.value)
            expanded[nid] = size
            if size - written > MAX_ALIAS_EXPANSION:
                raise loader._error(
                    f"aliases expand this document past {MAX_ALIAS_EXPANSION} extra nodes "
                    "(an alias bomb?); refusing to load it",
                    node,
                )
            continue
        if nid in expanded:
            continue
        if nid in on_path:
            raise loader._error("recursive alias: a node that contains itself", node)
        if isinstance(node, yaml.ScalarNode):
            expanded[nid] = 1
            written += 1
            continue
        written += 1
        on_path.add(nid)
        stack.append((node, True))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children.extend((k, v))
        for child in reversed(children):
            cid = id(child)
            if cid in on_path:
                raise loader._error("recursive alias: a node that contains itself", child)
            if cid not in expanded:
                stack.append((child, False))


def loads_all(text: str, display_path: str) -> list[Any]:
    """Every document of a YAML stream, strictly loaded, with locations."""
    loader = _Loader(text)
    loader.display_path = display_path
    # No alias can exist without a '*': most files skip the expansion walk entirely,
    # and without aliases or merge keys ('<<') a document is built by the direct walk.
    has_aliases = "*" in text
    direct = not has_aliases and "<<" not in text and "merge" not in text  # (!!merge)
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if has_aliases:
                _check_expansion(node, loader)
            docs.append(loader.build(node) if direct else loader.construct_document(node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        if mark is None:
            raise InputError(msg, display_path) from None
        raise InputError(msg, display_path, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        # a NUL or other control character: name its line
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError(f"invalid YAML: control character #x{code:04x} is not allowed",
                         display_path, line, column) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", display_path) from None
    except RecursionError:
        raise InputError("YAML nested too deeply", display_path) from None
    finally:
        loader.dispose()
    return docs


def loads(text: str, display_path: str) -> Any:
    """A single-document YAML stream (an empty stream is ``None``)."""
    docs = loads_all(text, display_path)
    if len(docs) > 1:
        raise InputError("expected one YAML document, found several", display_path)
    return docs[0] if docs else None


def load_file(path: Path, display: str | None = None) -> Any:
    shown = display if display is not None else str(path)
    return loads(read_text(path, shown), shown)


def load_all_file(path: Path, display: str | None = None) -> list[Any]:
    shown = display if display is not None else str(path)
    return loads_all(read_text(path, shown), shown)
