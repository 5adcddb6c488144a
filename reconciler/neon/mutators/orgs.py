"""Organisation API-key, transfer and personal-key writes of ``NeonWriter``."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.neon import bodies, responses
from reconciler.neon.client_orgs import ORG_KEYS_ROUTE
from reconciler.neon.http import ApiHttp
from reconciler.neon.wire_orgs import CreatedApiKey, RevokedApiKey, TransferResult


class OrgWrites:
    """Key and transfer mutations (a mixin of ``NeonWriter``; needs ``self._http``)."""

    _http: ApiHttp

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
            ORG_KEYS_ROUTE,
            path={"org_id": org_id},
            body=bodies.org_api_key_create(name, project_id),
        )
        return CreatedApiKey.from_wire(body)

    def revoke_org_api_key(self, key: str, org_id: str, key_id: int) -> RevokedApiKey:
        """Revoke an organisation (or project-scoped) API key."""
        body = self._http.call(
            key, "DELETE", ORG_KEYS_ROUTE + "/{key_id}", path={"org_id": org_id, "key_id": key_id}
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

    def create_api_key(self, key: str, name: str) -> CreatedApiKey:
        """Mint a personal API key (the token is in the result only)."""
        body = self._http.call(key, "POST", "/api_keys", body={"key_name": name})
        return CreatedApiKey.from_wire(body)

    def revoke_api_key(self, key: str, key_id: int) -> RevokedApiKey:
        """Revoke a personal API key."""
        body = self._http.call(key, "DELETE", "/api_keys/{key_id}", path={"key_id": key_id})
        return RevokedApiKey.from_wire(body)
