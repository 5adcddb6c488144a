"""How one step of an apply ended: one status enum for the executor, ledger and renderers.

The executor reports it, the ledger stores its value as text, and the summaries count it; one
enum keeps the three from drifting apart (a fourth status added in one place only would be
stored, or counted, as nothing).
"""

from __future__ import annotations

import enum


class StepStatus(enum.StrEnum):
    """How one step (one work item) ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
