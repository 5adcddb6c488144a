"""Organisation, API-key, transfer and account calls of ``NeonClient`` (a mixin).

Kept apart from the project calls only to keep modules small; ``NeonClient`` inherits them.
Every method takes the API key to use as its first argument, so the caller can choose the
narrowest key per call (personal keys only where Neon demands them, i.e. transfers).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.neon import bodies, responses
from reconciler.neon.http import ApiHttp
from reconciler.neon.wire_orgs import (
    AuthInfo,
    ConnectionUri,
    CreatedApiKey,
    Database,
    Organization,
    OrgApiKey,
    RevokedApiKey,
    Role,
    TransferResult,
)

_ORG_KEYS = "/organizations/{org_id}/api_keys"
_BRANCH = "/projects/{project_id}/branches/{branch_id}"


class OrgAndAccountCalls:
    """Calls about organisations, keys and the account; needs ``self._http``."""

    _http: ApiHttp

    def list_org_api_keys(self, key: str, org_id: str) -> list[OrgApiKey]:
        """List an organisation's API keys (project-scoped ones carry ``project_id``)."""
        body = self._http.call(key, "GET", _ORG_KEYS, path={"org_id": org_id})
        return responses.parse_api_key_list(body)

    def create_org_api_key(
        self, key: str, org_id: str, name: str, project_id: str | None = None
    ) -> CreatedApiKey:
        """Mint an org key, or a project-scoped key when ``project_id`` is given.

        The token is in the result only (never logged). A lost answer raises ``OutcomeUnknown``:
        list the keys by name before minting again.
        """
        body = self._http.call(
            key,
            "POST",
            _ORG_KEYS,
            path={"org_id": org_id},
            body=bodies.org_api_key_create(name, project_id),
        )
        return CreatedApiKey.from_wire(body)

    def revoke_org_api_key(self, key: str, org_id: str, key_id: int) -> RevokedApiKey:
        """Revoke an organisation (or project-scoped) API key."""
        body = self._http.call(
            key, "DELETE", _ORG_KEYS + "/{key_id}", path={"org_id": org_id, "key_id": key_id}
        )
        return RevokedApiKey.from_wire(body)

    def transfer_projects(
        self,
        key: str,
        source_org_id: str,
        destination_org_id: str,
        project_ids: Sequence[str],
    ) -> TransferResult:
        """Move up to 400 projects between organisations (Neon requires a personal key).

        Raises ``UsageError`` for more than 400 ids, ``NotAcceptable`` (406, ``limits``) or
        ``UnprocessableEntity`` (422, ``projects`` with integrations) from Neon.
        """
        request = bodies.transfer(destination_org_id, project_ids)
        body = self._http.call(
            key,
            "POST",
            "/organizations/{source_org_id}/projects/transfer",
            path={"source_org_id": source_org_id},
            body=request,
        )
        responses.parse_empty(body if body is not None else {})
        return TransferResult(source_org_id, destination_org_id, tuple(request["project_ids"]))

    def get_organization(self, key: str, org_id: str) -> Organization:
        """Read one organisation."""
        body = self._http.call(key, "GET", "/organizations/{org_id}", path={"org_id": org_id})
        return Organization.from_wire(body)

    def list_my_organizations(self, key: str) -> list[Organization]:
        """List the key owner's organisations (an org key sees only its own)."""
        return responses.parse_organization_list(
            self._http.call(key, "GET", "/users/me/organizations")
        )

    def get_auth(self, key: str) -> AuthInfo:
        """Tell what kind of key ``key`` is (``api_key_user``, ``api_key_org``, ...)."""
        return AuthInfo.from_wire(self._http.call(key, "GET", "/auth"))

    def list_api_keys(self, key: str) -> list[OrgApiKey]:
        """List the personal API keys of the key's owner."""
        return responses.parse_api_key_list(self._http.call(key, "GET", "/api_keys"))

    def create_api_key(self, key: str, name: str) -> CreatedApiKey:
        """Mint a personal API key (the token is in the result only)."""
        body = self._http.call(key, "POST", "/api_keys", body={"key_name": name})
        return CreatedApiKey.from_wire(body)

    def revoke_api_key(self, key: str, key_id: int) -> RevokedApiKey:
        """Revoke a personal API key."""
        body = self._http.call(key, "DELETE", "/api_keys/{key_id}", path={"key_id": key_id})
        return RevokedApiKey.from_wire(body)

    def list_databases(self, key: str, project_id: str, branch_id: str) -> list[Database]:
        """List the databases of a branch."""
        path = {"project_id": project_id, "branch_id": branch_id}
        body = self._http.call(key, "GET", _BRANCH + "/databases", path=path)
        return responses.parse_database_list(body)

    def list_roles(self, key: str, project_id: str, branch_id: str) -> list[Role]:
        """List the roles of a branch (passwords are never kept)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        return responses.parse_role_list(self._http.call(key, "GET", _BRANCH + "/roles", path=path))

    def get_connection_uri(
        self,
        key: str,
        project_id: str,
        *,
        database_name: str,
        role_name: str,
        branch_id: str | None = None,
        pooled: bool = False,
    ) -> ConnectionUri:
        """Fetch a connection string (a secret: hand it to a secret sink, never print it)."""
        params = {
            "database_name": database_name,
            "role_name": role_name,
            "branch_id": branch_id,
            "pooled": pooled,
        }
        body = self._http.call(
            key,
            "GET",
            "/projects/{project_id}/connection_uri",
            path={"project_id": project_id},
            params=params,
        )
        return ConnectionUri.from_wire(body)
