"""The apply layer's action registry: which handler carries out each plan action.

A handler takes the run's ``ApplyContext`` and one step, performs it against Neon (reading the
step's typed payload with ``context.payload_of``), records the outcome in the ledger and returns
the ids it touched (written to the run's step record). Each steps module declares its own
``HANDLERS`` next to its handlers; this module merges them and refuses, at import time, a
registry that misses an action or registers one twice (see CONTRIBUTING.md).
"""

from __future__ import annotations

from reconciler.apply import (
    access_steps,
    child_steps,
    project_steps,
    secret_steps,
    transfer_steps,
)
from reconciler.apply.context import Handler
from reconciler.core.plan import Action
from reconciler.core.plan_payloads import check_complete

#: Every steps module's registry fragment.
FRAGMENTS = (
    project_steps.HANDLERS,
    child_steps.HANDLERS,
    transfer_steps.HANDLERS,
    access_steps.HANDLERS,
    secret_steps.HANDLERS,
)


def _merged() -> dict[Action, Handler]:
    merged: dict[Action, Handler] = {}
    for fragment in FRAGMENTS:
        twice = sorted(a.value for a in fragment if a in merged)
        if twice:
            raise TypeError(f"apply.handlers: {twice} registered twice")
        merged.update(fragment)
    return merged


HANDLERS: dict[Action, Handler] = _merged()
check_complete(HANDLERS, "apply.handlers.HANDLERS")
