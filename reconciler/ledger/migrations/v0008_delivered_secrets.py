"""Delivered secrets: a fingerprint of each connection secret and Neon Auth key set delivered.

Connection secrets (``DATABASE_URL`` and its parts) and Neon Auth keys go to the Fleet's secret
sink, never into the ledger. The ledger keeps, per (tenant, secret name), two sha256
fingerprints so it knows when to deliver again: ``shape`` over the secret's non-secret
description (project, branch, endpoint, host, role, database, pooled: what the planner can
observe) and ``payload`` over the whole delivered document (which changes with the password).
"""

SQLITE = (
    """CREATE TABLE delivered_secrets (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        shape TEXT NOT NULL,
        payload TEXT NOT NULL,
        delivered_at TEXT NOT NULL,
        PRIMARY KEY (tenant, name)
    )""",
)

POSTGRES = (
    """CREATE TABLE delivered_secrets (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        shape TEXT NOT NULL,
        payload TEXT NOT NULL,
        delivered_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant, name)
    )""",
)
