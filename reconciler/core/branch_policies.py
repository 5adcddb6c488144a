"""What a tier says about the branches neon-fleet makes on request: checkpoints and previews.

``fleet checkpoint`` and ``fleet preview`` create, keep and collect branches the manifests do not
list one by one; a tier's ``checkpoints`` and ``previews`` blocks set their retention and
defaults. ``reconciler.core.model.TierSpec`` holds them. Pure and frozen, like the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckpointPolicy:
    """A tier's ``checkpoints`` block: retention (``keep_last``, ``max_age``) and schedule."""

    keep_last: int | None = None
    max_age_seconds: int | None = None
    every_seconds: int | None = None


#: A preview lives this long unless its tier or ``--ttl`` says otherwise.
DEFAULT_PREVIEW_TTL_SECONDS = 2 * 3600
#: A preview's compute suspends after this long without activity unless its tier says otherwise
#: (short, so an idle preview costs little: agent-platforms guidance on preview computes).
DEFAULT_PREVIEW_SUSPEND_SECONDS = 300


@dataclass(frozen=True)
class PreviewPolicy:
    """A tier's ``previews`` block: defaults of ``fleet preview create`` and ``gc``."""

    ttl_seconds: int = DEFAULT_PREVIEW_TTL_SECONDS
    suspend_timeout_seconds: int = DEFAULT_PREVIEW_SUSPEND_SECONDS
    #: ``gc`` deletes previews idle this long; None: only expired previews are collected.
    idle_after_seconds: int | None = None
    #: ``autoscaling_limit_min_cu``/``max_cu`` of the preview's compute (absent: Neon's default).
    compute: Mapping[str, float] = field(default_factory=dict)
