"""Migration 7 is reserved for the ``handoff`` branch's schema change (connection secrets).

Migration numbers must run 1, 2, 3 … without a gap (``check_numbering``), and the previews
table is migration 8 by agreement. Until the two branches meet, this module holds number 7 so
that a ledger can be migrated at all; when ``handoff``'s own ``v0007_*.py`` arrives, delete this
file (the duplicate number makes ``discover`` refuse to start until that is done).
"""

SQLITE: tuple[str, ...] = ()

POSTGRES: tuple[str, ...] = ()
