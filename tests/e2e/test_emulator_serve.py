"""``fleet emulator serve``: a real process on a free loopback port, state kept across restarts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.emulator.test_seed import ISSUE_SEED

pytestmark = pytest.mark.e2e


@contextmanager
def served(tmp_path: Path, *extra: str) -> Iterator[str]:
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "emulator",
        "serve",
        "--port",
        "0",
        "--state",
        str(tmp_path / "state.db"),
        *extra,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ)
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("Neon API emulator listening on http://127.0.0.1:"), line
            yield line.rsplit(" ", 1)[1].strip()
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_serve_prints_its_url_and_keeps_state_across_restarts(tmp_path: Path):
    (tmp_path / "seed.yaml").write_text(ISSUE_SEED)  # the seed the issue shows
    with served(tmp_path, "--seed", str(tmp_path / "seed.yaml")) as url:
        assert url.endswith("/api/v2")
        headers = {"Authorization": "Bearer org-paid-key"}
        created = httpx.post(
            f"{url}/projects", json={"project": {"name": "kept"}}, headers=headers, timeout=10
        )
        assert created.status_code == 201, created.text
    with served(tmp_path) as url:  # no seed: everything comes from the state file
        listed = httpx.get(
            f"{url}/projects",
            params={"org_id": "org-paid-1"},
            headers={"Authorization": "Bearer org-paid-key"},
            timeout=10,
        )
        assert [p["name"] for p in listed.json()["projects"]] == ["kept"]


def test_a_bad_seed_is_one_clear_error(tmp_path: Path):
    (tmp_path / "seed.yaml").write_text("orgs: [{id: Bad Id}]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "emulator",
            "serve",
            "--port",
            "0",
            "--state",
            str(tmp_path / "state.db"),
            "--seed",
            str(tmp_path / "seed.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
