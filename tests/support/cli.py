"""Run the ``fleet`` CLI in-process or as a real subprocess, and capture what it printed."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli import main

#: Every subprocess result of the current test, for the e2e secret scan (tests/e2e/conftest.py).
RECORDED: list[Result] = []


@dataclass(frozen=True)
class Result:
    """Exit code and captured streams of one CLI run."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_in_process(args: Sequence[str]) -> Result:
    """``main(args)`` with stdout/stderr captured; the exit code comes from SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Result:
    """``python -m reconciler ARGS`` in a real process, as a user or a CI job runs it."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Result(done.returncode, done.stdout, done.stderr)
    RECORDED.append(result)
    return result
