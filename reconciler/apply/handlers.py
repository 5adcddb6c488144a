"""The apply layer's action registry: which handler carries out each plan action.

A handler takes the run's ``ApplyContext`` and one step, performs it against Neon (reading the
step's typed payload with ``payload_of``), records the outcome in the ledger and returns the
ids it touched (written to the run's step record). Adding an action adds one entry here; the
import-time check refuses a registry that misses one (see CONTRIBUTING.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.apply import child_steps, project_steps, transfer_steps
from reconciler.apply.context import ApplyContext
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import check_complete

Handler = Callable[[ApplyContext, Step], Mapping[str, Any]]

HANDLERS: dict[Action, Handler] = {
    Action.CREATE_PROJECT: project_steps.create_project,
    Action.ADOPT_PROJECT: project_steps.adopt_project,
    Action.UPDATE_PROJECT: project_steps.update_project,
    Action.UPDATE_ENDPOINT: project_steps.update_endpoint,
    Action.DELETE_PROJECT: project_steps.delete_project,
    Action.TRANSFER_PROJECTS: transfer_steps.transfer_projects,
    Action.CREATE_BRANCH: child_steps.create_branch,
    Action.UPDATE_BRANCH: child_steps.update_branch,
    Action.DELETE_BRANCH: child_steps.delete_branch,
    Action.CREATE_API_KEY: child_steps.create_api_key,
    Action.REVOKE_API_KEY: child_steps.revoke_api_key,
}

check_complete(HANDLERS, "apply.handlers.HANDLERS")
