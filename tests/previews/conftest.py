"""Fixtures shared with the manifest tests."""

from tests.manifests.conftest import write_fleet

__all__ = ["write_fleet"]
