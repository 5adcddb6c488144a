"""Delivery of a preview's connection secret to the Fleet's secret sink, and its withdrawal.

The secret (a ``DATABASE_URL``-style URI with the role's password, plus its parts) goes to the
sink as one JSON document named after the tenant and the agent run — ``<sink>/<tenant>/
preview-<run id>.json`` for a file sink, stdin of the command for an exec sink — and nowhere
else: the ledger keeps ``fingerprint(uri)`` only, so it can tell whether what the sink holds is
current without holding the secret. The file sink's link-refusing, atomic, 0600 writer is reused
as it is; only the document differs from a key's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from reconciler.apply.secrets import (
    FileSink,
    SecretSink,
    _SymlinkRefused,
)


def secret_name(run_id: str) -> str:
    """The sink entry of a run's preview (the file sink adds the tenant directory)."""
    return f"preview-{run_id}"


def fingerprint(uri: str) -> str:
    """What the ledger keeps of a delivered URI: enough to compare, nothing to connect with."""
    return "sha256:" + hashlib.sha256(uri.encode()).hexdigest()


@dataclass(frozen=True)
class PreviewSecret:
    """A preview's connection secret; ``uri`` is left out of repr (it holds the password)."""

    tenant: str
    run_id: str
    project_id: str
    branch_id: str
    endpoint_id: str
    database: str
    role: str
    expires_at: str | None
    uri: str = field(repr=False)

    @property
    def name(self) -> str:
        return secret_name(self.run_id)

    @property
    def what(self) -> str:
        """How the sinks' messages name it (``Deliverable``: ``sink.deliver(secret)``)."""
        return "preview connection secret"

    def secret_values(self) -> tuple[str, ...]:
        """What must never be echoed: the URI and the password inside it."""
        password = urlsplit(self.uri).password
        return (self.uri,) if password is None else (self.uri, password)

    def document(self) -> dict[str, Any]:
        parts = urlsplit(self.uri)
        return {
            "kind": "preview",
            "tenant": self.tenant,
            "run_id": self.run_id,
            "project_id": self.project_id,
            "branch_id": self.branch_id,
            "endpoint_id": self.endpoint_id,
            "host": parts.hostname,
            "database": self.database,
            "role": self.role,
            "password": parts.password,
            "pooled": False,
            "uri": self.uri,
            "DATABASE_URL": self.uri,
            "expires_at": self.expires_at,
        }


def withdraw(sink: SecretSink | None, tenant: str, run_id: str) -> bool:
    """Remove a deleted preview's file from a file sink; True when one was removed.

    An exec sink is told nothing: the branch is gone, so its secret no longer opens anything.
    """
    if not isinstance(sink, FileSink):
        return False
    target = sink.path_for(tenant, secret_name(run_id))
    try:
        tenant_fd = sink._open_tenant_directory(target.parent.name)
    except (OSError, _SymlinkRefused):
        return False
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target.name, dir_fd=tenant_fd)
            return True
        return False
    finally:
        os.close(tenant_fd)
