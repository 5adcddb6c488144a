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
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from reconciler.apply.secrets import (
    ExecSink,
    FileSink,
    SecretSink,
    _SymlinkRefused,
    _write_atomically,
    sink_environment,
)
from reconciler.errors import SecretSinkError


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
        """How messages name it (the shape ``handoff``'s ``Deliverable`` sinks take too)."""
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


def deliver(sink: SecretSink, secret: PreviewSecret) -> None:
    """Hand ``secret`` to the sink; ``SecretSinkError`` (never showing the secret) otherwise."""
    what = f"the connection secret of preview {secret.run_id!r} of tenant {secret.tenant}"
    if isinstance(sink, FileSink):
        _write_file(sink, secret, what)
    elif isinstance(sink, ExecSink):
        _run_command(sink, secret, what)
    else:
        raise SecretSinkError(f"cannot deliver {what}: unsupported sink {type(sink).__name__}")


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


def _write_file(sink: FileSink, secret: PreviewSecret, what: str) -> None:
    target = sink.path_for(secret.tenant, secret.name)
    try:
        tenant_fd = sink._open_tenant_directory(target.parent.name)
        try:
            _write_atomically(tenant_fd, target, secret.document())
        finally:
            os.close(tenant_fd)
    except _SymlinkRefused as refused:
        raise SecretSinkError(
            f"cannot write {what} to {target}: {refused.path} is a symbolic link (the file "
            "sink follows none)"
        ) from None
    except OSError as exc:
        raise SecretSinkError(f"cannot write {what} to {target}: {exc.strerror or exc}") from exc


def _run_command(sink: ExecSink, secret: PreviewSecret, what: str) -> None:
    environ = os.environ if sink._environ is None else sink._environ
    try:
        done = subprocess.run(
            sink.argv,
            input=json.dumps(secret.document(), sort_keys=True),
            text=True,
            capture_output=True,
            timeout=sink.timeout,
            check=False,
            env=sink_environment(environ, sink.allowed),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SecretSinkError(f"secret sink command {sink.argv[0]!r} failed for {what}") from exc
    if done.returncode != 0:
        err = done.stderr.strip()
        for value in secret.secret_values():
            err = err.replace(value, "***")
        raise SecretSinkError(
            f"secret sink command {sink.argv[0]!r} exited {done.returncode} for {what}"
            + (f": {err[-300:]}" if err else "")
        )
