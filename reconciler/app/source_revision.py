"""Which source revision a checkpoint records: the one given, else the manifests' git HEAD.

``fleet checkpoint create`` and ``fleet checkpoint schedule`` share this rule, and the message
that refuses a checkpoint without one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler import errors

#: Why a checkpoint without a source revision is refused (``create`` and ``schedule`` alike).
MISSING_SOURCE_REV = (
    "--source-rev is required: the manifests are not in a git repository with a commit"
)


def git_revision(path: Path) -> str | None:
    """The current commit of the git repository holding ``path``, or None without one."""
    where = path if path.is_dir() else path.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    revision = done.stdout.strip()
    return revision if done.returncode == 0 and revision else None


def source_revision(given: str | None, manifests: Path) -> str:
    """The source revision a checkpoint records: ``given``, else the manifests' git HEAD.

    ``create`` and ``schedule`` share this rule, so neither records a checkpoint that cannot
    say which source it belongs with: without both, ``UsageError`` (before any API call).
    """
    revision = (given or "").strip() or git_revision(manifests)
    if not revision:
        raise errors.UsageError(MISSING_SOURCE_REV)
    return revision
