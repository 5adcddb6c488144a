"""The invalid-manifest corpus (``tests/fixtures/invalid``) as a list of cases.

Shared by the manifest tests and the CLI tests: run ``load_fleet(case.target)`` or
``fleet validate <case.target>`` with ``INVALID_DIR`` as the working directory, and compare the
problems with ``case.expected`` (see the corpus README for the two case shapes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INVALID_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "invalid"
_EXPECT = "# expect: "


@dataclass(frozen=True)
class InvalidCase:
    """One broken fleet and the exact problems it must produce."""

    name: str
    #: What to load, relative to INVALID_DIR (a file, a directory, or a missing path).
    target: str
    expected: tuple[str, ...]


def invalid_cases() -> list[InvalidCase]:
    """Every case of the corpus, sorted by name."""
    cases: list[InvalidCase] = []
    for entry in sorted(INVALID_DIR.iterdir()):
        if entry.is_file() and entry.suffix == ".yaml":
            cases.append(InvalidCase(entry.stem, entry.name, _header(entry)))
        elif entry.is_dir():
            override = entry / "path.txt"
            target = entry.name
            if override.exists():
                target = f"{entry.name}/{override.read_text(encoding='utf-8').strip()}"
            lines = (entry / "expected.txt").read_text(encoding="utf-8").splitlines()
            cases.append(InvalidCase(entry.name, target, tuple(line for line in lines if line)))
    return cases


def _header(path: Path) -> tuple[str, ...]:
    expected: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith(_EXPECT):
            break
        expected.append(line.removeprefix(_EXPECT))
    return tuple(expected)
