"""A ledger URL in a PostgreSQL schema of its own, dropped afterwards (tests and benches).

The test server is shared by concurrent runs: each gets a uniquely named schema and drops only
that one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql


@contextmanager
def private_schema_url(dsn: str, prefix: str) -> Iterator[str]:
    """``dsn`` with ``schema=<prefix>_<random>``; the schema is dropped on leaving the block."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            connection.execute(drop)
