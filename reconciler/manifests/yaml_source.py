"""Find manifest files and read them into YAML documents that can say where each value was.

A document keeps its plain data and a handle on its file's text. When a check needs to report a
problem, ``SourceDocument.locate`` composes the file's YAML nodes again (once per file) and walks
them to turn a field path such as ``("spec", "branches", 1, "name")`` into a 1-based line and
column. Holding every node tree for the whole load would triple the objects alive on fleets of
thousands of tenants; the problem path can afford a second parse.

Speed notes (10,000 tenants must load in well under two seconds of CPU):

* libyaml's C parser is used when PyYAML was built with it;
* the implicit-tag resolver is memoised: manifests repeat the same keys and values endlessly,
  and PyYAML's resolver runs a regular expression per scalar;
* nodes are converted to data by a small walker instead of PyYAML's generic constructor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALAR_CONSTRUCTOR = yaml.SafeLoader("")  # only its scalar construct_* methods are used
_RESOLVED: dict[tuple[str, Any], str] = {}
_RESOLVED_MAX = 200_000
#: Manifests nest a handful of levels; anything near this is a self-referencing alias.
_MAX_DEPTH = 64
#: Alias caps per document. YAML aliases share one node, so a few hundred bytes of nested
#: anchors ("billion laughs") describe billions of values; converting them to data is what
#: grows without bound. Manifests use a handful of aliases (a shared quota block), so these
#: caps are far above any real use and far below what hurts (100,000 values is a few MB).
MAX_ALIAS_USES = 1_000
MAX_ALIAS_VALUES = 100_000
#: Python refuses to convert integers longer than this (``sys.get_int_max_str_digits``).
_MAX_INT_DIGITS = 4300
#: Integers this wide have more than ``_MAX_INT_DIGITS`` decimal digits.
_MAX_INT_BITS = int(_MAX_INT_DIGITS / math.log10(2))


class _MarkedLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader whose scalar tag resolution is memoised (a pure function of the text)."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit is not None:
            key = (value, implicit)
            tag = _RESOLVED.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) >= _RESOLVED_MAX:  # bound the memo in long-lived processes
                    _RESOLVED.clear()
                _RESOLVED[key] = tag
            return tag
        resolved: str = super().resolve(kind, value, implicit)
        return resolved


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


class SourceText:
    """The text of one manifest file; its YAML nodes are composed again only when needed.

    Keeping every document's node tree alive through a load would hold three objects per YAML
    value (node and two marks) for the whole run; re-composing a file on the rare problem path
    is cheaper than that on the common path.
    """

    __slots__ = ("_nodes", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._nodes: list[Node] | None = None

    def node(self, index: int) -> Node:
        """The root node of document ``index`` (counting empty documents too)."""
        if self._nodes is None:
            self._nodes = []
            loader = _MarkedLoader(self.text)
            try:
                while loader.check_node():
                    self._nodes.append(loader.get_node())
            except yaml.YAMLError:
                pass  # a later syntax error was reported at parse time; earlier nodes suffice
            finally:
                loader.dispose()
        return self._nodes[index]


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """One YAML document of a manifest file: its data, and where to find its marks."""

    path: str
    #: 0-based position of the document in its file (empty documents count).
    index: int
    #: 1-based line where the document starts.
    line: int
    data: Any
    source: SourceText

    def locate(self, field: Sequence[str | int], *, at_key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``field``, or of its key when ``at_key``.

        When the path leads to something that is not in the file (a missing key), the position
        of the nearest enclosing node is returned, which is where the key would have to go.
        """
        node = self.source.node(self.index)
        key_node: Node | None = None
        for part in field:
            child = _child(node, part)
            if child is None:
                key_node = None
                break
            key_node, node = child
        mark = (key_node if at_key and key_node is not None else node).start_mark
        return int(mark.line) + 1, int(mark.column) + 1

    def problem(self, field: Sequence[str | int], message: str, *, at_key: bool = False) -> Problem:
        """A ``Problem`` located at ``field`` of this document."""
        line, column = self.locate(field, at_key=at_key)
        return Problem(self.path, line, column, format_field(field), message)


def _child(node: Node, part: str | int) -> tuple[Node, Node] | None:
    """(key node, value node) of ``part`` inside ``node``; sequences use the item as both."""
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in reversed(node.value):  # the last duplicate wins, as in the data
            if isinstance(key, ScalarNode) and key.value == part:
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item
    return None


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """What one manifest file held, and what was wrong with it."""

    documents: list[SourceDocument]
    problems: list[Problem]
    #: False when the file could not be read to its end (references may point into the rest).
    complete: bool
    #: (line, column) of values that could not be read and became null: later stages would
    #: only repeat those as "got null", so the loader reports nothing else there.
    unreadable: frozenset[tuple[int, int]] = frozenset()


def parse_file(path: Path) -> ParsedFile:
    """Read every non-empty YAML document of one file.

    A syntax error stops the file (YAML cannot resynchronise) but earlier documents are kept;
    ``complete`` is False then, and when the file cannot be read at all.
    """
    display = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = Problem(display, 1, 1, "", f"cannot read file: {exc.strerror or exc}")
        return ParsedFile([], [problem], complete=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = raw[: exc.start]
        line, column = head.count(b"\n") + 1, exc.start - (head.rfind(b"\n") + 1) + 1
        message = f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot start a character"
        return ParsedFile([], [Problem(display, line, column, "", message)], complete=False)
    documents: list[SourceDocument] = []
    problems: list[Problem] = []
    source = SourceText(text)
    converter = _Converter(display)
    complete = True
    loader = _MarkedLoader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if not _is_empty(node):
                data = converter.document(node)
                line = node.start_mark.line + 1
                documents.append(SourceDocument(display, index, line, data, source))
            index += 1
    except AliasBomb as exc:
        problems.append(exc.problem)
        complete = False
    except yaml.MarkedYAMLError as exc:
        problems.append(_yaml_problem(display, exc))
        complete = False
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (NUL, a stray control byte): point at it.
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        message = f"invalid YAML: {exc.reason} (character #x{exc.character:04x})"
        problems.append(Problem(display, line, column, "", message))
        complete = False
    except yaml.YAMLError as exc:
        problems.append(Problem(display, 1, 1, "", f"invalid YAML: {exc}"))
        complete = False
    finally:
        loader.dispose()
    problems.extend(converter.problems)
    return ParsedFile(documents, problems, complete, frozenset(converter.unreadable))


def _is_empty(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null" and not node.value


def _yaml_problem(display: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    reason = exc.problem or exc.context or "syntax error"
    context = exc.context_mark
    if exc.context and exc.problem:
        where = ""
        if context is not None and context is not mark:
            where = f" started at line {context.line + 1}, column {context.column + 1}"
        reason = f"{exc.problem} ({exc.context}{where})"
    return Problem(display, line, column, "", f"invalid YAML: {reason}")


class AliasBomb(Exception):
    """Raised when a document's aliases expand past the caps; carries the located problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Converter:
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
