"""The shape CONTRIBUTING.md promises: small functions where the plan is made and carried out.

A function of the pure core or the applier that outgrows a screen hides the order of events the
crash-safety arguments rest on; this check keeps the limit from eroding one exception at a time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "reconciler"
#: Lines of one function, decorators and docstring included.
MAX_FUNCTION_LINES = 60
#: Lines of one module.
MAX_MODULE_LINES = 400
CHECKED = ("core", "apply")


def _modules() -> list[Path]:
    return sorted(path for package in CHECKED for path in (ROOT / package).rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} ({length})"
                )
    return found


def test_the_checked_packages_have_modules() -> None:
    assert len(_modules()) > 20


@pytest.mark.parametrize("package", CHECKED)
def test_no_function_of_core_or_apply_is_over_60_lines(package: str) -> None:
    long = [found for path in (ROOT / package).rglob("*.py") for found in _long_functions(path)]
    assert long == [], f"functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("package", CHECKED)
def test_no_module_of_core_or_apply_is_over_400_lines(package: str) -> None:
    sizes = {
        str(path.relative_to(ROOT.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (ROOT / package).rglob("*.py")
    }
    large = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert large == {}, f"modules over {MAX_MODULE_LINES} lines: {large}"
