"""Suite-wide test configuration.

Tests without a speed/kind marker are unit tests (after sqlmesh's conftest: "if no test type
marker is found, assume fast test"), so ``-m unit`` selects the fast, pure ones.
"""

from __future__ import annotations

import pytest

_KINDS = {"unit", "integration", "e2e", "postgres"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in _KINDS):
            item.add_marker(pytest.mark.unit)
