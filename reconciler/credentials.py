"""API keys for a run, and the rule of which key each call uses.

Least privilege, per design: the org key of the org a call acts in; the personal key only for
project transfers (Neon accepts nothing else there); project-scoped keys are minted for tenants
and never used by neon-fleet itself. Tokens are held with ``repr=False`` so they never reach a
log line or a traceback's locals by accident. Each key handed out is an ``ApiKey`` labelled
with where it came from (``the org key in NEON_ORG_KEY (org acme, org-…)``), so a 401 or 403
names the variable to fix and never the token.

Each key also knows its Neon *account*, whose rate budget its calls spend (Neon budgets per
account): ``org:<org id>`` for an org key and for the project-scoped keys of that org's projects,
``user:personal`` for the personal key (its user's account; a run has at most one).
neon-fleet mints project-scoped keys for tenants but never calls with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.core.model import FleetConfig
from reconciler.errors import UsageError
from reconciler.neon.apikey import ApiKey

#: The account of the run's personal key: its user's.
PERSONAL_ACCOUNT = "user:personal"


def org_account(org_id: str) -> str:
    """The account of ``org_id``'s org key and of its projects' project-scoped keys."""
    return f"org:{org_id}"


@dataclass(frozen=True)
class Credentials:
    """Tokens by org id, plus the optional personal key; never printed."""

    org_keys: Mapping[str, str] = field(repr=False)
    personal_key: str | None = field(default=None, repr=False)
    #: For messages: where each org's key was expected to come from.
    org_key_sources: Mapping[str, str] = field(default_factory=dict)
    personal_key_source: str = ""
    #: The labelled keys handed out, by org id: every call asks for its key, so a plain ``str``
    #: key is wrapped once, not per call (a race only wraps it twice, equally).
    _handed_out: dict[str, ApiKey] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def org_key(self, org_id: str) -> str:
        """The key for calls inside ``org_id``; a UsageError names the missing variable."""
        found = self._handed_out.get(org_id)
        if found is None:
            found = self._handed_out[org_id] = self._label_org_key(org_id)
        return found

    def _label_org_key(self, org_id: str) -> ApiKey:
        token = self.org_keys.get(org_id)
        if not token:
            source = self.org_key_sources.get(org_id, "an org API key")
            raise UsageError(f"no API key for org {org_id}: set {source}")
        account = org_account(org_id)
        if isinstance(token, ApiKey):
            return token if token.account == account else ApiKey(token, token.label, account)
        origin = self.org_key_sources.get(org_id)
        label = f"the key of org {org_id}" + (f" from {origin}" if origin else "")
        return ApiKey(token, label, account)

    def transfer_key(self) -> str:
        """The personal key, the only kind Neon accepts for project transfers."""
        if not self.personal_key:
            source = self.personal_key_source or "spec.personal_api_key_env in the Fleet manifest"
            raise UsageError(f"project transfers need a personal API key: set {source}")
        key = self.personal_key
        if isinstance(key, ApiKey):
            return (
                key if key.account == PERSONAL_ACCOUNT else ApiKey(key, key.label, PERSONAL_ACCOUNT)
            )
        origin = self.personal_key_source
        label = "the personal key" + (f" from {origin}" if origin else "")
        return ApiKey(key, label, PERSONAL_ACCOUNT)

    @property
    def can_transfer(self) -> bool:
        return bool(self.personal_key)


def credentials_from_env(fleet: FleetConfig, environ: Mapping[str, str]) -> Credentials:
    """Read every org key the Fleet names; a missing org key is an error, a personal key is not.

    The personal key is optional because most runs never transfer; the planner turns a needed
    transfer without one into a blocker before anything is applied.
    """
    missing = [
        f"{org.api_key_env} (spec.orgs.{org.alias}.api_key_env)"
        for org in fleet.orgs.values()
        if not environ.get(org.api_key_env)
    ]
    if missing:
        raise UsageError(
            "missing API key environment variable(s): "
            + ", ".join(missing)
            + " — or run with --sandbox to use the local emulator"
        )
    personal_env = fleet.personal_api_key_env
    personal = environ.get(personal_env) if personal_env else None
    return Credentials(
        org_keys={
            org.id: ApiKey(
                environ[org.api_key_env],
                f"the org key in {org.api_key_env} (org {org.alias}, {org.id})",
                org_account(org.id),
            )
            for org in fleet.orgs.values()
        },
        personal_key=(
            ApiKey(personal, f"the personal key in {personal_env}", PERSONAL_ACCOUNT)
            if personal
            else None
        ),
        org_key_sources={
            org.id: f"{org.api_key_env} (spec.orgs.{org.alias}.api_key_env)"
            for org in fleet.orgs.values()
        },
        personal_key_source=(
            f"{personal_env} (spec.personal_api_key_env)"
            if personal_env
            else "spec.personal_api_key_env in the Fleet manifest"
        ),
    )
