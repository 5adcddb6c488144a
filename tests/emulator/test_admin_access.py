"""The ``/_emulator/`` admin API answers loopback clients, or others only with the admin token.

``fleet emulator serve --host 0.0.0.0`` must not hand the network a way to rewrite projects, seed
keys or inject faults; binding beyond loopback also prints a warning on stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.cli.emulator_commands import ADMIN_TOKEN_ENV
from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.emulator.admin import ADMIN_TOKEN_HEADER, is_loopback
from tests.emulator.conftest import BASE_SEED

REMOTE = "192.0.2.7"  # TEST-NET-1: a client beyond loopback


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(tmp_path / "e.db", seed_from_mapping(BASE_SEED), admin_token=None)
    yield emu
    emu.close()


def _admin(emu: Emulator, remote_addr: str, **headers: str) -> httpx.Client:
    transport = httpx.WSGITransport(app=emu, remote_addr=remote_addr)
    return httpx.Client(
        transport=transport, base_url="http://emulator.test/_emulator", headers=headers
    )


def test_admin_api_refuses_clients_beyond_loopback(emulator: Emulator):
    with _admin(emulator, REMOTE) as remote:
        answer = remote.put("/faults", json={"server_error_rate": 1.0})
        assert answer.status_code == 403
        assert "loopback clients only" in answer.json()["message"]
        assert (
            remote.post("/projects", json={"name": "planted", "org": "org-free-1"}).status_code
            == 403
        )
    assert emulator.faults.snapshot()["server_error_rate"] == 0.0  # nothing changed
    with _admin(emulator, "127.0.0.1") as local:
        assert local.get("/faults").status_code == 200


def test_the_emulated_api_still_answers_clients_beyond_loopback(emulator: Emulator):
    transport = httpx.WSGITransport(app=emulator, remote_addr=REMOTE)
    headers = {"Authorization": "Bearer org-paid-key"}
    with httpx.Client(transport=transport, base_url="http://emulator.test/api/v2") as client:
        assert client.get("/projects", headers=headers).status_code == 200


def test_admin_token_opens_the_admin_api_to_clients_that_send_it(tmp_path: Path):
    emu = Emulator(tmp_path / "e.db", seed_from_mapping(BASE_SEED), admin_token="adm-s3cret")
    try:
        with _admin(emu, REMOTE, **{ADMIN_TOKEN_HEADER: "adm-s3cret"}) as holder:
            assert holder.put("/faults", json={"latency_ms": 0}).status_code == 200
        with _admin(emu, REMOTE, **{ADMIN_TOKEN_HEADER: "guess"}) as guesser:
            answer = guesser.get("/stats")
            assert answer.status_code == 403 and "admin token" in answer.json()["message"]
        with _admin(emu, REMOTE) as anonymous:
            assert anonymous.get("/stats").status_code == 403
        with _admin(emu, "::1") as local:
            assert local.get("/stats").status_code == 200
    finally:
        emu.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
        ("localhost", True), ("0.0.0.0", False), ("10.0.0.5", False), ("::", False),
        ("::ffff:10.0.0.5", False), ("example.com", False), ("", False), (None, False),
    ],
)  # fmt: skip
def test_is_loopback(address: str | None, expected: bool):
    assert is_loopback(address) is expected


@pytest.mark.integration
def test_admin_api_over_a_real_socket_sees_the_client_address(tmp_path: Path):
    """The server passes the peer address through, so loopback clients keep working."""
    emu = Emulator(tmp_path / "e.db", seed_from_mapping(BASE_SEED))
    try:
        with serve(emu) as running:
            admin_url = running.url.replace("/api/v2", "/_emulator")
            assert httpx.get(f"{admin_url}/limits", timeout=10).status_code == 200
    finally:
        emu.close()


@pytest.mark.e2e
@pytest.mark.parametrize("token", [None, "adm-s3cret"])
def test_emulator_serve_warns_when_binding_beyond_loopback(tmp_path: Path, token: str | None):
    env = {k: v for k, v in os.environ.items() if k != ADMIN_TOKEN_ENV}
    if token is not None:
        env[ADMIN_TOKEN_ENV] = token
    command = [
        sys.executable, "-m", "reconciler", "emulator", "serve", "--host", "0.0.0.0",
        "--port", "0", "--state", str(tmp_path / "state.db"),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        try:
            line = process.stdout.readline()
            assert line.startswith("Neon API emulator listening on http://0.0.0.0:"), line
            port = line.rsplit(":", 1)[1].split("/")[0]
            # A loopback client still drives the admin API without any token.
            stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=10)
            assert stats.status_code == 200
        finally:
            process.terminate()
            _, err = process.communicate(timeout=10)
    assert "Warning: the emulator listens on 0.0.0.0, beyond loopback" in err
    if token is None:
        assert "admin API answers loopback clients only" in err
    else:
        assert "only with the admin token" in err and token not in err
