"""Read manifest files into YAML documents that can say where each value was.

A document keeps its plain data and a handle on its file's text. When a check needs to report a
problem, ``SourceDocument.locate`` composes the file's YAML nodes again (once per file) and walks
them to turn a field path such as ``("spec", "branches", 1, "name")`` into a 1-based line and
column. Holding every node tree for the whole load would triple the objects alive on fleets of
thousands of tenants; the problem path can afford a second parse.

Speed notes (10,000 tenants must load in well under two seconds of CPU):

* libyaml's C parser is used when PyYAML was built with it;
* the implicit-tag resolver is memoised: manifests repeat the same keys and values endlessly,
  and PyYAML's resolver runs a regular expression per scalar;
* nodes are converted to data by a small walker (``yaml_data``, which also holds the limits
  on hostile input) instead of PyYAML's generic constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import Problem
from reconciler.manifests.yaml_data import AliasBomb, NodeConverter, format_field

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVED: dict[tuple[str, Any], str] = {}
_RESOLVED_MAX = 200_000


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
    converter = NodeConverter(display)
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
