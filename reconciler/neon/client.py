"""``NeonClient``: typed calls of the Neon Management API v2 used by neon-fleet.

Every method takes the API key as its first argument; the client holds no key, so one client
(and its connection pool and rate limiter) serves every org and tenant, and each call runs with
the narrowest key the caller has. Retries, the shared rate limiter, ``X-Request-ID`` and error
translation live in ``reconciler.neon.http``; this module builds requests and parses answers.
Each call spends the rate budget of its key's Neon account (``ApiKey.account``): the client
chooses the account per call, so calls of different orgs never wait for each other's budget.

Writes are never re-sent after a lost answer: they raise ``OutcomeUnknown`` and the caller
reads back first (for projects, ``find_projects_by_name``), because Neon has no idempotency keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

from reconciler import __version__
from reconciler.neon import bodies, responses
from reconciler.neon.bodies import UNSET, ComputeSettings, Unset
from reconciler.neon.client_catalog import CatalogCalls
from reconciler.neon.client_orgs import OrgAndAccountCalls
from reconciler.neon.http import ApiHttp
from reconciler.neon.operations import wait_for_operations as _wait_for_operations
from reconciler.neon.pagination import iter_pages
from reconciler.neon.ratelimit import RateLimiter, shared_limiter
from reconciler.neon.responses import (
    BranchPage,
    CreatedBranch,
    CreatedProject,
    OperationPage,
    ProjectListing,
    ProjectPage,
)
from reconciler.neon.retry import RetryPolicy
from reconciler.neon.stats import CallStats
from reconciler.neon.wire import Branch, Endpoint, Operation, Project, ProjectListItem

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"
_PROJECT = "/projects/{project_id}"
_BRANCHES = _PROJECT + "/branches"
_ENDPOINT = _PROJECT + "/endpoints/{endpoint_id}"


class NeonClient(OrgAndAccountCalls, CatalogCalls):
    """A thread-safe, retrying, rate-limited Neon API client (use as a context manager)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing it is safe
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        user_agent: str = f"neon-fleet/{__version__}",
    ) -> None:
        """Create a client; without ``limiter`` it joins the process-wide shared limiter."""
        self._sleep, self._clock = sleep, clock
        self._http = ApiHttp(
            base_url,
            transport=transport,
            limiter=limiter if limiter is not None else shared_limiter(),
            retry=retry,
            timeout=timeout,
            sleep=sleep,
            clock=clock,
            user_agent=user_agent,
        )

    def __enter__(self) -> NeonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    @property
    def stats(self) -> CallStats:
        """Call counters per ``"METHOD /route/{template}"`` (requests, retries, 429s)."""
        return self._http.stats

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter this client draws from."""
        return self._http.limiter

    def request(
        self,
        key: str,
        method: str,
        template: str,
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call through the shared machinery (limiter, retries, errors, stats).

        For the feature modules of this package (``snapshots``, ``consumption``) that parse
        their own answers; ``template`` is the OpenAPI path, e.g. ``/projects/{project_id}``.
        """
        return self._http.call(key, method, template, path=path, params=params, body=body)

    # ------------------------------------------------------------------ projects

    def iter_projects(
        self, key: str, *, org_id: str | None = None, limit: int = 400, search: str | None = None
    ) -> Iterator[ProjectPage]:
        """Yield every page of ``GET /projects`` (up to 400 projects per request)."""

        def fetch(cursor: str | None) -> ProjectPage:
            params = {"org_id": org_id, "limit": limit, "search": search, "cursor": cursor}
            return responses.parse_project_page(
                self._http.call(key, "GET", "/projects", params=params)
            )

        return iter_pages(
            fetch,
            next_cursor=lambda page: page.cursor,
            item_count=lambda page: len(page.projects),
            limit=limit,
        )

    def list_projects(
        self, key: str, *, org_id: str | None = None, limit: int = 400, search: str | None = None
    ) -> ProjectListing:
        """Read all pages of the project list and merge them."""
        projects: list[ProjectListItem] = []
        integrations: dict[str, tuple[str, ...]] = {}
        unavailable: list[str] = []
        pages = 0
        for page in self.iter_projects(key, org_id=org_id, limit=limit, search=search):
            pages += 1
            projects.extend(page.projects)
            integrations.update(page.integrations)
            unavailable.extend(page.unavailable_project_ids)
        return ProjectListing(tuple(projects), integrations, tuple(unavailable), pages)

    def find_projects_by_name(
        self, key: str, name: str, *, org_id: str | None = None
    ) -> list[ProjectListItem]:
        """Return the projects named exactly ``name`` (``search`` matches partially).

        This is the read-back after an ``OutcomeUnknown`` create.
        """
        listing = self.list_projects(key, org_id=org_id, search=name)
        return [project for project in listing.projects if project.name == name]

    def get_project(self, key: str, project_id: str) -> Project:
        """Read one project, with its settings and consumption counters."""
        body = self._http.call(key, "GET", _PROJECT, path={"project_id": project_id})
        return responses.parse_project(body)

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
            key, "PATCH", _PROJECT, path={"project_id": project_id}, body=request
        )
        return responses.parse_project_update(body)

    def delete_project(self, key: str, project_id: str) -> Project:
        """Delete a project (recoverable for 7 days on Neon)."""
        body = self._http.call(key, "DELETE", _PROJECT, path={"project_id": project_id})
        return responses.parse_project(body)

    # ------------------------------------------------------------------ branches

    def iter_branches(
        self, key: str, project_id: str, *, limit: int = 400, search: str | None = None
    ) -> Iterator[BranchPage]:
        """Yield every page of a project's branches (``pagination.next`` dialect)."""

        def fetch(cursor: str | None) -> BranchPage:
            params = {"limit": limit, "search": search, "cursor": cursor}
            body = self._http.call(
                key, "GET", _BRANCHES, path={"project_id": project_id}, params=params
            )
            return responses.parse_branch_page(body)

        return iter_pages(
            fetch,
            next_cursor=lambda page: page.next_cursor,
            item_count=lambda page: len(page.branches),
            limit=limit,
        )

    def list_branches(self, key: str, project_id: str, *, limit: int = 400) -> list[Branch]:
        """Read every branch of a project."""
        return [
            b for page in self.iter_branches(key, project_id, limit=limit) for b in page.branches
        ]

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
            key, "POST", _BRANCHES, path={"project_id": project_id}, body=request
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
        body = self._http.call(key, "PATCH", _BRANCHES + "/{branch_id}", path=path, body=request)
        return responses.parse_branch_change(body)

    def delete_branch(
        self, key: str, project_id: str, branch_id: str
    ) -> tuple[Branch, list[Operation]] | None:
        """Delete a branch; ``None`` when Neon says it was already gone (204)."""
        path = {"project_id": project_id, "branch_id": branch_id}
        body = self._http.call(key, "DELETE", _BRANCHES + "/{branch_id}", path=path)
        return None if body is None else responses.parse_branch_change(body)

    # ------------------------------------------------------------------ endpoints

    def list_endpoints(self, key: str, project_id: str) -> list[Endpoint]:
        """List a project's compute endpoints (not paginated)."""
        body = self._http.call(key, "GET", _PROJECT + "/endpoints", path={"project_id": project_id})
        return responses.parse_endpoint_list(body)

    def get_endpoint(self, key: str, project_id: str, endpoint_id: str) -> Endpoint:
        """Read one compute endpoint."""
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        return responses.parse_endpoint(self._http.call(key, "GET", _ENDPOINT, path=path))

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
        body = self._http.call(key, "PATCH", _ENDPOINT, path=path, body=request)
        return responses.parse_endpoint_update(body)

    # ------------------------------------------------------------------ operations

    def get_operation(self, key: str, project_id: str, operation_id: str) -> Operation:
        """Read one operation's current state."""
        path = {"project_id": project_id, "operation_id": operation_id}
        body = self._http.call(key, "GET", _PROJECT + "/operations/{operation_id}", path=path)
        return responses.parse_operation(body)

    def iter_operations(
        self, key: str, project_id: str, *, limit: int = 100
    ) -> Iterator[OperationPage]:
        """Yield pages of a project's operations, newest first."""

        def fetch(cursor: str | None) -> OperationPage:
            params: dict[str, Any] = {"limit": limit, "cursor": cursor}
            path = {"project_id": project_id}
            body = self._http.call(key, "GET", _PROJECT + "/operations", path=path, params=params)
            return responses.parse_operation_page(body)

        return iter_pages(
            fetch,
            next_cursor=lambda page: page.cursor,
            item_count=lambda page: len(page.operations),
            limit=limit,
        )

    def wait_for_operations(
        self,
        key: str,
        project_id: str,
        operations: Iterable[Operation],
        *,
        timeout: float = 300.0,
    ) -> list[Operation]:
        """Poll until every operation is terminal; raise ``OperationFailed`` on failure/timeout."""
        return _wait_for_operations(
            lambda operation_id: self.get_operation(key, project_id, operation_id),
            operations,
            timeout=timeout,
            sleep=self._sleep,
            clock=self._clock,
        )
