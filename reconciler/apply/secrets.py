"""Secret sinks: where minted API key tokens, connection secrets and Neon Auth keys go.

Neon shows a key's token only in the create response. neon-fleet hands it to the sink the Fleet
names and forgets it: the token never reaches stdout, logs, plan files or the ledger. Connection
secrets (a ``DATABASE_URL`` and its parts, ``ConnectionSecret``) and Neon Auth's one-time keys
(``AuthKeys``) travel the same way; a sink takes anything that is ``Deliverable``.

* ``file``: one JSON document per key, ``<dir>/<tenant>/<key name>.json``, mode 0600 in
  directories of mode 0700, written atomically (temp file + rename) so a crash never leaves half
  a token on disk. The sink never follows a symbolic link: it walks from the directory that
  holds the sink (the working directory for a relative path) with ``O_NOFOLLOW`` directory file
  descriptors, so a link planted at the sink root, a tenant directory or a key file cannot send
  a token (or a ``chmod``) anywhere else; such a link fails delivery with an error naming it.
* ``exec``: a command that receives the same JSON on stdin (e.g. a script that writes to Vault or
  a cloud secret manager). It runs with a minimal environment (``BASE_ENVIRONMENT`` plus the
  Fleet's ``secrets.env`` allow-list), never with the org or personal API keys neon-fleet holds.
  A non-zero exit fails delivery; the applier then revokes the key so no untracked key is left
  behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shlex
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.core.catalog import AUTH_SECRET
from reconciler.errors import SecretSinkError


@dataclass(frozen=True)
class MintedKey:
    """A new key and where it belongs. ``token`` is excluded from repr on purpose."""

    tenant: str
    project_id: str
    org_id: str
    key_id: int
    name: str
    token: str = field(repr=False)

    def document(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "project_id": self.project_id,
            "org_id": self.org_id,
            "key_id": self.key_id,
            "name": self.name,
            "token": self.token,
        }

    @property
    def what(self) -> str:
        return "key"

    def secret_values(self) -> tuple[str, ...]:
        return (self.token,)


@dataclass(frozen=True)
class ConnectionSecret:
    """A declared connection secret as delivered: the URI and its parts, password included.

    ``password`` and ``uri`` are excluded from repr on purpose; ``fingerprint`` is what the
    ledger keeps to know what was delivered.
    """

    tenant: str
    name: str
    project_id: str
    branch: str
    branch_id: str
    endpoint_id: str
    host: str
    database: str
    role: str
    pooled: bool
    password: str = field(repr=False)
    uri: str = field(repr=False)

    @property
    def what(self) -> str:
        return "connection secret"

    def document(self) -> dict[str, object]:
        return {
            "kind": "connection_secret",
            "tenant": self.tenant,
            "name": self.name,
            "project_id": self.project_id,
            "branch": self.branch,
            "branch_id": self.branch_id,
            "endpoint_id": self.endpoint_id,
            "host": self.host,
            "database": self.database,
            "role": self.role,
            "pooled": self.pooled,
            "password": self.password,
            "uri": self.uri,
            "DATABASE_URL": self.uri,
        }

    def secret_values(self) -> tuple[str, ...]:
        return (self.password, self.uri)


@dataclass(frozen=True)
class AuthKeys:
    """Neon Auth's keys of a tenant's default branch, shown by Neon only when it is enabled."""

    tenant: str
    project_id: str
    branch_id: str
    database: str
    base_url: str
    jwks_url: str
    pub_client_key: str = field(repr=False)
    secret_server_key: str = field(repr=False)
    name: str = AUTH_SECRET

    @property
    def what(self) -> str:
        return "Neon Auth keys"

    def document(self) -> dict[str, object]:
        return {
            "kind": "neon_auth",
            "tenant": self.tenant,
            "project_id": self.project_id,
            "branch_id": self.branch_id,
            "database": self.database,
            "base_url": self.base_url,
            "jwks_url": self.jwks_url,
            "pub_client_key": self.pub_client_key,
            "secret_server_key": self.secret_server_key,
        }

    def secret_values(self) -> tuple[str, ...]:
        return (self.pub_client_key, self.secret_server_key)


class Deliverable(Protocol):
    """Anything a sink takes: a tenant, a name, a JSON document, and the secrets it holds."""

    @property
    def tenant(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def what(self) -> str: ...

    def document(self) -> dict[str, object]: ...

    def secret_values(self) -> tuple[str, ...]: ...


class SecretSink(Protocol):
    """Delivers a secret document; raises ``SecretSinkError`` when it cannot."""

    def deliver(self, key: Deliverable) -> None: ...


#: Flags for entering a directory of the sink: never through a symbolic link.
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Flags for the temporary key file: a new regular file, never an existing one or a link.
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class FileSink:
    """Writes one 0600 JSON file per key under a 0700 directory tree, following no symlinks.

    ``base`` is the directory trusted as it is written (by default the sink directory's parent;
    the working directory for a sink path relative to it): every component below it, up to and
    including the key file, is entered or created without following symbolic links.
    """

    def __init__(self, directory: str | Path, *, base: str | Path | None = None) -> None:
        self.directory = Path(directory)
        trusted = Path(base) if base is not None else self.directory.parent
        try:
            below = self.directory.relative_to(trusted).parts
        except ValueError:
            below = ()
        if not below:  # ``base`` is not above the sink: trust only the sink's parent
            trusted, below = self.directory.parent, (self.directory.name,)
        self.base, self._walk = trusted, below

    def path_for(self, tenant: str, name: str) -> Path:
        return self.directory / _safe(tenant) / f"{_safe(name)}.json"

    def deliver(self, key: Deliverable) -> None:
        target = self.path_for(key.tenant, key.name)
        try:
            tenant_fd = self._open_tenant_directory(target.parent.name)
            try:
                _write_atomically(tenant_fd, target, key.document())
            finally:
                os.close(tenant_fd)
        except _SymlinkRefused as refused:
            raise SecretSinkError(
                f"cannot write {key.what} {key.name!r} of tenant {key.tenant} to {target}: "
                f"{refused.path} is a symbolic link; the file sink follows no symbolic links, "
                "so that a link planted in the sink cannot send a token elsewhere "
                "(replace it with a real directory, or point spec.secrets.file at the target)"
            ) from None
        except OSError as exc:
            raise SecretSinkError(
                f"cannot write {key.what} {key.name!r} of tenant {key.tenant} to {target}: "
                f"{exc.strerror or exc}"
            ) from exc

    def _open_tenant_directory(self, tenant_dir: str) -> int:
        """A file descriptor of ``<sink>/<tenant>``, created 0700 where missing, links refused."""
        # The base is trusted as written (it may pass through the user's own links); only what
        # lies below it is walked link-free.
        self.base.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        path = self.base
        try:
            for depth, name in enumerate((*self._walk, tenant_dir)):
                path = path / name
                inner = _enter_directory(fd, name, path)
                os.close(fd)
                fd = inner
                if depth >= len(self._walk) - 1:  # the sink root and the tenant directory
                    os.fchmod(fd, 0o700)  # on the descriptor: a chmod that cannot be redirected
            return fd
        except BaseException:
            os.close(fd)
            raise


class _SymlinkRefused(Exception):
    """A component of the sink path is a symbolic link (``path`` names it)."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def _enter_directory(parent_fd: int, name: str, path: Path) -> int:
    """Open (creating it 0700 if missing) the directory ``name`` under ``parent_fd``, no links."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        # Linux says ELOOP for a link opened with O_NOFOLLOW, some BSDs ENOTDIR (O_DIRECTORY).
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_symlink(parent_fd, name):
            raise _SymlinkRefused(path) from None
        raise


def _is_symlink(parent_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _write_atomically(directory_fd: int, target: Path, document: Mapping[str, object]) -> None:
    """Write ``document`` as ``target`` (in ``directory_fd``): temp file, fsync, rename."""
    if _is_symlink(directory_fd, target.name):
        # rename() would replace the link rather than follow it, but a planted link means
        # someone is tampering with the sink: refuse and say so instead of carrying on.
        raise _SymlinkRefused(target)
    temp = f".key-{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, _NEW_FILE_FLAGS, 0o600, dir_fd=directory_fd)
    try:
        os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, target.name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=directory_fd)
        raise
    os.fsync(directory_fd)  # the rename itself survives a crash


#: The variables an exec sink command receives from neon-fleet's environment (when set), on top
#: of the Fleet's ``secrets.env`` allow-list: enough to find programs, a home, a temp directory
#: and the locale — and nothing that could hold a credential.
BASE_ENVIRONMENT = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TMP", "TEMP",
)  # fmt: skip
#: Locale variables (``LC_ALL``, ``LC_CTYPE``, …) pass too.
BASE_ENVIRONMENT_PREFIX = "LC_"


def sink_environment(environ: Mapping[str, str], allowed: Iterable[str] = ()) -> dict[str, str]:
    """The environment of an exec sink command: the base variables plus the allow-listed ones."""
    names = set(BASE_ENVIRONMENT) | set(allowed)
    return {
        name: value
        for name, value in environ.items()
        if name in names or name.startswith(BASE_ENVIRONMENT_PREFIX)
    }


class ExecSink:
    """Pipes the key's JSON document to a command's stdin, in a minimal environment.

    ``env`` names the variables the command needs beyond ``BASE_ENVIRONMENT`` (the Fleet's
    ``secrets.env``); ``environ`` is where their values come from (default: this process's).
    """

    def __init__(
        self,
        command: str,
        *,
        env: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise SecretSinkError("the exec secret sink has an empty command")
        self.allowed = tuple(env)
        self._environ = environ
        self.timeout = timeout

    def deliver(self, key: Deliverable) -> None:
        payload = json.dumps(key.document(), sort_keys=True)
        environ = os.environ if self._environ is None else self._environ
        try:
            done = subprocess.run(
                self.argv,
                input=payload,
                text=True,
                capture_output=True,
                timeout=self.timeout,
                check=False,
                env=sink_environment(environ, self.allowed),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SecretSinkError(
                f"secret sink command {self.argv[0]!r} failed for {key.what} {key.name!r} "
                f"of tenant {key.tenant}: {exc}"
            ) from exc
        if done.returncode != 0:
            # stderr is the command's own text; it never contains the token unless the command
            # echoes its input, so it is cut and scrubbed of the token all the same.
            err = done.stderr.strip()
            for secret in key.secret_values():
                err = err.replace(secret, "***")
            err = err[-300:]
            raise SecretSinkError(
                f"secret sink command {self.argv[0]!r} exited {done.returncode} for {key.what} "
                f"{key.name!r} of tenant {key.tenant}" + (f": {err}" if err else "")
            )


def _safe(part: str) -> str:
    """A path component that cannot climb out of the sink directory."""
    cleaned = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in part)
    return cleaned.lstrip(".") or "_"
