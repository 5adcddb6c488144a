"""Migration 8 is reserved for the ``preview`` branch's schema change (the previews table).

Migration numbers must run 1, 2, 3 … without a gap (``check_numbering``); promotions are
migration 9 by agreement. Until the branches meet, this module holds number 8 so that a ledger
can be migrated at all; when ``preview``'s own ``v0008_*.py`` arrives, delete this file (the
duplicate number makes ``discover`` refuse to start until that is done).
"""

SQLITE: tuple[str, ...] = ()

POSTGRES: tuple[str, ...] = ()
