"""A realistic session of the real ``neon-api`` PyPI client against a served emulator.

Run by ``test_real_client_neon_api.py`` in a subprocess whose ``sys.path`` holds the pinned
client (installed into a temporary directory), so the client and its dependencies never enter
the test process. Usage: ``python neon_api_session.py BASE_URL TOKEN EXCHANGES.jsonl``.

Every HTTP exchange is appended to ``EXCHANGES.jsonl`` (method, path, status, body) for the
test to validate against the OpenAPI document; stdout gets one JSON line per client call
(``{"call", "ok", "error"?}``). Errors carry the exception type and the client's message,
never the payloads (pydantic input values could hold passwords).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from neon_api import NeonAPI  # type: ignore[import-not-found]

_TERMINAL = {"finished", "skipped", "cancelled", "failed", "error"}


class Session:
    """Runs client calls, noting each one's outcome and every HTTP exchange."""

    def __init__(self, base_url: str, token: str, exchanges_path: str) -> None:
        self.api = NeonAPI(token, base_url=base_url.rstrip("/") + "/")
        self._exchanges = open(exchanges_path, "a", encoding="utf-8")  # noqa: SIM115
        self.api._session.hooks["response"].append(self._record)

    def _record(self, response: Any, *args: Any, **kwargs: Any) -> None:
        path = urllib.parse.urlsplit(response.request.url).path
        body = response.text
        exchange = {
            "method": response.request.method,
            "path": path,
            "status": response.status_code,
            "body": json.loads(body) if body else None,
        }
        self._exchanges.write(json.dumps(exchange) + "\n")
        self._exchanges.flush()

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call; print its outcome; return its result (None on failure)."""
        try:
            result = method(*args, **kwargs)
        except Exception as exc:  # every failure is reported, the session goes on
            message = str(exc).splitlines()[0][:300] if str(exc) else ""
            if hasattr(exc, "errors"):  # pydantic: locations and types only, no input values
                message = json.dumps(
                    [(e["loc"], e["type"]) for e in exc.errors(include_input=False)]
                )[:500]
            print(
                json.dumps({"call": name, "ok": False, "error": f"{type(exc).__name__}: {message}"})
            )
            return None
        print(json.dumps({"call": name, "ok": True}), flush=True)
        return result

    def settle(self, project_id: str, timeout: float = 30.0) -> None:
        """Wait until every operation of the project is terminal, as careful clients do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = self.call("operations", self.api.operations, project_id, limit=100)
            if listed is None or all(op.status.value in _TERMINAL for op in listed.operations):
                return
            time.sleep(0.05)  # polling interval while operations run
        raise TimeoutError(f"operations of {project_id} did not finish in {timeout} s")


def run(session: Session) -> None:
    """The session: account, projects, branches, endpoints, databases, roles, keys."""
    api, call = session.api, session.call
    call("me", api.me)
    call("projects", api.projects)
    call("projects shared", api.projects, shared=True)
    keys = call("api_keys", api.api_keys)
    created_key = call("api_key_create", api.api_key_create, key_name="neon-api-session")
    if created_key is not None:
        call("api_key_revoke", api.api_key_revoke, created_key.id)
    assert keys is not None
    project = call("project_create", api.project_create, project={"name": "neon-api-session"})
    pid = project.project.id
    session.settle(pid)
    call("project", api.project, pid)
    call("project_update", api.project_update, pid, project={"name": "neon-api-renamed"})
    operations = call("operations", api.operations, pid)
    call("operation", api.operation, pid, operations.operations[0].id)
    grant = call("project_permissions_grant", api.project_permissions_grant, pid,
                 email="friend@example.com")  # fmt: skip
    call("project_permissions", api.project_permissions, pid)
    call("project_permissions_revoke", api.project_permissions_revoke, pid, permission_id=grant.id)

    branches = call("branches", api.branches, pid)
    main = branches.branches[0].id
    dev = call("branch_create", api.branch_create, pid, branch={"name": "dev"})
    dev_id = dev.branch.id
    session.settle(pid)
    call("branch", api.branch, pid, dev_id)
    call("branch_update", api.branch_update, pid, dev_id, branch={"name": "dev-renamed"})

    options = {"branch_id": dev_id, "type": "read_write",
               "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 1}  # fmt: skip
    endpoint = call("endpoint_create", api.endpoint_create, pid, endpoint=options)
    eid = endpoint.endpoint.id
    session.settle(pid)
    call("endpoints", api.endpoints, pid)
    call("endpoint", api.endpoint, pid, eid)
    call("endpoint_suspend", api.endpoint_suspend, pid, eid)
    session.settle(pid)
    call("endpoint_start", api.endpoint_start, pid, eid)
    session.settle(pid)
    call("endpoint_update", api.endpoint_update, pid, eid,
         endpoint={"autoscaling_limit_max_cu": 2})  # fmt: skip
    session.settle(pid)

    call("roles", api.roles, pid, main)
    call("role_create", api.role_create, pid, main, "app_user")
    session.settle(pid)
    call("role", api.role, pid, main, "app_user")
    call("role_password_reveal", api.role_password_reveal, pid, main, "app_user")
    call("role_password_reset", api.role_password_reset, pid, main, "app_user")
    session.settle(pid)
    call("databases", api.databases, pid, main)
    call("database_create", api.database_create, pid, main,
         database={"name": "app", "owner_name": "app_user"})  # fmt: skip
    session.settle(pid)
    call("database", api.database, pid, main, "app")
    call("database_update", api.database_update, pid, main, "app", database={"name": "app2"})
    session.settle(pid)
    call("connection_uri", api.connection_uri, pid, database_name="app2", role_name="app_user")
    call("connection_uri pooled", api.connection_uri, pid, database_name="app2",
         role_name="app_user", pooled=True)  # fmt: skip
    call("database_delete", api.database_delete, pid, main, "app2")
    session.settle(pid)
    call("role_delete", api.role_delete, pid, main, "app_user")
    session.settle(pid)

    call("endpoint_delete", api.endpoint_delete, pid, eid)
    session.settle(pid)
    call("branch_set_as_primary", api.branch_set_as_primary, pid, dev_id)
    call("branch_delete", api.branch_delete, pid, dev_id)
    session.settle(pid)
    call("project_delete", api.project_delete, pid)


if __name__ == "__main__":
    run(Session(sys.argv[1], sys.argv[2], sys.argv[3]))
