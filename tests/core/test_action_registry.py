"""Every plan action is declared once per layer, and the plan file format did not move.

The registries (payload types and order in core, handlers in apply, styles in render) are checked
at import time; these tests pin that check, the schema's list of actions, and one example
payload per action through the codec, the schema, the renderer's label and the drift items.
Adding an action fails ``test_every_action_has_an_example`` until its example is added here.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.handlers import HANDLERS
from reconciler.core.drift_items import derive_items
from reconciler.core.model import DesiredFleet, FleetConfig, LedgerView, LiveFleet
from reconciler.core.plan import Action, Plan, Step
from reconciler.core.plan_codec import plan_from_text, plan_to_dict, seal_of
from reconciler.core.plan_payloads import (
    ACTION_ORDER,
    ALWAYS_COUNTED,
    PAYLOAD_TYPES,
    AdoptProject,
    CreateApiKey,
    CreateBranch,
    CreateDatabase,
    CreateEndpoint,
    CreateProject,
    CreateRole,
    DeleteBranch,
    DeleteDatabase,
    DeleteProject,
    DeleteRole,
    DeliverConnectionSecret,
    DisableAuth,
    EnableAuth,
    Payload,
    ResetRolePassword,
    RevokeApiKey,
    TransferProjects,
    UpdateBranch,
    UpdateDatabase,
    UpdateEndpoint,
    UpdateProject,
    check_complete,
    payload_from_json,
)
from reconciler.errors import PlanFileError
from reconciler.render.common import STYLES, step_label
from reconciler.render.json import SCHEMA_PATH, render_json, validate_plan_dict

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"

#: One payload per action, with every optional field set somewhere.
EXAMPLES: dict[Action, Payload] = {
    Action.CREATE_PROJECT: CreateProject(
        "t-a", "org-1", "aws-us-east-2", 17, {"compute_time_seconds": 1}, {}, 86400, True
    ),
    Action.ADOPT_PROJECT: AdoptProject("p-1", "t-a", "org-1", {"id": "p-1"}, "old-tenant"),
    Action.UPDATE_PROJECT: UpdateProject("p-1", {"name": "x"}, {"name": "t-a"}),
    Action.UPDATE_ENDPOINT: UpdateEndpoint(
        "ep-1", "br-1", {"suspend_timeout_seconds": 0}, {"suspend_timeout_seconds": 300}
    ),
    Action.TRANSFER_PROJECTS: TransferProjects("org-1", "org-2", ("p-1", "p-2"), ("a", "b")),
    Action.CREATE_BRANCH: CreateBranch("dev", "main", False, None, 3600),
    Action.UPDATE_BRANCH: UpdateBranch("dev", "br-2", {"protected": False}, {"protected": True}),
    Action.DELETE_BRANCH: DeleteBranch("br-3", "old", {"parent_id": "br-1"}),
    Action.CREATE_API_KEY: CreateApiKey("ci", "t-a:ci", "org-1", None),
    Action.REVOKE_API_KEY: RevokeApiKey(7, "t-a:ci", "org-1", "p-1"),
    Action.DELETE_PROJECT: DeleteProject("p-1", None, "org-1"),
    Action.CREATE_ROLE: CreateRole("app_owner"),
    Action.DELETE_ROLE: DeleteRole("neondb_owner"),
    Action.CREATE_DATABASE: CreateDatabase("app", "app_owner"),
    Action.UPDATE_DATABASE: UpdateDatabase("app", "neondb_owner", "app_owner"),
    Action.DELETE_DATABASE: DeleteDatabase("neondb", "neondb_owner"),
    Action.ENABLE_AUTH: EnableAuth("better_auth", "app"),
    Action.DISABLE_AUTH: DisableAuth("app"),
    Action.CREATE_ENDPOINT: CreateEndpoint("staging", 0.25, 1, None),
    Action.RESET_ROLE_PASSWORD: ResetRolePassword("app_owner", ("app-direct", "app-pooled")),
    Action.DELIVER_CONNECTION_SECRET: DeliverConnectionSecret(
        "app-pooled", "app_owner", "app", "main", True
    ),
}


def _step(payload: Payload) -> Step:
    tenant = None if isinstance(payload, TransferProjects) else "a"
    return Step(f"{tenant}/{payload.ACTION.value}", tenant, payload)


def test_every_action_has_an_example() -> None:
    check_complete(EXAMPLES, "EXAMPLES")
    assert all(payload.ACTION is action for action, payload in EXAMPLES.items())


@pytest.mark.parametrize(
    ("registry", "name"),
    [(PAYLOAD_TYPES, "payload types"), (ACTION_ORDER, "order"), (HANDLERS, "apply handlers")],
)
def test_each_layer_registers_every_action(registry: dict[Action, Any], name: str) -> None:
    check_complete(registry, name)
    check_complete(STYLES, "render styles")


def test_an_incomplete_registry_is_refused_naming_the_missing_action() -> None:
    partial: dict[Action, object] = {a: None for a in Action if a is not Action.DELETE_PROJECT}
    with pytest.raises(TypeError, match=r"missing \['delete_project'\]"):
        check_complete(partial, "partial")


@pytest.mark.parametrize("action", list(Action))
def test_a_payload_reads_back_from_its_json(action: Action) -> None:
    payload = EXAMPLES[action]
    assert payload_from_json(action, payload.before_json(), payload.after_json()) == payload


@pytest.mark.parametrize("action", list(Action))
def test_a_payload_is_labelled_and_explained(action: Action) -> None:
    step = _step(EXAMPLES[action])
    assert step_label(step)
    fleet = FleetConfig(name="f", orgs={}, personal_api_key_env=None, region="r", pg_version=17)
    empty = DesiredFleet(fleet=fleet, tiers={}, tenants={}, digest="")
    plan = Plan("t", "d", {}, (step,))
    items = derive_items(plan, empty, LiveFleet(projects={}), LedgerView(), NOW)
    assert all(item.tenant in (None, "a") for item in items)


def test_the_schema_lists_every_action_and_validates_every_example() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    step_schema = schema["$defs"]["step"]
    actions = {a.value for a in Action}
    assert set(step_schema["properties"]["action"]["enum"]) == actions
    # Plans count the first release's actions always and later ones only when present, so
    # plan files of fleets without databases, roles or secrets keep their bytes.
    always = {a.value for a in ALWAYS_COUNTED}
    assert set(schema["properties"]["summary"]["required"]) == always | {"blockers", "total"}
    assert set(schema["properties"]["summary"]["properties"]) == actions | {"blockers", "total"}
    ruled = {rule["if"]["properties"]["action"]["const"] for rule in step_schema["allOf"]}
    assert ruled == actions
    plan = Plan("t", "d", {}, tuple(_step(p) for p in EXAMPLES.values()))
    validate_plan_dict(plan_to_dict(plan))


def test_a_payload_missing_a_field_names_it() -> None:
    after = dict(EXAMPLES[Action.CREATE_API_KEY].after_json() or {})
    del after["key_name"]
    with pytest.raises(PlanFileError, match=r"steps\[0\]\.after\.key_name: missing"):
        payload_from_json(Action.CREATE_API_KEY, None, after, "steps[0]")


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.plan.json")), ids=lambda p: p.name)
def test_plan_files_written_before_the_typed_payloads_read_back_byte_for_byte(path: Path) -> None:
    """The golden files were written by the code before payloads and contracts were typed."""
    text = path.read_text(encoding="utf-8")
    assert render_json(plan_from_text(text)) == text


def test_an_unknown_format_version_is_refused_naming_it() -> None:
    document = json.loads((GOLDEN / "tier_upgrade.plan.json").read_text(encoding="utf-8"))
    future = copy.deepcopy(document)
    future["format_version"] = 2
    future["seal"] = seal_of(future)
    with pytest.raises(PlanFileError, match=r"format_version 2 is not supported.*plan again"):
        plan_from_text(json.dumps(future))


def test_an_unknown_meta_field_is_refused_naming_it() -> None:
    document = json.loads((GOLDEN / "tier_upgrade.plan.json").read_text(encoding="utf-8"))
    document["meta"]["surprise"] = 1
    document["seal"] = seal_of(document)
    with pytest.raises(PlanFileError, match=r"meta\.surprise: not a field"):
        plan_from_text(json.dumps(document))


def test_a_plan_counts_later_actions_only_when_it_has_them() -> None:
    empty = Plan("t", "d", {}, ())
    assert list(empty.summary) == [a.value for a in ALWAYS_COUNTED] + ["blockers", "total"]
    with_db = Plan("t", "d", {}, (_step(EXAMPLES[Action.CREATE_DATABASE]),))
    assert with_db.summary["create_database"] == 1 and "create_role" not in with_db.summary
    assert list(with_db.summary)[-3:] == ["create_database", "blockers", "total"]


@pytest.mark.parametrize(
    ("action", "side", "name", "bad"),
    [
        (Action.CREATE_PROJECT, "after", "history_retention_seconds", "a day"),
        (Action.CREATE_BRANCH, "after", "expires_in_seconds", "soon"),
        (Action.ADOPT_PROJECT, "after", "handover_from", 7),
    ],
)
def test_an_optional_field_of_the_wrong_type_is_named(
    action: Action, side: str, name: str, bad: object
) -> None:
    payload = EXAMPLES[action]
    before, after = payload.before_json(), dict(payload.after_json() or {})
    after[name] = bad
    with pytest.raises(PlanFileError, match=rf"steps\[3\]\.{side}\.{name}: expected"):
        payload_from_json(action, before, after, "steps[3]")
