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
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --------------------------------------------------------------------------- discovery


def discover(root: Path) -> tuple[list[Path], list[Problem]]:
    """The manifest files under ``root`` (a file or a directory), sorted, and path problems.

    Directories are searched recursively for ``*.yaml`` and ``*.yml``; hidden files and
    directories (such as ``.fleet/``) are skipped.
    """
    if not root.exists():
        return [], [Problem(str(root), 1, 1, "", "no such file or directory")]
    if root.is_file():
        return [root], []
    files = sorted(
        (p for p in _walk(root) if p.suffix in (".yaml", ".yml")),
        key=lambda p: p.relative_to(root).parts,
    )
    if not files:
        return [], [Problem(str(root), 1, 1, "", "no manifests found (no *.yaml or *.yml files)")]
    return files, []


def _walk(directory: Path) -> Iterator[Path]:
    with os.scandir(directory) as entries:  # scandir caches the file type: no stat per file
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                yield from _walk(Path(entry.path))
            elif entry.is_file():
                yield Path(entry.path)


# --------------------------------------------------------------------------- parsing


def parse_file(path: Path) -> tuple[list[SourceDocument], list[Problem], bool]:
    """Read every non-empty YAML document of one file: (documents, problems, complete).

    A syntax error stops the file (YAML cannot resynchronise) but earlier documents are kept;
    ``complete`` is False then, and when the file cannot be read at all.
    """
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(display, 1, 1, "", f"cannot read file: {exc}")], False
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
                data = converter.convert(node, 0)
                line = node.start_mark.line + 1
                documents.append(SourceDocument(display, index, line, data, source))
            index += 1
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
    return documents, problems, complete


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


class _Converter:
    """Turns a node tree into plain data, reporting duplicate and non-string keys.

    Timestamps stay strings (the schema expects RFC 3339 text, and digests need text). The
    field path is kept on one mutable stack and only formatted when a problem is reported.
    """

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []
        self._path: list[str | int] = []

    def convert(self, node: Node, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            tag = node.tag
            if tag in (_STR, _TIMESTAMP):
                return node.value
            constructor = _SCALAR_CONSTRUCTOR.yaml_constructors.get(tag)
            if constructor is None:
                return self._report(node, f"unsupported YAML tag {tag}")
            value = constructor(_SCALAR_CONSTRUCTOR, node)
            if isinstance(value, float) and not math.isfinite(value):
                return node.value  # .inf/.nan: keep the text so the schema rejects it plainly
            return value
        if depth > _MAX_DEPTH:  # only a self-referencing alias nests this deep
            return self._report(node, "YAML nested too deeply (a recursive alias?)")
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
        return self._report(node, f"unsupported YAML node {node.tag}")

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

    def _report(self, node: Node, message: str) -> None:
        mark = node.start_mark
        field = format_field(self._path)
        self.problems.append(Problem(self.display, mark.line + 1, mark.column + 1, field, message))
        return None
