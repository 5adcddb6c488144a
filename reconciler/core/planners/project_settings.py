"""Planning a matched project's settings: ``update_project`` and ``update_endpoint``.

The update rules of ``planners.project`` (see its docstring): ``update_project`` compares name,
managed quota keys, managed compute defaults, history retention and HIPAA, and its ``after``
carries the FULL merged quota and compute objects (Neon's PATCH wants whole objects) while
``changes`` lists only the differing fields; ``update_endpoint`` is one step per observed compute
whose managed values differ. Steps of a tenant whose project moves org wait for the transfer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.context import is_ignored
from reconciler.core.diff import field_changes
from reconciler.core.model import COMPUTE_KEYS, DesiredTenant, LiveProject, Sourced
from reconciler.core.plan import Action, FieldChange, Step
from reconciler.core.plan_payloads import UpdateEndpoint, UpdateProject
from reconciler.core.planners.tenant_outcome import TRANSFER_PLACEHOLDER, TenantOutcome, step_id
from reconciler.core.views import endpoint_view

_RESTART_NOTE = "changing autoscaling limits or suspend timeout restarts the compute"


def settings_origins(tenant: DesiredTenant) -> dict[str, str]:
    """Where each project setting of ``tenant`` comes from (a plan change's ``origin``)."""
    origins = {
        "name": "fleet project_name",
        "org_id": f"tier {tenant.tier}",
        "region_id": tenant.region.origin,
        "pg_version": tenant.pg_version.origin,
    }
    origins.update({f"quota.{k}": v.origin for k, v in tenant.quota.items()})
    origins.update({f"default_endpoint_settings.{k}": v.origin for k, v in tenant.compute.items()})
    if tenant.history_retention_seconds is not None:
        origins["history_retention_seconds"] = tenant.history_retention_seconds.origin
    if tenant.hipaa is not None:
        origins["hipaa"] = f"tenant {tenant.name}"
    return origins


def _deps(base: str | None, transfer: bool) -> tuple[str, ...]:
    deps = (base,) if base else ()
    return (*deps, TRANSFER_PLACEHOLDER) if transfer else deps


def plan_update_project(
    tenant: DesiredTenant, project: LiveProject, base: str | None, out: TenantOutcome
) -> None:
    """``update_project`` for the settings of ``project`` that differ from ``tenant``'s."""
    ignore = tenant.lifecycle.ignore_changes
    live_quota, quota = _merged_settings(project.quota, tenant.quota, "quota", ignore)
    live_compute, compute = _merged_settings(
        project.default_endpoint_settings, tenant.compute, "compute", ignore
    )
    before = {
        "name": project.name,
        "quota": live_quota,
        "default_endpoint_settings": live_compute,
        "history_retention_seconds": project.history_retention_seconds,
    }
    after = {
        # ``project_name`` is the manifest path (IGNORABLE_PATHS); fleet import writes it for
        # projects bound by id whose names do not fit the template.
        "name": project.name if is_ignored("project_name", ignore) else tenant.project_name,
        "quota": quota if tenant.quota else live_quota,
        "default_endpoint_settings": compute if tenant.compute else live_compute,
        "history_retention_seconds": project.history_retention_seconds,
    }
    hrs = tenant.history_retention_seconds
    if hrs is not None and not is_ignored("history_retention_seconds", ignore):
        after["history_retention_seconds"] = hrs.value
    changes = field_changes(before, after, settings_origins(tenant))
    wants_hipaa = tenant.hipaa is not None and not is_ignored("hipaa", ignore)
    if wants_hipaa and tenant.hipaa != project.hipaa:
        if project.hipaa:
            out.blockers.append(
                f"HIPAA is enabled on project {project.id} and Neon cannot turn it off; set "
                "hipaa: true, or add hipaa to lifecycle.ignore_changes"
            )
            return
        before["hipaa"], after["hipaa"] = False, True
        changes += (FieldChange("hipaa", False, True, f"tenant {tenant.name}"),)
    if not changes:
        return
    touched = sorted({c.path.split(".", 1)[0] for c in changes})
    out.steps.append(
        Step(
            id=step_id(tenant.name, Action.UPDATE_PROJECT),
            tenant=tenant.name,
            payload=UpdateProject(
                project_id=project.id,
                old={k: before[k] for k in touched},
                new={k: after[k] for k in touched},
            ),
            depends_on=_deps(base, out.transfer is not None),
            reason=_update_reason(touched, out.transfer is not None),
            changes=changes,
        )
    )


def _merged_settings(
    live: Mapping[str, Any] | None,
    desired: Mapping[str, Sourced[Any]],
    path: str,
    ignore: Sequence[str],
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the live settings, the live settings with the desired ones not ignored laid over)."""
    live_copy = dict(live) if live is not None else None
    merged = dict(live_copy or {})
    merged.update({k: v.value for k, v in desired.items() if not is_ignored(f"{path}.{k}", ignore)})
    return live_copy, merged


def _update_reason(touched: list[str], transferring: bool) -> str:
    what = ", ".join(touched)
    if "hipaa" in touched:
        return (
            f"{what} differ from the manifests; enabling HIPAA cannot be undone and restarts "
            "every compute of the project"
        )
    if transferring:
        return f"the tier moved to another org: after the transfer, set {what} of the new tier"
    return f"{what} {'differs' if len(touched) == 1 else 'differ'} from the manifests"


def plan_endpoints(
    tenant: DesiredTenant,
    project: LiveProject,
    base: str | None,
    runtime_branches: Mapping[str, frozenset[str]],
    out: TenantOutcome,
) -> None:
    """``update_endpoint`` for each observed compute whose managed settings differ."""
    ignore = tenant.lifecycle.ignore_changes
    wanted = {
        k: v.value
        for k, v in tenant.compute.items()
        if k in COMPUTE_KEYS and not is_ignored(f"compute.{k}", ignore)
    }
    if not wanted:
        return
    if project.endpoints is None:
        out.warnings.append(
            f"{tenant.name}: endpoints were not observed; only default_endpoint_settings "
            "are compared, existing computes keep their settings"
        )
        return
    origins = {k: v.origin for k, v in tenant.compute.items()}
    # A declared branch with its own ``compute`` is planned by the access planner; the computes
    # of previews and promotion dev branches keep what ``fleet preview``/``promote`` gave them.
    own = {s.name for s in tenant.branches if s.compute is not None}
    own |= runtime_branches.get(tenant.name, frozenset())
    skip = {b.id for b in project.branches or () if b.name in own}
    for endpoint in sorted(project.endpoints, key=lambda e: e.id):
        if endpoint.branch_id in skip:
            continue
        live_view = endpoint_view(endpoint)
        before = {k: live_view[k] for k in wanted}
        changes = field_changes(before, wanted, origins)
        if not changes:
            continue
        out.steps.append(
            Step(
                id=step_id(tenant.name, Action.UPDATE_ENDPOINT, endpoint.id),
                tenant=tenant.name,
                payload=UpdateEndpoint(endpoint.id, endpoint.branch_id, old=before, new=wanted),
                depends_on=_deps(base, out.transfer is not None),
                reason=f"compute settings differ from the manifests; {_RESTART_NOTE}",
                changes=changes,
            )
        )
