"""Shared rate budgets: one token bucket per Neon account in the ledger (``rate_leases``).

Runners applying shards of one fleet at once (``fleet apply --shard i/n``) lease their
requests' tokens from these rows (``reconciler.ledger.leases``), so together they never send an
account more than its budget. The refill is computed from the database's clock, never a
runner's. Only PostgreSQL ledgers are shared by runners (``--shard`` needs PostgreSQL); SQLite
gets the same table so both schemas stay alike, and never uses it.
"""

SQLITE = (
    """CREATE TABLE rate_leases (
        account TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        updated_at TEXT NOT NULL
    )""",
)

POSTGRES = (
    """CREATE TABLE rate_leases (
        account TEXT PRIMARY KEY,
        tokens DOUBLE PRECISION NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
)
