"""The apply lock and crash safety, against every backend, with real separate processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.errors import LockHeldError
from reconciler.ledger import Ledger

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker(*args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``tests.ledger.worker`` in a new process; SIGKILL it on the way out."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.worker", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def test_a_second_apply_is_refused_naming_holder_and_since(
    ledger: Ledger, open_at: Callable[..., Ledger]
) -> None:
    other = open_at()  # another connection, as a second process would have
    with ledger.apply_lock("alice@ci-1 (fleet apply)"):
        started = time.monotonic()
        with pytest.raises(LockHeldError) as caught, other.apply_lock("bob@laptop"):
            pass
        assert time.monotonic() - started < 1.0  # at once, not after a wait
    assert caught.value.holder.startswith("alice@ci-1 (fleet apply)")
    assert caught.value.since == "2026-03-01T12:00:00+00:00"  # the fake clock, to the second
    assert "alice@ci-1 (fleet apply)" in str(caught.value)
    assert "since 2026-03-01T12:00:00+00:00" in str(caught.value)
    with other.apply_lock("bob@laptop"):  # released on leaving the block
        pass


def test_the_lock_is_exclusive_within_one_ledger_object_too(ledger: Ledger) -> None:
    with ledger.apply_lock("first"), pytest.raises(LockHeldError), ledger.apply_lock("second"):
        pass


def test_a_timeout_waits_for_the_holder_then_acquires(
    ledger: Ledger, open_at: Callable[..., Ledger]
) -> None:
    other = open_at()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with ledger.apply_lock("alice"):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
        with other.apply_lock("bob", timeout=5):
            waited = time.monotonic() - started
        assert 0.2 < waited < 4
    finally:
        release.set()
        holder.join()


def test_a_timeout_that_runs_out_raises(ledger: Ledger, open_at: Callable[..., Ledger]) -> None:
    other = open_at()
    with ledger.apply_lock("alice"):
        started = time.monotonic()
        with pytest.raises(LockHeldError, match="alice"), other.apply_lock("bob", timeout=0.3):
            pass
        assert 0.25 < time.monotonic() - started < 3


def test_the_lock_dies_with_a_killed_holder_process(
    ledger_url: str, open_at: Callable[..., Ledger]
) -> None:
    ledger = open_at()  # creates and migrates the store before the worker opens it
    with worker("hold-lock", ledger_url, "carol@batch-7") as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        expected = f"carol@batch-7 \\(pid {process.pid}\\)"
        with pytest.raises(LockHeldError, match=expected), ledger.apply_lock("me"):
            pass
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        # The OS (flock) or the server (session end) frees the lock; allow it a moment.
        with ledger.apply_lock("me", timeout=5):
            pass


def test_a_writer_killed_mid_stream_leaves_only_whole_records(
    ledger_url: str, open_at: Callable[..., Ledger]
) -> None:
    open_at().close()  # migrate first so the worker starts writing at once
    committed: list[str] = []
    with worker("write-loop", ledger_url) as process:
        assert process.stdout is not None
        while len(committed) < 40:
            committed.append(process.stdout.readline().strip())
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    view = open_at().view()
    assert set(committed) <= set(view.tenants)  # every acknowledged write survived
    for name, tenant in view.tenants.items():  # and no write is half-done
        number = int(name.split("-")[1])
        assert tenant.project_id == f"proj-{number}"
        assert tenant.branch_ids == {f"b{i}": f"br-{number}-{i}" for i in range(3)}
