"""The one exception tree of neon-fleet.

Every error a user can meet is a ``ReconcilerError``; the CLI prints its message (never a
traceback) and exits with the class's ``exit_code``. Foreign exceptions (httpx, sqlite3,
psycopg, yaml, jsonschema) are translated into this tree at the adapter that meets them, always
with ``raise ... from exc`` so the cause is kept for ``-v``.

    ReconcilerError                      exit 1
    ├── UsageError                       bad flags, missing environment variables, bad paths
    ├── ManifestError                    one or more manifest problems, each with file:line:col
    ├── PlanFileError                    a plan file that is unreadable, malformed or modified
    ├── PlanError                        the planner cannot produce a plan
    │   ├── StalePlanError               exit 3: live state moved since the plan was made
    │   └── UnvouchedPlanError           a saved plan the manifests would not have planned
    ├── ApplyError                       exit 4: apply finished with failed steps
    ├── BlockedTenantsError              exit 5: apply finished, blocked tenants left unchanged
    ├── LedgerError                      the ledger cannot be read or written
    │   ├── LedgerMigrationError         a migration failed or the schema is newer than the tool
    │   ├── LedgerCorruptedError         a stored value neon-fleet could not have written
    │   └── LockHeldError                another apply holds the ledger lock
    ├── SecretSinkError                  a minted key could not be delivered
    └── ApiError                         the Neon API answered with an error or not at all
        ├── ApiClientError               4xx that retrying will not fix
        │   ├── Unauthorized             401
        │   ├── Forbidden                403
        │   ├── NotFound                 404
        │   ├── NotAcceptable            406 (transfer limits; ``limits`` lists them)
        │   ├── UnprocessableEntity      422 (transfer integrations; ``projects`` lists them)
        │   ├── Locked                   423: the project has running operations (retryable)
        │   └── RateLimited              429 (retryable)
        ├── ApiServerError               5xx
        ├── ApiUnavailable               connection failed before the request was sent (retryable)
        │   └── HostUnreachable          the host cannot be reached in a way retrying will not fix
        ├── OutcomeUnknown               a write was sent but its answer was lost: read back first
        └── OperationFailed              a Neon operation ended ``failed`` or ``error``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class ReconcilerError(Exception):
    """Root of every error neon-fleet raises on purpose."""

    #: The process exit code the CLI uses for this error.
    exit_code: ClassVar[int] = 1


class UsageError(ReconcilerError):
    """Raised for bad command-line input: flags, paths, missing environment variables."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a manifest file.

    ``line`` and ``column`` are 1-based; ``field`` is a dotted path such as
    ``spec.quota.compute_time_seconds`` (empty when the whole document is at fault).
    """

    path: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ManifestError(ReconcilerError):
    """Raised when manifests fail to load or validate; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanFileError(ReconcilerError):
    """Raised when a saved plan file cannot be read or does not match the plan schema."""


class PlanError(ReconcilerError):
    """Raised when a plan cannot be built or applied as asked."""


class StalePlanError(PlanError):
    """Raised when live state of planned tenants moved since the plan was made."""

    exit_code: ClassVar[int] = 3

    def __init__(self, tenants: Sequence[str], detail: str = "") -> None:
        self.tenants = tuple(tenants)
        names = ", ".join(self.tenants)
        super().__init__(
            f"the plan is stale: live state changed since planning for {names}"
            + (f" ({detail})" if detail else "")
            + "; run `fleet plan` again"
        )


class UnvouchedPlanError(PlanError):
    """Raised when a saved plan asks for what the manifests at apply time would not plan.

    Nothing has been changed when it is raised: the plan is checked against a re-plan from the
    manifests before any step runs.
    """


def _blocked_text(blocked: Sequence[str]) -> str:
    return f"{len(blocked)} blocked tenant(s) left unchanged: {', '.join(blocked)}"


class ApplyError(ReconcilerError):
    """Raised when an apply finished but some steps failed (and their dependents were skipped).

    It wins over ``BlockedTenantsError`` when both happened; ``blocked`` names the blocked
    tenants then too.
    """

    exit_code: ClassVar[int] = 4

    def __init__(
        self, failed: int, skipped: int, succeeded: int, blocked: Sequence[str] = ()
    ) -> None:
        self.failed, self.skipped, self.succeeded = failed, skipped, succeeded
        self.blocked = tuple(blocked)
        super().__init__(
            f"apply finished with {failed} failed, {skipped} skipped "
            f"and {succeeded} succeeded step(s)"
            + (f"; {_blocked_text(self.blocked)}" if self.blocked else "")
        )


class BlockedTenantsError(ReconcilerError):
    """Raised when an apply finished what it could but blockers held tenants back (exit 5).

    The unblocked rest of the plan was applied; the blocked tenants were not touched, so the
    fleet does not match the manifests and a CI job must not go green.
    """

    exit_code: ClassVar[int] = 5

    def __init__(self, blocked: Sequence[str]) -> None:
        self.blocked = tuple(blocked)
        super().__init__(f"apply finished, but {_blocked_text(self.blocked)}")


class LedgerError(ReconcilerError):
    """Raised when the ledger cannot be opened, read or written."""


class LedgerMigrationError(LedgerError):
    """Raised when a ledger migration fails or the ledger is newer than this tool."""


class LedgerCorruptedError(LedgerError):
    """Raised when a stored ledger value is not one neon-fleet could have written.

    The message names the ledger, the table, the row and the column (never the value, which
    may be anything), so the row can be repaired or the ledger restored from a backup.
    """

    def __init__(self, ledger: str, table: str, row: str, column: str, problem: str) -> None:
        self.ledger, self.table, self.row, self.column = ledger, table, row, column
        super().__init__(
            f"the ledger {ledger} is corrupted: table {table}, row {row}, column {column}: "
            f"{problem}; repair that row or restore the ledger from a backup"
        )


class LockHeldError(LedgerError):
    """Raised when another apply holds the ledger's apply lock."""

    def __init__(self, holder: str, since: str) -> None:
        self.holder, self.since = holder, since
        super().__init__(
            f"another apply holds the ledger lock: {holder} since {since} "
            "(wait for it, or pass --lock-timeout SECONDS)"
        )


class SecretSinkError(ReconcilerError):
    """Raised when a freshly minted API key token cannot be delivered to the secret sink."""


class ApiError(ReconcilerError):
    """Raised for any failed Neon API call; ``request_id`` helps Neon support find it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
        method: str = "",
        route: str = "",
        body: Mapping[str, Any] | None = None,
        host: str = "",
    ) -> None:
        self.status, self.code, self.request_id = status, code, request_id
        self.method, self.route = method, route
        self.body: Mapping[str, Any] = body or {}
        #: ``scheme://host:port`` of the API that was asked (never credentials or a path).
        self.host = host
        self.detail = message
        prefix = f"{method} {route}: " if method else ""
        status_text = f"HTTP {status}: " if status is not None else ""
        rid = f" (request_id {request_id})" if request_id else ""
        super().__init__(f"{prefix}{status_text}{message}{rid}")

    def with_detail(self, extra: str) -> ApiError:
        """The same error (class, status, ids, cause) with ``extra`` appended to its message."""
        amended = type(self)(
            self.detail + extra,
            status=self.status,
            code=self.code,
            request_id=self.request_id,
            method=self.method,
            route=self.route,
            body=self.body,
            host=self.host,
        )
        amended.__cause__ = self.__cause__
        return amended


class ApiClientError(ApiError):
    """Raised for a 4xx answer that sending again will not fix."""


class Unauthorized(ApiClientError):
    """Raised on 401: the key is missing, unknown or revoked."""


class Forbidden(ApiClientError):
    """Raised on 403: the key is valid but may not do this."""


class NotFound(ApiClientError):
    """Raised on 404."""


class NotAcceptable(ApiClientError):
    """Raised on 406; for transfers ``limits`` lists each unsatisfied limit."""

    @property
    def limits(self) -> list[dict[str, Any]]:
        return list(self.body.get("limits", []))


class UnprocessableEntity(ApiClientError):
    """Raised on 422; for transfers ``projects`` lists ``{id, integration}`` items."""

    @property
    def projects(self) -> list[dict[str, Any]]:
        return list(self.body.get("projects", []))


class Locked(ApiClientError):
    """Raised on 423: the project has running operations; safe to retry."""


class RateLimited(ApiClientError):
    """Raised on 429 once the retry budget is spent."""


class ApiServerError(ApiError):
    """Raised on 5xx once the retry budget is spent (or at once for non-idempotent writes)."""


class ApiUnavailable(ApiError):
    """Raised when the API could not be reached and the request was certainly not performed."""


class HostUnreachable(ApiUnavailable):
    """Raised when the API host cannot be reached in a way that retrying will not fix.

    Its name does not resolve, the TLS handshake fails (e.g. ``https://`` to an ``http://``
    server), or the connection is refused before the host ever answered this process: a wrong
    ``--api-host`` rather than a blip, so it fails at once instead of after every retry.
    """


class OutcomeUnknown(ApiError):
    """Raised when a write was sent but no answer came back: it may or may not have happened.

    Never re-send the write: read the resource back (for projects, by deterministic name) first.
    """


class OperationFailed(ApiError):
    """Raised when a Neon operation ends in ``failed`` or ``error`` or does not finish in time."""
