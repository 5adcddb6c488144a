"""Fixtures: a sandboxed copy of fleet.example and a rate budget that never slows tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.app.environment import Environment, GlobalOptions
from reconciler.core.model import DesiredFleet
from reconciler.manifests import load_fleet
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter, shared_limiter

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def generous_budget() -> Iterator[None]:
    """Lift the process-wide budget for the test, then put the previous one back."""
    before = shared_limiter().budget
    configure_shared_limiter(RateBudget(1e6, 1e6, 1e6))
    yield
    configure_shared_limiter(before)


class SandboxFleet:
    """fleet.example in a temporary working directory, planned against the sandbox emulator."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.manifests = workdir / "fleet"
        shutil.copytree(REPO / "fleet.example", self.manifests, ignore=shutil.ignore_patterns("ci"))

    def desired(self) -> DesiredFleet:
        return load_fleet(self.manifests)

    def environment(self, desired: DesiredFleet) -> Environment:
        options = GlobalOptions(sandbox=True, workdir=self.workdir, environ={})
        return Environment(options, desired.fleet)


@pytest.fixture
def sandbox_fleet(tmp_path: Path) -> SandboxFleet:
    return SandboxFleet(tmp_path)
