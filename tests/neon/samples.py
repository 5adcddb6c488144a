"""Spec-conformant sample payloads for the client's unit tests (checked by validate_response)."""

from __future__ import annotations

from typing import Any

T0 = "2025-01-16T21:01:59Z"
PID = "long-forest-06846227"
BID = "br-floral-wind-a5090hvr"
EID = "ep-jolly-frost-a57qv4wh"
OPID = "389d2336-3e9f-41b6-9042-5f06317b30d4"
ORG = "org-morning-bread-81040908"
SECRET_PASSWORD = "pw-SECRET-0001"
TOKEN = "napi_minted_token_SECRET_value_xyz"


def list_item(pid: str = PID, name: str = "tenant-a", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": pid,
        "platform_id": "aws",
        "region_id": "aws-us-east-2",
        "name": name,
        "provisioner": "k8s-neonvm",
        "pg_version": 17,
        "proxy_host": "us-east-2.aws.neon.tech",
        "branch_logical_size_limit": 512,
        "branch_logical_size_limit_bytes": 536870912,
        "store_passwords": True,
        "active_time": 0,
        "cpu_used_sec": 0,
        "creation_source": "console",
        "created_at": T0,
        "updated_at": T0,
        "owner_id": "92cdd2ee-a6d8-4647-868f-124531123b03",
        "org_id": ORG,
        "default_endpoint_settings": {
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 2,
            "suspend_timeout_seconds": 300,
        },
        "settings": {"quota": {"active_time_seconds": 3600, "compute_time_seconds": 0}},
    }
    item.update(extra)
    return item


def project(pid: str = PID, name: str = "tenant-a") -> dict[str, Any]:
    full = list_item(pid, name)
    del full["active_time"]
    full.update(
        {
            "history_retention_seconds": 86400,
            "consumption_period_start": "0001-01-01T00:00:00Z",
            "consumption_period_end": "0001-01-01T00:00:00Z",
            "active_time_seconds": 10,
            "compute_time_seconds": 5,
            "written_data_bytes": 100,
            "data_transfer_bytes": 7,
            "data_storage_bytes_hour": 0,
        }
    )
    full["settings"]["hipaa"] = True
    return full


def branch(bid: str = BID, name: str = "main", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": bid,
        "project_id": PID,
        "name": name,
        "current_state": "ready",
        "state_changed_at": T0,
        "creation_source": "console",
        "created_at": T0,
        "updated_at": T0,
        "default": name == "main",
        "protected": False,
        "cpu_used_sec": 0,
        "active_time_seconds": 0,
        "compute_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
    }
    data.update(extra)
    return data


def endpoint() -> dict[str, Any]:
    return {
        "host": f"{EID}.us-east-2.aws.neon.tech",
        "id": EID,
        "project_id": PID,
        "branch_id": BID,
        "region_id": "aws-us-east-2",
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 1,
        "type": "read_write",
        "current_state": "idle",
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": False,
        "passwordless_access": True,
        "creation_source": "console",
        "created_at": T0,
        "updated_at": T0,
        "settings": {},
        "proxy_host": "us-east-2.aws.neon.tech",
        "suspend_timeout_seconds": 0,
        "provisioner": "k8s-neonvm",
    }


def operation(status: str = "running", op_id: str = OPID) -> dict[str, Any]:
    return {
        "id": op_id,
        "project_id": PID,
        "branch_id": BID,
        "action": "create_timeline",
        "status": status,
        "failures_count": 0,
        "created_at": T0,
        "updated_at": T0,
        "total_duration_ms": 0,
    }


def role() -> dict[str, Any]:
    return {
        "branch_id": BID,
        "name": "neondb_owner",
        "password": SECRET_PASSWORD,
        "protected": False,
        "created_at": T0,
        "updated_at": T0,
    }


def database() -> dict[str, Any]:
    return {
        "id": 39724307,
        "branch_id": BID,
        "name": "neondb",
        "owner_name": "neondb_owner",
        "created_at": T0,
        "updated_at": T0,
    }


def connection_uri() -> dict[str, Any]:
    return {
        "connection_uri": f"postgresql://neondb_owner:{SECRET_PASSWORD}@{EID}.neon.tech/neondb",
        "connection_parameters": {
            "database": "neondb",
            "password": SECRET_PASSWORD,
            "role": "neondb_owner",
            "host": f"{EID}.neon.tech",
            "pooler_host": f"{EID}-pooler.neon.tech",
        },
    }


def api_key_listed(key_id: int = 11, project_id: str | None = PID) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": key_id,
        "name": "tenant-a-app",
        "created_at": T0,
        "created_by": {"id": "92cdd2ee-a6d8-4647-868f-124531123b03", "name": "x", "image": ""},
        "last_used_from_addr": "",
        "last_used_at": None,
    }
    if project_id:
        data["project_id"] = project_id
    return data


def api_key_created(key_id: int = 11, project_id: str | None = PID) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": key_id,
        "key": TOKEN,
        "name": "tenant-a-app",
        "created_at": T0,
        "created_by": "92cdd2ee-a6d8-4647-868f-124531123b03",
    }
    if project_id:
        data["project_id"] = project_id
    return data


def api_key_revoked(key_id: int = 11) -> dict[str, Any]:
    return {
        "id": key_id,
        "name": "tenant-a-app",
        "created_at": T0,
        "created_by": "92cdd2ee-a6d8-4647-868f-124531123b03",
        "last_used_from_addr": "",
        "last_used_at": None,
        "revoked": True,
        "project_id": PID,
    }


def organization(org_id: str = ORG) -> dict[str, Any]:
    return {
        "id": org_id,
        "name": "Free org",
        "handle": "free-org",
        "plan": "free_v3",
        "created_at": T0,
        "updated_at": T0,
        "managed_by": "console",
        "allow_hipaa_projects": False,
    }
