"""Database, role and Neon Auth reads of ``NeonClient`` (a mixin); the writes are
``reconciler.neon.mutators.catalog``.

Every method takes the API key as its first argument. Passwords and Neon Auth keys come back
only in the types meant to carry them to the secret sink.
"""

from __future__ import annotations

from reconciler.errors import NotFound
from reconciler.neon.http import ApiHttp
from reconciler.neon.wire_catalog import (
    NeonAuth,
    RolePassword,
)

BRANCH_ROUTE = "/projects/{project_id}/branches/{branch_id}"
DATABASE_ROUTE = BRANCH_ROUTE + "/databases/{database_name}"
ROLE_ROUTE = BRANCH_ROUTE + "/roles/{role_name}"


class CatalogCalls:
    """Calls about a branch's databases, roles, computes and Neon Auth; needs ``self._http``."""

    _http: ApiHttp

    def get_neon_auth(self, key: str, project_id: str, branch_id: str) -> NeonAuth | None:
        """Neon Auth of a branch; None when it is not enabled (Neon answers 404)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        try:
            body = self._http.call(key, "GET", BRANCH_ROUTE + "/auth", path=path)
        except NotFound:
            return None
        return NeonAuth.from_wire(body)

    def reveal_role_password(
        self, key: str, project_id: str, branch_id: str, role_name: str
    ) -> RolePassword:
        """A role's current password (a secret: for the sink only)."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        body = self._http.call(key, "GET", ROLE_ROUTE + "/reveal_password", path=path)
        return RolePassword.from_wire(body)
