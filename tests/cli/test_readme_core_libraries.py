"""The README's description of ``reconciler/core`` names exactly the libraries core imports."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def core_third_party_imports() -> set[str]:
    found: set[str] = set()
    for source in (ROOT / "reconciler" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("reconciler", "__future__"):
                    found.add(top)
    return found


def test_readme_says_core_uses_the_standard_library_and_deepdiff() -> None:
    assert core_third_party_imports() == {"deepdiff"}
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "(`reconciler/core/`, standard library and deepdiff)" in readme
    docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    stale = [
        doc.name
        for doc in docs
        if re.search(r"standard[- ]library[- ]only|stdlib[- ]only", doc.read_text(), re.I)
    ]
    assert stale == []
