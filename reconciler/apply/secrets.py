"""Secret sinks: where a freshly minted project-scoped API key token goes, exactly once.

Neon shows a key's token only in the create response. neon-fleet hands it to the sink the Fleet
names and forgets it: the token never reaches stdout, logs, plan files or the ledger.

* ``file``: one JSON document per key, ``<dir>/<tenant>/<key name>.json``, mode 0600 in
  directories of mode 0700, written atomically (temp file + rename) so a crash never leaves half
  a token on disk.
* ``exec``: a command that receives the same JSON on stdin (e.g. a script that writes to Vault or
  a cloud secret manager). A non-zero exit fails delivery; the applier then revokes the key so no
  untracked key is left behind.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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


class SecretSink(Protocol):
    """Delivers a minted key; raises ``SecretSinkError`` when it cannot."""

    def deliver(self, key: MintedKey) -> None: ...


class FileSink:
    """Writes one 0600 JSON file per key under a 0700 directory tree."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, tenant: str, name: str) -> Path:
        return self.directory / _safe(tenant) / f"{_safe(name)}.json"

    def deliver(self, key: MintedKey) -> None:
        target = self.path_for(key.tenant, key.name)
        try:
            for folder in (self.directory, target.parent):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(folder, 0o700)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".key-", suffix=".tmp")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(key.document(), handle, indent=2, sort_keys=True)
                    handle.write("\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise SecretSinkError(
                f"cannot write key {key.name!r} of tenant {key.tenant} to {target}: "
                f"{exc.strerror or exc}"
            ) from exc


class ExecSink:
    """Pipes the key's JSON document to a command's stdin."""

    def __init__(self, command: str, *, timeout: float = 60.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise SecretSinkError("the exec secret sink has an empty command")
        self.timeout = timeout

    def deliver(self, key: MintedKey) -> None:
        payload = json.dumps(key.document(), sort_keys=True)
        try:
            done = subprocess.run(
                self.argv,
                input=payload,
                text=True,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SecretSinkError(
                f"secret sink command {self.argv[0]!r} failed for key {key.name!r} "
                f"of tenant {key.tenant}: {exc}"
            ) from exc
        if done.returncode != 0:
            # stderr is the command's own text; it never contains the token unless the command
            # echoes its input, so it is cut and scrubbed of the token all the same.
            err = done.stderr.strip().replace(key.token, "***")[-300:]
            raise SecretSinkError(
                f"secret sink command {self.argv[0]!r} exited {done.returncode} for key "
                f"{key.name!r} of tenant {key.tenant}" + (f": {err}" if err else "")
            )


def _safe(part: str) -> str:
    """A path component that cannot climb out of the sink directory."""
    cleaned = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in part)
    return cleaned.lstrip(".") or "_"
