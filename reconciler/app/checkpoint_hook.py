"""The restore hook: a command run with the checkpoint record as JSON on stdin.

It runs before a restore touches Neon or the ledger; its failure stops the restore.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from reconciler import errors
from reconciler.ledger.checkpoints import Checkpoint

HOOK_TIMEOUT_SECONDS = 300.0


def run_hook(command: str, record: Checkpoint) -> dict[str, Any]:
    """Run the restore hook with the record as JSON on stdin; raise if it fails.

    Its failure stops the restore before Neon or the ledger is touched.
    """
    argv = shlex.split(command)
    if not argv:
        raise errors.UsageError("the restore hook command is empty")
    try:
        done = subprocess.run(
            argv,
            input=json.dumps(record.to_json()),
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise errors.UsageError(
            f"the restore hook {argv[0]!r} could not run ({exc}); nothing was restored"
        ) from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise errors.UsageError(
            f"the restore hook {argv[0]!r} failed with exit code {done.returncode}"
            + (f" ({tail[0][:200]})" if tail[0] else "")
            + f"; checkpoint #{record.id} was not restored and nothing was changed"
        )
    return {"exit_code": 0, "output": done.stdout.strip()[-500:]}
