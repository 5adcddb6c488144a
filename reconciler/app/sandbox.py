"""``fleet --sandbox``: every command against a local, in-process Neon API emulator.

No Neon account is needed and no real Neon API is contacted. The emulator's state lives in
``.fleet/sandbox.db``, so separate invocations see the same fleet; it is seeded from the Fleet's
orgs with API keys generated on first use and kept in ``.fleet/sandbox-keys.json`` (mode 0600).
Sandbox runs keep their own ledger (``.fleet/sandbox-ledger.db``) so they never mix with a real
fleet's records.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path

import httpx

from reconciler.core.model import FleetConfig
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, Limits, Seed, seed_from_mapping
from reconciler.errors import UsageError

#: Every sandbox org gets the same plan, so transfers work both ways as on Neon's Agent Plan.
SANDBOX_PLAN = "agent"
#: Short operations keep the sandbox snappy while still exercising the wait-for-operations path.
SANDBOX_OPERATION_MS = 50


class Sandbox:
    """The in-process emulator and the generated keys of one working directory."""

    base_url = "http://sandbox.neon-fleet.invalid/api/v2"

    def __init__(self, state_dir: Path, fleet: FleetConfig) -> None:
        self.state_dir = state_dir
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the sandbox directory {state_dir}: {exc}") from exc
        self._keys = self._load_or_make_keys(fleet)
        state = state_dir / "sandbox.db"
        try:
            self.emulator = Emulator(state)
            self.emulator.ensure_seed(self._seed(fleet))
            self.emulator.set_limits(Limits(operation_duration_ms=SANDBOX_OPERATION_MS))
        except sqlite3.Error as exc:
            raise UsageError(
                f"the sandbox state {state} cannot be used ({exc}); "
                f"make it writable, or delete {state_dir} to start a fresh sandbox"
            ) from exc

    def transport(self) -> httpx.BaseTransport:
        return httpx.WSGITransport(app=self.emulator)

    def credentials(self) -> Credentials:
        orgs = {k: v for k, v in self._keys.items() if k != "personal"}
        return Credentials(
            org_keys=orgs,
            personal_key=self._keys["personal"],
            org_key_sources={org: "the sandbox key file" for org in orgs},
            personal_key_source="the sandbox key file",
        )

    def close(self) -> None:
        self.emulator.close()

    def _load_or_make_keys(self, fleet: FleetConfig) -> dict[str, str]:
        path = self.state_dir / "sandbox-keys.json"
        keys: dict[str, str] = {}
        if path.exists():
            try:
                keys = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
            except (OSError, ValueError) as exc:
                raise UsageError(f"the sandbox key file {path} is unreadable: {exc}") from exc
        wanted = ["personal", *(org.id for org in fleet.orgs.values())]
        if all(name in keys for name in wanted):
            return keys
        for name in wanted:
            keys.setdefault(name, f"sandbox-{secrets.token_hex(16)}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2, sort_keys=True)
        return keys

    def _seed(self, fleet: FleetConfig) -> Seed:
        org_ids = [org.id for org in fleet.orgs.values()]
        return seed_from_mapping(
            {
                "orgs": [
                    {"id": org.id, "name": f"{org.alias} (sandbox)", "plan": SANDBOX_PLAN}
                    for org in fleet.orgs.values()
                ],
                "keys": [
                    {
                        "token": self._keys["personal"],
                        "kind": "personal",
                        "orgs": {org_id: "admin" for org_id in org_ids},
                    },
                    *(
                        {"token": self._keys[org_id], "kind": "org", "org": org_id}
                        for org_id in org_ids
                    ),
                ],
            }
        )
