"""Apply-lock building blocks: polling with a timeout, a file lock, and an in-process lock.

The SQLite ledger locks ``<db path>.lock`` with ``fcntl.flock``. The kernel drops a flock when
the file descriptor closes, which includes the holder being SIGKILLed, so a crashed apply never
leaves the fleet locked. The file's content ({holder, since, pid} as JSON) only feeds the
message of the apply that was refused; it is never trusted to decide who holds the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reconciler.errors import LedgerError, LockHeldError

#: How often a waiting apply retries the lock.
POLL_INTERVAL = 0.05
#: What the message says when the holder has not written its description yet.
UNKNOWN_HOLDER = ("an unknown holder (it is just taking the lock)", "just now")


@dataclass(frozen=True)
class Waiting:
    """How to wait for a lock: ``timeout`` seconds, with injectable time functions."""

    timeout: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def poll(
    try_acquire: Callable[[], bool], read_holder: Callable[[], tuple[str, str]], waiting: Waiting
) -> None:
    """Call ``try_acquire`` until it succeeds or the timeout passes, then raise ``LockHeldError``.

    ``read_holder`` returns (holder, since) of the current holder for the message.
    """
    deadline = waiting.monotonic() + max(waiting.timeout, 0.0)
    while not try_acquire():
        remaining = deadline - waiting.monotonic()
        if remaining <= 0:
            raise LockHeldError(*read_holder())
        waiting.sleep(min(POLL_INTERVAL, remaining))


def describe_since(moment: datetime) -> str:
    """A lock's ``since`` as shown to users: ISO 8601 UTC to the second."""
    return moment.isoformat(timespec="seconds")


@contextmanager
def file_lock(
    path: Path, holder: str, clock: Callable[[], datetime], waiting: Waiting
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block; see the module docstring."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(f"cannot open the ledger lock file {path}: {exc}") from exc
    try:
        poll(lambda: _try_flock(fd), lambda: _read_holder(fd), waiting)
        payload = {"holder": holder, "since": describe_since(clock()), "pid": os.getpid()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(payload).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise LedgerError(f"cannot lock the ledger lock file: {exc}") from exc
    return True


def _read_holder(fd: int) -> tuple[str, str]:
    try:
        info = json.loads(os.pread(fd, 64 * 1024, 0).decode())
        return f"{info['holder']} (pid {info['pid']})", str(info["since"])
    except (OSError, ValueError, KeyError, TypeError):
        # The holder has the flock but has not written its description yet.
        return UNKNOWN_HOLDER


class ProcessLocalLock:
    """The apply lock of an in-memory ledger, which no other process can open anyway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder = UNKNOWN_HOLDER

    @contextmanager
    def hold(self, holder: str, clock: Callable[[], datetime], waiting: Waiting) -> Iterator[None]:
        """Hold the lock for the block, polling as ``waiting`` says."""
        poll(lambda: self._lock.acquire(blocking=False), lambda: self._holder, waiting)
        self._holder = (holder, describe_since(clock()))
        try:
            yield
        finally:
            self._holder = UNKNOWN_HOLDER
            self._lock.release()
