"""Project, branch and compute writes of ``NeonWriter``.

Writes are never re-sent after a lost answer: they raise ``OutcomeUnknown`` and the caller
reads back first (for projects, ``find_projects_by_name``), because Neon has no idempotency keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.neon import bodies, responses
from reconciler.neon.bodies import UNSET, ComputeSettings, Unset
from reconciler.neon.client import BRANCHES_ROUTE, ENDPOINT_ROUTE, PROJECT_ROUTE
from reconciler.neon.http import ApiHttp
from reconciler.neon.responses import CreatedBranch, CreatedProject
from reconciler.neon.wire import Branch, Endpoint, Operation, Project


class ProjectWrites:
    """Project, branch and endpoint mutations (a mixin of ``NeonWriter``; needs ``self._http``)."""

    _http: ApiHttp

    def create_project(
        self,
        key: str,
        *,
        name: str,
        org_id: str | None = None,
        region_id: str | None = None,
        pg_version: int | None = None,
        quota: Mapping[str, int] | None = None,
        default_endpoint_settings: ComputeSettings | None = None,
        history_retention_seconds: int | None = None,
        hipaa: bool | None = None,
    ) -> CreatedProject:
        """Create a project; the result keeps no connection URI and no password."""
        request = bodies.project_create(
            name=name,
            org_id=org_id,
            region_id=region_id,
            pg_version=pg_version,
            quota=quota,
            default_endpoint_settings=default_endpoint_settings,
            history_retention_seconds=history_retention_seconds,
            hipaa=hipaa,
        )
        return responses.parse_created_project(
            self._http.call(key, "POST", "/projects", body=request)
        )

    def update_project(
        self,
        key: str,
        project_id: str,
        *,
        name: str | None = None,
        quota: Mapping[str, int] | None = None,
        default_endpoint_settings: ComputeSettings | None = None,
        history_retention_seconds: int | None = None,
        hipaa: bool | None = None,
    ) -> tuple[Project, list[Operation]]:
        """Patch a project; ``quota`` is sent whole, as given."""
        request = bodies.project_update(
            name=name,
            quota=quota,
            default_endpoint_settings=default_endpoint_settings,
            history_retention_seconds=history_retention_seconds,
            hipaa=hipaa,
        )
        body = self._http.call(
            key, "PATCH", PROJECT_ROUTE, path={"project_id": project_id}, body=request
        )
        return responses.parse_project_update(body)

    def delete_project(self, key: str, project_id: str) -> Project:
        """Delete a project (recoverable for 7 days on Neon)."""
        body = self._http.call(key, "DELETE", PROJECT_ROUTE, path={"project_id": project_id})
        return responses.parse_project(body)

    def create_branch(
        self,
        key: str,
        project_id: str,
        *,
        name: str,
        parent_id: str | None = None,
        protected: bool | None = None,
        expires_at: str | None = None,
        endpoint_type: str | None = None,
        endpoint_settings: ComputeSettings | None = None,
    ) -> CreatedBranch:
        """Create a branch; ``endpoint_type`` (``read_write``/``read_only``) adds a compute."""
        request = bodies.branch_create(
            name=name,
            parent_id=parent_id,
            protected=protected,
            expires_at=expires_at,
            endpoint_type=endpoint_type,
            endpoint_settings=endpoint_settings,
        )
        body = self._http.call(
            key, "POST", BRANCHES_ROUTE, path={"project_id": project_id}, body=request
        )
        return responses.parse_created_branch(body)

    def update_branch(
        self,
        key: str,
        project_id: str,
        branch_id: str,
        *,
        name: str | None = None,
        protected: bool | None = None,
        expires_at: str | Unset | None = UNSET,
    ) -> tuple[Branch, list[Operation]]:
        """Patch a branch; ``expires_at=None`` removes its expiry, leaving it out keeps it."""
        request = bodies.branch_update(name=name, protected=protected, expires_at=expires_at)
        path = {"project_id": project_id, "branch_id": branch_id}
        body = self._http.call(
            key, "PATCH", BRANCHES_ROUTE + "/{branch_id}", path=path, body=request
        )
        return responses.parse_branch_change(body)

    def delete_branch(
        self, key: str, project_id: str, branch_id: str
    ) -> tuple[Branch, list[Operation]] | None:
        """Delete a branch; ``None`` when Neon says it was already gone (204)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        body = self._http.call(key, "DELETE", BRANCHES_ROUTE + "/{branch_id}", path=path)
        return None if body is None else responses.parse_branch_change(body)

    def update_endpoint(
        self,
        key: str,
        project_id: str,
        endpoint_id: str,
        *,
        autoscaling_limit_min_cu: float | None = None,
        autoscaling_limit_max_cu: float | None = None,
        suspend_timeout_seconds: int | None = None,
    ) -> tuple[Endpoint, list[Operation]]:
        """Patch a compute's size or scale-to-zero timeout (this restarts the compute)."""
        request = bodies.endpoint_update(
            autoscaling_limit_min_cu=autoscaling_limit_min_cu,
            autoscaling_limit_max_cu=autoscaling_limit_max_cu,
            suspend_timeout_seconds=suspend_timeout_seconds,
        )
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        body = self._http.call(key, "PATCH", ENDPOINT_ROUTE, path=path, body=request)
        return responses.parse_endpoint_update(body)
