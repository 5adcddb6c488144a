"""Planner options: everything ``build_plan`` needs besides the three states, as data.

The planner never reads a clock or the environment; the caller passes ``now`` (RFC 3339 UTC,
used for the age of ``<name> (old)`` branches and stamped as the plan's ``created_at``) and says
whether a personal API key for transfers is available.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to build a plan.

    ``targets`` restricts planning to the named tenants (desired or ledger-owned); empty means
    every tenant. ``transfer_key_available`` is False when the Fleet's ``personal_api_key_env``
    is unset or empty: transfers then become blockers instead of steps. ``refresh`` records
    whether ``live`` was freshly observed (False: it came from a cache); it is stored in
    ``Plan.contract.refresh`` so renderers and the applier can say so.
    """

    now: str
    tool_version: str
    targets: tuple[str, ...] = ()
    transfer_key_available: bool = True
    #: Why no usable transfer key exists, when the caller knows better than "not set" (e.g. the
    #: variable holds an org key, which Neon refuses for transfers). Used in the blocker text.
    transfer_key_problem: str = ""
    refresh: bool = True
