"""The real ``neonctl`` (npm, pinned) against ``fleet emulator serve`` on loopback.

neonctl is installed in a session fixture with ``npm install --prefix <tmp> neonctl@5.0.1``
(skipped, with the reason, only when npm or its registry cannot be reached). It talks to a small
contract-checking proxy on loopback that forwards to the served emulator and validates every
answer against the official OpenAPI document (``tests.support.openapi``), so the emulator
process is exactly what ``fleet emulator serve`` runs and needs no test hooks.

``test_neonctl_session_of_account_compute_and_catalog_commands`` covers the account, compute,
database, role and connection-string commands (``/users/me``, ``/projects/shared``, endpoints,
databases, roles, ``connection_uri``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.e2e.test_emulator_serve import served
from tests.emulator.conftest import spec_template
from tests.support.openapi import load_spec, validate_response

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEONCTL_VERSION = "5.0.1"
TOKEN = "neonctl-personal-key"
SEED = {
    "orgs": [{"id": "org-cli-1", "name": "CLI", "plan": "scale"}],
    "keys": [{"token": TOKEN, "kind": "personal", "orgs": {"org-cli-1": "admin"}}],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    # Short operations: each neonctl run takes over a second, so the next call rarely meets a
    # 423 (neonctl retries those after 3 s, which would only make the test slower).
    "operation_duration_ms": 20,
}
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


@pytest.fixture(scope="session")
def neonctl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``neonctl`` executable, installed from the npm registry for this test session."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed to install neonctl from the npm registry")
    prefix = tmp_path_factory.mktemp("neonctl")
    command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
    command += ["--ignore-scripts", f"neonctl@{NEONCTL_VERSION}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        ping = subprocess.run(
            [npm, "ping"], capture_output=True, text=True, timeout=120, check=False
        )
        if ping.returncode != 0:
            pytest.skip(f"the npm registry cannot be reached, so neonctl@{NEONCTL_VERSION} "
                        f"cannot be installed: {ping.stderr.strip()[-300:]}")  # fmt: skip
        pytest.fail(f"npm install neonctl@{NEONCTL_VERSION} failed:\n{done.stderr[-3000:]}")
    return prefix / "node_modules" / ".bin" / "neonctl"


class _ContractProxy(ThreadingHTTPServer):
    """Forwards to the served emulator; records every exchange and every contract problem."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.exchanges: list[str] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ContractProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        answer = httpx.request(
            self.command, self.server.upstream + self.path, content=payload,
            headers=headers, timeout=60,
        )  # fmt: skip
        problem = _contract_problem(self.command, self.path, answer)
        with self.server.lock:
            self.server.exchanges.append(f"{self.command} {self.path} -> {answer.status_code}")
            if problem:
                self.server.problems.append(problem)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the exchanges are recorded on the server instead."""


def _contract_problem(method: str, raw_path: str, answer: httpx.Response) -> str | None:
    """Why ``answer`` does not match the OpenAPI document (None when it does)."""
    path = urlsplit(raw_path).path.removeprefix("/api/v2")
    template = spec_template(path)
    if template is None or method.lower() not in load_spec()["paths"].get(template, {}):
        return f"{method} {path}: not a route of the OpenAPI document ({answer.status_code})"
    body = json.loads(answer.content) if answer.content else None
    try:
        validate_response(method, template, answer.status_code, body)
    except AssertionError as error:
        return str(error)[:500]
    return None


@dataclass
class NeonctlSession:
    """Runs neonctl against the proxy and counts its calls (passing / attempted)."""

    binary: Path
    api_host: str
    home: Path
    proxy: _ContractProxy
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def run(self, *args: str, output: str = "json") -> Any:
        """Run one neonctl command; return its parsed JSON output (text for ``output='text'``)."""
        env = {**os.environ, "HOME": str(self.home), "NEON_API_KEY": TOKEN}
        env.pop("NEON_PROFILE", None)
        command = [str(self.binary), *args, "--api-host", self.api_host, "--no-analytics"]
        command += ["--output", "json"] if output == "json" else ["--no-color"]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        self.calls.append((" ".join(args), done.returncode == 0))
        assert done.returncode == 0, f"neonctl {' '.join(args)} failed: {done.stderr[-1500:]}"
        return json.loads(done.stdout) if output == "json" else done.stdout

    def attempt(self, *args: str, output: str = "json") -> Any:
        """Like ``run``, but a failure is recorded and answered with None (to count them all)."""
        try:
            return self.run(*args, output=output)
        except AssertionError:
            return None

    def figure(self) -> str:
        passing = sum(ok for _, ok in self.calls)
        return f"neonctl calls passing/attempted: {passing}/{len(self.calls)}"

    def failures(self) -> list[str]:
        return [name for name, ok in self.calls if not ok]


@pytest.fixture
def session(neonctl: Path, tmp_path: Path) -> Iterator[NeonctlSession]:
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(SEED))
    (tmp_path / "home").mkdir()
    with served(tmp_path, "--seed", str(tmp_path / "seed.yaml")) as url:
        proxy = _ContractProxy(url.removesuffix("/api/v2"))
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            host = f"http://127.0.0.1:{proxy.server_address[1]}/api/v2"
            yield NeonctlSession(neonctl, host, tmp_path / "home", proxy)
        finally:
            proxy.shutdown()
            proxy.server_close()


def _by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def test_neonctl_session_on_the_emulator(session: NeonctlSession) -> None:
    run = session.run
    project = run("projects", "create", "--name", "cli-app")["project"]
    pid = ["--project-id", project["id"]]
    assert run("projects", "get", project["id"])["name"] == "cli-app"
    assert run("projects", "update", project["id"], "--name", "cli-app-2")["name"] == "cli-app-2"

    dev = run("branches", "create", *pid, "--name", "dev")["branch"]
    names = {b["name"] for b in run("branches", "list", *pid)}
    assert names == {"main", "dev"}
    assert run("branches", "rename", "dev", "feature", *pid)["name"] == "feature"
    assert run("branches", "set-default", "feature", *pid)["default"] is True
    assert _by_name(run("branches", "list", *pid), "main")["default"] is False
    assert run("branches", "set-default", "main", *pid)["default"] is True
    reset = run("branches", "reset", "feature", "--parent", *pid)
    assert reset["id"] == dev["id"] and reset["last_reset_at"]
    assert run("operations", "list", *pid), "operations list is empty"

    snapshot = run("snapshots", "create", *pid, "--branch", "main", "--name", "nightly")
    expiry = "2031-01-01T00:00:00.000Z"
    updated = run("snapshots", "update", "nightly", "--expires-at", expiry, *pid)
    assert updated["id"] == snapshot["id"] and updated["expires_at"].startswith("2031-01-01")
    cleared = run("snapshots", "update", "nightly", "--clear-expiration", *pid)
    assert "expires_at" not in cleared
    assert [s["name"] for s in run("snapshots", "list", *pid)] == ["nightly"]
    restored = run("snapshots", "restore", "nightly", "--finalize", *pid)
    assert restored["restored_branch"]["name"] == "main"
    run("snapshots", "schedule", "set", *pid, "--branch", "main", "--frequency", "daily",
        "--hour", "3")  # fmt: skip
    schedule = run("snapshots", "schedule", "get", *pid, "--branch", "main")
    assert schedule == [{"frequency": "daily", "hour": 3}]
    point = f"^self@{restored['restored_branch']['created_at']}"  # main's first moment
    restored_main = run("branches", "restore", "main", point, "--preserve-under-name", "main-old",
                        *pid)  # fmt: skip
    assert restored_main["restored_branch"]["name"] == "main"
    backup = restored_main["backup_branch"]
    assert backup["name"] == "main-old"
    assert restored_main["restored_branch"]["parent_id"] == backup["id"]

    enabled = run("neon-auth", "enable", *pid, "--branch", "main")
    assert enabled["auth_provider"] == "better_auth" and enabled["secret_server_key"]
    status = run("neon-auth", "status", *pid, "--branch", "main")
    assert "secret_server_key" not in status and status["db_name"] == "neondb"
    created = run("neon-auth", "user", "create", "--email", "a@example.com", *pid,
                  "--branch", "main", output="text")  # fmt: skip
    user_id = re.search(r"ID:\s+(\S+)", created)
    assert user_id, created
    run("neon-auth", "user", "delete", user_id.group(1), *pid, "--branch", "main", output="text")
    run("neon-auth", "disable", *pid, "--branch", "main", output="text")

    assert run("api-keys", "list")
    key = run("api-keys", "create", "--name", "cli-key")
    assert key["key"] and key["name"] == "cli-key"
    assert run("api-keys", "revoke", str(key["id"]))["revoked"] is True

    run("branches", "delete", "feature", *pid)
    assert "feature" not in {b["name"] for b in run("branches", "list", *pid)}
    run("projects", "delete", project["id"])
    print(session.figure())
    # Every call went through the contract check, and every answer matched the document.
    assert len(session.proxy.exchanges) >= len(session.calls)
    assert not session.proxy.problems, session.proxy.problems


def test_neonctl_session_of_account_compute_and_catalog_commands(session: NeonctlSession) -> None:
    attempt = session.attempt
    project = session.run("projects", "create", "--name", "cli-catalog")["project"]
    pid = ["--project-id", project["id"]]
    me = attempt("me")
    listed = attempt("projects", "list")
    session.run("branches", "create", *pid, "--name", "preview")
    compute = attempt("branches", "add-compute", "preview", "--type", "read_only", *pid)
    database = attempt("databases", "create", "--name", "appdb", *pid, "--branch", "main")
    databases = attempt("databases", "list", *pid, "--branch", "main")
    role = attempt("roles", "create", "--name", "app_user", *pid, "--branch", "main")
    roles = attempt("roles", "list", *pid, "--branch", "main")
    direct = attempt("connection-string", "main", *pid, "--database-name", "neondb",
                     "--role-name", "neondb_owner", output="text")  # fmt: skip
    pooled = attempt("connection-string", "main", *pid, "--database-name", "neondb",
                     "--role-name", "neondb_owner", "--pooled", output="text")  # fmt: skip
    print(session.figure())
    assert not session.failures(), f"{session.figure()}; failing: {session.failures()}"
    assert me and me.get("id")
    # Two sections in neonctl's JSON: the key's projects and those shared with the user.
    assert project["id"] in {p["id"] for p in listed["projects"]}
    assert listed["shared_with_you"] == []
    assert compute and compute["host"].startswith("ep-")
    assert database and "appdb" in {d["name"] for d in databases}
    assert role and "app_user" in {r["name"] for r in roles}
    assert direct.startswith("postgresql://") and "-pooler" not in direct
    assert "-pooler." in pooled
    assert not session.proxy.problems, session.proxy.problems
