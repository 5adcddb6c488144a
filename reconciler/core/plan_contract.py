"""The plan's contract with apply: everything besides the steps that applying a saved plan needs.

The plan file writes it as ``meta`` (``schemas/plan.schema.json`` spells out every field).
Every field is optional because plans of different origins fill different parts: the pure
planner records only ``refresh``; ``fleet plan`` adds the manifests path, Fleet settings,
bindings, observed details, refresh counts, shard, converged digests and ``prevent_destroy``
changes; a key rotation records bindings and ``mode``. An absent field is not written, so a
plan file reads back to an equal contract and stays byte-identical.

``fleet apply PLANFILE`` re-derives what it acts on from the manifests and live state
(``reconciler.app.plan_trust``); it uses the contract to locate the manifests, to cross-check,
and to know which details to re-read (``observed``) so fingerprints stay comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from reconciler.errors import PlanFileError

#: How much a plan reads: ``changed`` (details only for tenants that need them, see
#: ``observe.tenants_to_refresh``) or ``all`` (details for every tenant, as ``fleet drift`` does).
RefreshMode = Literal["changed", "all"]
REFRESH_MODES: tuple[RefreshMode, ...] = get_args(RefreshMode)


@dataclass(frozen=True)
class PlannedBinding:
    """A planned tenant's project as the plan saw it (apply's ``TenantBinding`` starts here)."""

    project_name: str
    org_id: str
    project_id: str | None = None
    prevent_destroy: bool = False
    #: The tenant's manifest digest (empty for a removed tenant); recorded once it converges.
    digest: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "project_name": self.project_name,
            "org_id": self.org_id,
            "project_id": self.project_id,
            "prevent_destroy": self.prevent_destroy,
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, tenant: str, data: Mapping[str, Any]) -> PlannedBinding:
        missing = [k for k in ("project_name", "org_id") if k not in data]
        if missing:
            raise PlanFileError(f"plan file: meta.tenants.{tenant}: missing {missing[0]!r}")
        project_id = data.get("project_id")
        return cls(
            project_name=str(data["project_name"]),
            org_id=str(data["org_id"]),
            project_id=None if project_id is None else str(project_id),
            prevent_destroy=bool(data.get("prevent_destroy", False)),
            digest=str(data.get("digest", "")),
        )


@dataclass(frozen=True)
class ApplyContract:
    """What apply needs besides the steps (the plan file's ``meta``); None means absent."""

    #: The pure planner's ``PlanOptions.refresh`` (False: live state was not refreshed).
    refresh: bool | None = None
    #: The manifests path the plan was made from, as given (relative to the working directory).
    manifests: str | None = None
    #: The Fleet settings the plan was made with (``app.planning.fleet_meta``; no ledger URL).
    fleet: Mapping[str, Any] | None = None
    #: Which per-project details were read (``observe.DetailNeeds.to_dict``).
    observed: Mapping[str, Sequence[str]] | None = None
    #: Tenant → its project as planned, for every tenant the plan touches.
    tenants: Mapping[str, PlannedBinding] | None = None
    refresh_mode: RefreshMode | None = None
    #: Declared tenants whose details were read, and those compared on list pages alone.
    refreshed_tenants: int | None = None
    list_only_tenants: int | None = None
    #: ``fleet plan --shard I/N``: the plan holds shard I of N only.
    shard: str | None = None
    #: Owned tenants that need nothing although their manifests changed → their new digest.
    converged: Mapping[str, str] | None = None
    #: Tenants whose ``lifecycle.prevent_destroy`` differs from the ledger's → the new value.
    prevent_destroy: Mapping[str, bool] | None = None
    #: ``rotate`` for a key rotation's plan.
    mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The plan file's ``meta`` object: present fields only, in declaration order."""
        out: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.name == "observed":
                value = {k: list(v) for k, v in value.items()}
            elif spec.name == "tenants":
                value = {k: b.to_json() for k, b in value.items()}
            elif isinstance(value, Mapping):
                value = dict(value)
            out[spec.name] = value
        return out

    @classmethod
    def from_json(cls, meta: Mapping[str, Any]) -> ApplyContract:
        """The contract in a plan file's ``meta``; ``PlanFileError`` names a bad field."""
        unknown = sorted(set(meta) - {f.name for f in fields(cls)})
        if unknown:
            raise PlanFileError(
                f"plan file: meta.{unknown[0]}: not a field this version writes; make the plan "
                "again with fleet plan"
            )
        _check_kinds(meta)
        refresh_mode = meta.get("refresh_mode")
        if refresh_mode is not None and refresh_mode not in REFRESH_MODES:
            raise PlanFileError("plan file: meta.refresh_mode: expected changed or all")
        tenants = meta.get("tenants")
        observed = meta.get("observed")
        return cls(
            refresh=meta.get("refresh"),
            manifests=meta.get("manifests"),
            fleet=meta.get("fleet"),
            observed=None if observed is None else {k: list(v) for k, v in observed.items()},
            tenants=(
                None
                if tenants is None
                else {k: PlannedBinding.from_json(k, v) for k, v in tenants.items()}
            ),
            refresh_mode=refresh_mode,
            refreshed_tenants=meta.get("refreshed_tenants"),
            list_only_tenants=meta.get("list_only_tenants"),
            shard=meta.get("shard"),
            converged=meta.get("converged"),
            prevent_destroy=meta.get("prevent_destroy"),
            mode=meta.get("mode"),
        )


#: ``meta`` entries and the JSON type each must have when present.
_KINDS: dict[str, tuple[type, str]] = {
    "refresh": (bool, "a boolean"),
    "manifests": (str, "a string"),
    "fleet": (dict, "an object"),
    "observed": (dict, "an object"),
    "tenants": (dict, "an object"),
    "refresh_mode": (str, "a string"),
    "refreshed_tenants": (int, "an integer"),
    "list_only_tenants": (int, "an integer"),
    "shard": (str, "a string"),
    "converged": (dict, "an object"),
    "prevent_destroy": (dict, "an object"),
    "mode": (str, "a string"),
}

#: Object-valued entries whose members must be of one JSON type.
_MEMBERS: dict[str, tuple[type, str]] = {
    "tenants": (dict, "dict"),
    "observed": (list, "list"),
    "converged": (str, "str"),
    "prevent_destroy": (bool, "bool"),
}


def _check_kinds(meta: Mapping[str, Any]) -> None:
    for name, (kind, expected) in _KINDS.items():
        value = meta.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise PlanFileError(f"plan file: meta.{name}: expected {expected}")
    for section, (kind, expected) in _MEMBERS.items():
        members: dict[str, Any] = dict(meta.get(section) or {})
        for key, member in members.items():
            _check_member(f"meta.{section}.{key}", member, kind, expected)


def _check_member(where: str, value: Any, kind: type, expected: str) -> None:
    if not isinstance(value, kind):
        raise PlanFileError(f"plan file: {where}: expected {expected}")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise PlanFileError(f"plan file: {where}: expected strings")
