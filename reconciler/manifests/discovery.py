"""Find the manifest files under a path: a file, or a directory searched recursively.

Directories are searched for ``*.yaml`` and ``*.yml``; hidden files and directories (such as
``.fleet/``) are skipped. Symlinked directories are followed (a shared ``tiers/`` linked into
several fleets is a real layout), so the walk remembers the directories it has entered by
device and inode: a symlink leading back into one of them is a loop, reported once as a problem
instead of recursing until the path is too long. A symlink to a directory the walk is inside
(``..``, ``/``, ``/proc/self/root``) is that loop too, and is reported before it is entered:
entering it first would search everything below that ancestor, the whole filesystem for ``/``.
Unreadable directories and symlinks that lead nowhere (dangling, or looping on themselves) are
problems too, never tracebacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import Problem

_SUFFIXES = (".yaml", ".yml")


def discover(root: Path) -> tuple[list[Path], list[Problem]]:
    """The manifest files under ``root`` (a file or a directory), sorted, and path problems."""
    if not root.exists():
        return [], [Problem(str(root), 1, 1, "", _missing(root))]
    if root.is_file():
        return [root], []
    if not root.is_dir():  # a FIFO or a device: reading it could block for ever
        return [], [Problem(str(root), 1, 1, "", "not a regular file or a directory")]
    problems: list[Problem] = []
    found = list(_walk(root, set(), problems))
    files = sorted(found, key=lambda p: p.relative_to(root).parts)
    if not files and not problems:
        message = "no manifests found (no *.yaml or *.yml files)"
        problems.append(Problem(str(root), 1, 1, "", message))
    return files, problems


def _missing(path: Path) -> str:
    # ``exists()`` is False both for a missing path and for a symlink that leads nowhere.
    if path.is_symlink():
        return f"symlink leads nowhere (dangling, or a loop): {_target(path)}"
    return "no such file or directory"


def _target(link: Path) -> str:
    try:
        return f"-> {os.readlink(link)}"
    except OSError as exc:
        return f"cannot read the link: {exc.strerror or exc}"


def _walk(
    directory: Path, entered: set[tuple[int, int]], problems: list[Problem]
) -> Iterator[Path]:
    try:
        info = directory.stat()
        identity = (info.st_dev, info.st_ino)
        if identity in entered:
            message = f"symlink loop: {directory} leads back to a directory already searched"
            problems.append(Problem(str(directory), 1, 1, "", message))
            return
        entered.add(identity)
        with os.scandir(directory) as scan:  # scandir caches the file type: no stat per file
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(str(directory), 1, 1, "", f"cannot read directory: {_reason(exc)}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            # Both follow symlinks; a link looping on itself raises ELOOP here.
            is_dir, is_file = entry.is_dir(), entry.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            if entry.is_symlink() and _leads_to_an_ancestor(path, directory):
                message = (
                    f"symlink loop: {path} {_target(path)} leads to a directory "
                    "this search is inside"
                )
                problems.append(Problem(str(path), 1, 1, "", message))
                continue
            yield from _walk(path, entered, problems)
        elif is_file:
            if path.suffix in _SUFFIXES:
                yield path
        elif path.suffix in _SUFFIXES and entry.is_symlink():
            # A manifest-named symlink that resolves to nothing: say so rather than skip it.
            problems.append(Problem(str(path), 1, 1, "", _missing(path)))


def _leads_to_an_ancestor(link: Path, directory: Path) -> bool:
    """Whether ``link`` resolves to ``directory`` or to a directory above it."""
    try:
        target, here = link.resolve(), directory.resolve()
    except (OSError, RuntimeError):  # unresolvable: the walk's own stat reports it
        return False
    return target == here or target in here.parents


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
