"""The restore hook: a command run with the checkpoint record as JSON on stdin.

It runs before a restore touches Neon or the ledger; its failure stops the restore. A deploy
hook may need the caller's own tokens, so it inherits the environment, but never the variables
that hold the Fleet's Neon keys (org keys and the personal key): a hook has no business with them.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler import errors
from reconciler.core.model import FleetConfig
from reconciler.ledger.checkpoints import Checkpoint

HOOK_TIMEOUT_SECONDS = 300.0


def key_variables(fleet: FleetConfig) -> list[str]:
    """The environment variables holding the Fleet's Neon keys (org keys, the personal key)."""
    names = [org.api_key_env for org in fleet.orgs.values()]
    return names + ([fleet.personal_api_key_env] if fleet.personal_api_key_env else [])


def hook_environment(environ: Mapping[str, str], key_variables: Iterable[str]) -> dict[str, str]:
    """``environ`` without the variables that hold the Fleet's Neon API keys."""
    withheld = set(key_variables)
    return {name: value for name, value in environ.items() if name not in withheld}


def run_hook(
    command: str, record: Checkpoint, *, key_variables: Iterable[str] = ()
) -> dict[str, Any]:
    """Run the restore hook with the record as JSON on stdin; raise if it fails.

    Its failure stops the restore before Neon or the ledger is touched. ``key_variables`` name
    the environment variables holding the Fleet's Neon keys, which the hook does not see.
    """
    return run_json_hook(
        command, record.to_json(),
        what="the restore hook",
        unchanged=f"checkpoint #{record.id} was not restored and nothing was changed",
        key_variables=key_variables,
    )  # fmt: skip


def run_json_hook(
    command: str,
    payload: Mapping[str, Any],
    *,
    what: str,
    unchanged: str,
    key_variables: Iterable[str] = (),
) -> dict[str, Any]:
    """Run ``command`` with ``payload`` as JSON on stdin; raise ``UsageError`` if it fails.

    ``what`` names the hook in messages, ``unchanged`` says what its failure left untouched.
    """
    argv = shlex.split(command)
    if not argv:
        raise errors.UsageError(f"{what} command is empty")
    try:
        done = subprocess.run(
            argv,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT_SECONDS,
            check=False,
            env=hook_environment(os.environ, key_variables),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise errors.UsageError(f"{what} {argv[0]!r} could not run ({exc}); {unchanged}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        raise errors.UsageError(
            f"{what} {argv[0]!r} failed with exit code {done.returncode}"
            + (f" ({tail[0][:200]})" if tail[0] else "")
            + f"; {unchanged}"
        )
    return {"exit_code": 0, "output": done.stdout.strip()[-500:]}
