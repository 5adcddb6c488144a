"""YAML nodes to plain data: the converter behind ``yaml_source.parse_file``, and its limits.

A small walker instead of PyYAML's generic constructor: it is faster on large fleets, keeps
timestamps as text, reports duplicate and non-string keys with their place, and is where
hostile input stops. YAML aliases share one node, so a few hundred bytes of nested anchors
("billion laughs") describe billions of values, and converting them is what grows without
bound: alias uses and the values they expand to are capped per document. Numbers Python cannot
show in decimal (more than 4,300 digits) and tags with no safe meaning are problems too; a
value that cannot be read becomes null and its place is remembered (``unreadable``) so later
stages do not report it again as "got null".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")  # only its scalar construct_* methods are used
#: Manifests nest a handful of levels; anything near this is a self-referencing alias.
_MAX_DEPTH = 64
#: Alias caps per document. Manifests use a handful of aliases (a shared quota block), so these
#: are far above any real use and far below what hurts (100,000 values is a few MB).
MAX_ALIAS_USES = 1_000
MAX_ALIAS_VALUES = 100_000
#: Python refuses to convert integers longer than this (``sys.get_int_max_str_digits``).
_MAX_INT_DIGITS = 4300
#: Integers this wide have more than ``_MAX_INT_DIGITS`` decimal digits.
_MAX_INT_BITS = int(_MAX_INT_DIGITS / math.log10(2))


FieldPath = tuple[str | int, ...]


def format_field(path: Sequence[str | int]) -> str:
    """Render a field path the way messages show it: ``spec.branches[1].name``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class AliasBomb(Exception):
    """Raised when a document's aliases expand past the caps; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class NodeConverter:
    """Turns a node tree into plain data, reporting duplicate and non-string keys.

    Timestamps stay strings (the schema expects RFC 3339 text, and digests need text). The
    field path is kept on one mutable stack and only formatted when a problem is reported.

    A collection node met a second time in one document is an alias use (the composer hands
    out the anchored node again); uses and the values they expand to are counted and capped
    (``MAX_ALIAS_USES``, ``MAX_ALIAS_VALUES``), which stops an alias bomb before it grows.
    """

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []
        self._path: list[str | int] = []
        #: (line, column) of values replaced by null because they could not be read.
        self.unreadable: set[tuple[int, int]] = set()
        self._seen: set[int] = set()
        self._alias_uses = 0
        self._alias_values = 0
        self._expanding = 0
        #: (line, column) of the key holding the value being converted, and of the outermost
        #: alias use being expanded: the place a user can find and fix.
        self._key_mark: tuple[int, int] = (1, 1)
        self._alias_at: tuple[int, int] = (1, 1)
        self._alias_field = ""
        self._alias_anchor = 1

    def document(self, node: Node) -> Any:
        """Convert the root node of one document (anchors never cross documents)."""
        self._seen.clear()  # node ids of an earlier document may be reused by this one
        self._alias_uses = self._alias_values = self._expanding = 0
        self._key_mark = (node.start_mark.line + 1, node.start_mark.column + 1)
        return self.convert(node, 0)

    def convert(self, node: Node, depth: int) -> Any:
        if self._expanding:
            self._alias_values += 1
            if self._alias_values > MAX_ALIAS_VALUES:
                self._bomb(f"expand to more than {MAX_ALIAS_VALUES:,} values")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if depth > _MAX_DEPTH:  # only a self-referencing alias nests this deep
            return self._unreadable(node, "YAML nested too deeply (a recursive alias?)")
        if id(node) in self._seen:
            self._alias_uses += 1
            if self._alias_uses > MAX_ALIAS_USES:
                self._bomb(f"are used more than {MAX_ALIAS_USES:,} times")
            if not self._expanding:
                self._alias_at, self._alias_field = self._key_mark, format_field(self._path)
                self._alias_anchor = node.start_mark.line + 1
            self._expanding += 1
            try:
                return self._collection(node, depth)
            finally:
                self._expanding -= 1
        self._seen.add(id(node))
        return self._collection(node, depth)

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP):
            return node.value
        constructor = _SCALAR_CONSTRUCTOR.yaml_constructors.get(tag)
        if constructor is None:
            return self._unreadable(node, f"unsupported YAML tag {tag}")
        digits = sum(c.isdigit() for c in node.value) if len(node.value) > _MAX_INT_DIGITS else 0
        if digits > _MAX_INT_DIGITS:
            # Python refuses such integers (and float() would only give inf): say it plainly.
            return self._unreadable(node, f"a number of {digits:,} digits is too long")
        try:
            value = constructor(_SCALAR_CONSTRUCTOR, node)
        except (ValueError, yaml.YAMLError) as exc:  # e.g. !!binary that is not base64
            reason = getattr(exc, "problem", None) or str(exc)
            kind = tag.rsplit(":", 1)[-1]
            return self._unreadable(node, f"cannot read the {kind} value: {reason}")
        if isinstance(value, float) and not math.isfinite(value):
            return node.value  # .inf/.nan: keep the text so the schema rejects it plainly
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            # Written in hex, octal or base 60, it was readable; shown in decimal (as every
            # message and digest would), it is not.
            digits = int(value.bit_length() * math.log10(2)) + 1
            return self._unreadable(node, f"a number of about {digits:,} digits is too long")
        return value

    def _bomb(self, what: str) -> NoReturn:
        line, column = self._alias_at
        message = (
            f"YAML aliases {what} (an alias bomb?); this alias starts the expansion, "
            f"its anchor is on line {self._alias_anchor}"
        )
        raise AliasBomb(Problem(self.display, line, column, self._alias_field, message))

    def _collection(self, node: Node, depth: int) -> Any:
        if isinstance(node, MappingNode):
            return self._mapping(node, depth + 1)
        if isinstance(node, SequenceNode):
            path = self._path
            items = []
            for i, item in enumerate(node.value):
                path.append(i)
                items.append(self.convert(item, depth + 1))
                path.pop()
            return items
        return self._unreadable(node, f"unsupported YAML node {node.tag}")

    def _mapping(self, node: MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] | None = None
        first_lines: dict[str, int] = {}
        path = self._path
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = {**(merged or {}), **self._merge_source(value_node, depth)}
                continue
            key = self.convert(key_node, depth)
            if not isinstance(key, str):
                self._report(key_node, f"mapping keys must be strings, not {key!r}")
                continue
            path.append(key)
            self._key_mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in first_lines:
                first = first_lines[key]
                self._report(key_node, f"duplicate key; first given on line {first}")
            else:
                first_lines[key] = key_node.start_mark.line + 1
            result[key] = self.convert(value_node, depth)
            path.pop()
        return {**merged, **result} if merged else result

    def _merge_source(self, node: Node, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):  # earlier sources win, as YAML's merge key says
            value = self.convert(source, depth)
            if isinstance(value, dict):
                merged.update(value)
            else:
                self._report(source, "a merge key (<<) needs a mapping or list of mappings")
        return merged

    def _unreadable(self, node: Node, message: str) -> None:
        """Report a value that cannot be read; it becomes null in the data."""
        self.unreadable.add((node.start_mark.line + 1, node.start_mark.column + 1))
        return self._report(node, message)

    def _report(self, node: Node, message: str) -> None:
        mark = node.start_mark
        field = format_field(self._path)
        self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1, field, message))
        return None
