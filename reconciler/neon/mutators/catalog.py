"""Database, role, compute-create and Neon Auth writes of ``NeonWriter``.

Passwords and Neon Auth keys come back only in the types meant to carry them to the secret
sink, never in a repr.
"""

from __future__ import annotations

from reconciler.neon.client_catalog import BRANCH_ROUTE, DATABASE_ROUTE, ROLE_ROUTE
from reconciler.neon.http import ApiHttp
from reconciler.neon.wire import Endpoint, Operation
from reconciler.neon.wire_catalog import (
    EnabledNeonAuth,
    ResetRole,
    parse_database_change,
    parse_endpoint_created,
    parse_role_change,
    parse_role_reset,
)
from reconciler.neon.wire_orgs import Database, Role


class CatalogWrites:
    """Database, role, compute and Neon Auth mutations (a mixin of ``NeonWriter``; needs
    ``self._http``)."""

    _http: ApiHttp

    def create_database(
        self, key: str, project_id: str, branch_id: str, *, name: str, owner_name: str
    ) -> tuple[Database, list[Operation]]:
        """Create a database owned by ``owner_name`` on a branch."""
        path = {"project_id": project_id, "branch_id": branch_id}
        request = {"database": {"name": name, "owner_name": owner_name}}
        body = self._http.call(key, "POST", BRANCH_ROUTE + "/databases", path=path, body=request)
        return parse_database_change(body)

    def update_database(
        self, key: str, project_id: str, branch_id: str, name: str, *, owner_name: str
    ) -> tuple[Database, list[Operation]]:
        """Give a database another owner."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": name}
        request = {"database": {"owner_name": owner_name}}
        return parse_database_change(
            self._http.call(key, "PATCH", DATABASE_ROUTE, path=path, body=request)
        )

    def delete_database(
        self, key: str, project_id: str, branch_id: str, name: str
    ) -> list[Operation]:
        """Delete a database and its data; no operations when it was already gone (204)."""
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": name}
        body = self._http.call(key, "DELETE", DATABASE_ROUTE, path=path)
        return [] if body is None else parse_database_change(body)[1]

    def create_role(
        self, key: str, project_id: str, branch_id: str, *, name: str
    ) -> tuple[Role, list[Operation]]:
        """Create a login role (Neon generates and keeps its password; it is dropped here)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        request = {"role": {"name": name}}
        body = self._http.call(key, "POST", BRANCH_ROUTE + "/roles", path=path, body=request)
        return parse_role_change(body)

    def delete_role(self, key: str, project_id: str, branch_id: str, name: str) -> list[Operation]:
        """Delete a role; no operations when it was already gone (204)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": name}
        body = self._http.call(key, "DELETE", ROLE_ROUTE, path=path)
        return [] if body is None else parse_role_change(body)[1]

    def reset_role_password(
        self, key: str, project_id: str, branch_id: str, name: str
    ) -> ResetRole:
        """Give a role a new password (the old one stops working once the operations finish)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": name}
        return parse_role_reset(
            self._http.call(key, "POST", ROLE_ROUTE + "/reset_password", path=path)
        )

    def create_endpoint(
        self,
        key: str,
        project_id: str,
        branch_id: str,
        *,
        min_cu: float | None = None,
        max_cu: float | None = None,
        suspend_timeout_seconds: int | None = None,
    ) -> tuple[Endpoint, list[Operation]]:
        """Add a read-write compute to a branch that has none."""
        settings = {
            "autoscaling_limit_min_cu": min_cu,
            "autoscaling_limit_max_cu": max_cu,
            "suspend_timeout_seconds": suspend_timeout_seconds,
        }
        endpoint: dict[str, object] = {"branch_id": branch_id, "type": "read_write"}
        endpoint.update({k: v for k, v in settings.items() if v is not None})
        path = {"project_id": project_id}
        body = self._http.call(
            key, "POST", "/projects/{project_id}/endpoints", path=path, body={"endpoint": endpoint}
        )
        return parse_endpoint_created(body)

    def enable_neon_auth(
        self, key: str, project_id: str, branch_id: str, *, provider: str, database_name: str
    ) -> EnabledNeonAuth:
        """Enable Neon Auth on a branch; the answer holds its keys, shown only this once."""
        path = {"project_id": project_id, "branch_id": branch_id}
        request = {"auth_provider": provider, "database_name": database_name}
        body = self._http.call(key, "POST", BRANCH_ROUTE + "/auth", path=path, body=request)
        return EnabledNeonAuth.from_wire(body)

    def disable_neon_auth(self, key: str, project_id: str, branch_id: str) -> None:
        """Turn Neon Auth off on a branch (its data schema is kept)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        self._http.call(key, "DELETE", BRANCH_ROUTE + "/auth", path=path, body={})
