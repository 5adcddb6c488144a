"""Per-shard apply locks on the PostgreSQL ledger (``fleet apply --shard i/n``).

A whole-fleet apply holds the ledger's apply lock exclusively (``postgres.APPLY_LOCK_SPACE`` and
the schema's OID). A shard's apply holds that same lock *shared*, so shards run side by side
while a whole-fleet apply excludes them all (and waits for them), plus an exclusive lock of its
own shard, so two runners of one shard never overlap. The shard's key is a 64-bit advisory key
(``pg_advisory_lock(bigint)``, a key space apart from the two-part keys) derived from the
schema's OID and ``i/n``.

Shards of *different* counts overlap (shard 1/4 is part of shard 1/2), so a shard refuses to
run while a live shard of another count holds its lock: after taking its locks it looks for
one (the ``apply_lock`` rows joined with ``pg_locks``, so dead holders never count) and backs
off if it finds one. Two such runners starting at the same instant may both back off; neither
ever runs beside the other. Every lock is a session lock, released by PostgreSQL when the
session ends, including when the runner is killed.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import Any

import psycopg

from reconciler.core.sharding import Shard

#: The whole-fleet apply lock's first key half (``postgres.APPLY_LOCK_SPACE``, repeated here
#: because postgres.py imports this module).
FLEET_LOCK_SPACE = 0x4E460002


def shard_key(fleet_key: int, shard: Shard) -> int:
    """The shard's own advisory key (a signed bigint) for the ledger with ``fleet_key``."""
    text = f"neon-fleet apply shard {fleet_key} {shard.describe()}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big", signed=True)


def lock_name(shard: Shard) -> str:
    """The shard's row in ``apply_lock`` (the whole fleet's row is ``apply``)."""
    return f"shard {shard.describe()}"


def try_shard_lock(
    session: psycopg.Connection[Any], fleet_key: int, shard: Shard, holder: str, now: datetime
) -> bool:
    """Take the fleet lock shared and the shard's lock; False (holding neither) if refused."""
    with session.transaction():
        shared = session.execute(
            "SELECT pg_try_advisory_lock_shared(%s, %s)", (FLEET_LOCK_SPACE, fleet_key)
        ).fetchone()
        if shared is None or not shared[0]:
            return False
        own = session.execute(
            "SELECT pg_try_advisory_lock(%s)", (shard_key(fleet_key, shard),)
        ).fetchone()
        if own is None or not own[0]:
            session.execute(
                "SELECT pg_advisory_unlock_shared(%s, %s)", (FLEET_LOCK_SPACE, fleet_key)
            )
            return False
        session.execute(
            "INSERT INTO apply_lock (lock_name, holder, since, client_pid, backend_pid)"
            " VALUES (%s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (lock_name) DO"
            " UPDATE SET holder = excluded.holder, since = excluded.since,"
            " client_pid = excluded.client_pid, backend_pid = excluded.backend_pid",
            (lock_name(shard), holder, now, os.getpid()),
        )
    # Committed before looking, so of two runners with different counts at least one sees
    # the other.
    if _other_count_running(session, fleet_key, shard):
        session.execute("DELETE FROM apply_lock WHERE backend_pid = pg_backend_pid()")
        unlock_shard(session, fleet_key, shard)
        return False
    return True


def unlock_shard(session: psycopg.Connection[Any], fleet_key: int, shard: Shard) -> None:
    """Release what ``try_shard_lock`` took."""
    session.execute("SELECT pg_advisory_unlock(%s)", (shard_key(fleet_key, shard),))
    session.execute("SELECT pg_advisory_unlock_shared(%s, %s)", (FLEET_LOCK_SPACE, fleet_key))


def _other_count_running(session: psycopg.Connection[Any], fleet_key: int, shard: Shard) -> bool:
    row = session.execute(
        "SELECT count(*) FROM apply_lock a JOIN pg_locks l ON l.pid = a.backend_pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
        " AND l.classid::bigint = %s AND l.objid::bigint = %s"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND a.lock_name LIKE 'shard %%' AND a.lock_name NOT LIKE %s",
        (FLEET_LOCK_SPACE, fleet_key & 0xFFFFFFFF, f"shard %/{shard.count}"),
    ).fetchone()
    return bool(row and row[0])
