"""``--sandbox`` is its own Neon API: an explicit ``--api-host`` beside it is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.app.environment import GlobalOptions
from reconciler.errors import UsageError
from tests.cli.example import example_workdir
from tests.support.cli import run_in_process


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return example_workdir(tmp_path, monkeypatch)


@pytest.mark.parametrize("order", ["sandbox-first", "host-first"])
def test_sandbox_with_api_host_is_a_usage_error(workdir: Path, order: str) -> None:
    flags = ["--sandbox", "--api-host", "http://127.0.0.1:9"]
    if order == "host-first":
        flags = [*flags[1:], flags[0]]
    result = run_in_process([*flags, "plan", "fleet"])
    assert result.code == 1, result.text
    assert "Traceback" not in result.err and result.out == ""
    [line] = [row for row in result.err.splitlines() if row.startswith("Error: ")]
    assert line == (
        "Error: --sandbox and --api-host http://127.0.0.1:9 contradict each other: "
        "--sandbox runs against the local emulator; drop one of them"
    )
    assert sorted(p.name for p in workdir.iterdir()) == ["fleet"]  # no sandbox state made


def test_sandbox_with_api_host_is_refused_by_the_options_themselves() -> None:
    with pytest.raises(UsageError, match="contradict"):
        GlobalOptions(api_host="https://console.neon.tech", sandbox=True, environ={})


def test_sandbox_says_it_ignores_neon_api_host_from_the_environment(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEON_API_HOST", "http://127.0.0.1:9")
    result = run_in_process(["--sandbox", "validate", "fleet"])
    assert result.code == 0, result.text
    assert "no Neon API is contacted; NEON_API_HOST is ignored" in result.err
