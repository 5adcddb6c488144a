"""``NeonClient``: the typed *read* calls of the Neon Management API v2 used by neon-fleet.

Every mutation (create, update, delete, transfer, revoke, snapshot, restore) lives in
``reconciler.neon.mutators.NeonWriter``, a subclass that only ``reconciler.apply`` may build
(an import-linter contract), so nothing but the applier changes Neon.

Every method takes the API key as its first argument; the client holds no key, so one client
(and its connection pool and rate limiter) serves every org and tenant, and each call runs with
the narrowest key the caller has. Retries, the shared rate limiter, ``X-Request-ID`` and error
translation live in ``reconciler.neon.http``; this module builds requests and parses answers.
Each call spends the rate budget of its key's Neon account (``ApiKey.account``): the client
chooses the account per call, so calls of different orgs never wait for each other's budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from reconciler import __version__
from reconciler.neon import responses
from reconciler.neon.client_catalog import CatalogCalls
from reconciler.neon.client_orgs import OrgAndAccountCalls
from reconciler.neon.http import ApiHttp
from reconciler.neon.operations import wait_for_operations as _wait_for_operations
from reconciler.neon.pagination import iter_pages
from reconciler.neon.ratelimit import RateLimiter, shared_limiter
from reconciler.neon.responses import (
    BranchPage,
    OperationPage,
    ProjectListing,
    ProjectPage,
)
from reconciler.neon.retry import RetryPolicy
from reconciler.neon.stats import CallStats
from reconciler.neon.wire import Branch, Endpoint, Operation, Project, ProjectListItem

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"
PROJECT_ROUTE = "/projects/{project_id}"
BRANCHES_ROUTE = PROJECT_ROUTE + "/branches"
ENDPOINT_ROUTE = PROJECT_ROUTE + "/endpoints/{endpoint_id}"
#: The HTTP methods the read client sends.
READ_METHODS = frozenset({"GET", "HEAD"})


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

    def __enter__(self) -> Self:
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
        Reads only: a write through the read client is a programming error (writes belong to
        ``reconciler.neon.mutators.NeonWriter``, which only ``reconciler.apply`` builds).
        """
        if method.upper() not in READ_METHODS:
            raise TypeError(
                f"{method} {template}: NeonClient only reads; writes go through NeonWriter "
                "(reconciler.neon.mutators), built by reconciler.apply"
            )
        return self._http.call(key, method, template, path=path, params=params, body=body)

    def _share_machinery(self, other: NeonClient) -> None:
        """Use ``other``'s HTTP pool, limiter, retries and stats (``NeonWriter.over``)."""
        self._http, self._sleep, self._clock = other._http, other._sleep, other._clock

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
        body = self._http.call(key, "GET", PROJECT_ROUTE, path={"project_id": project_id})
        return responses.parse_project(body)

    # ------------------------------------------------------------------ branches

    def iter_branches(
        self, key: str, project_id: str, *, limit: int = 400, search: str | None = None
    ) -> Iterator[BranchPage]:
        """Yield every page of a project's branches (``pagination.next`` dialect)."""

        def fetch(cursor: str | None) -> BranchPage:
            params = {"limit": limit, "search": search, "cursor": cursor}
            body = self._http.call(
                key, "GET", BRANCHES_ROUTE, path={"project_id": project_id}, params=params
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

    # ------------------------------------------------------------------ endpoints

    def list_endpoints(self, key: str, project_id: str) -> list[Endpoint]:
        """List a project's compute endpoints (not paginated)."""
        body = self._http.call(
            key, "GET", PROJECT_ROUTE + "/endpoints", path={"project_id": project_id}
        )
        return responses.parse_endpoint_list(body)

    def get_endpoint(self, key: str, project_id: str, endpoint_id: str) -> Endpoint:
        """Read one compute endpoint."""
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        return responses.parse_endpoint(self._http.call(key, "GET", ENDPOINT_ROUTE, path=path))

    # ------------------------------------------------------------------ operations

    def get_operation(self, key: str, project_id: str, operation_id: str) -> Operation:
        """Read one operation's current state."""
        path = {"project_id": project_id, "operation_id": operation_id}
        body = self._http.call(key, "GET", PROJECT_ROUTE + "/operations/{operation_id}", path=path)
        return responses.parse_operation(body)

    def iter_operations(
        self, key: str, project_id: str, *, limit: int = 100
    ) -> Iterator[OperationPage]:
        """Yield pages of a project's operations, newest first."""

        def fetch(cursor: str | None) -> OperationPage:
            params: dict[str, Any] = {"limit": limit, "cursor": cursor}
            path = {"project_id": project_id}
            body = self._http.call(
                key, "GET", PROJECT_ROUTE + "/operations", path=path, params=params
            )
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
